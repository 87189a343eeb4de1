"""Binding properties, proved on the implementation's own checks
(:mod:`impl.scheduler.arithmetic`: ``insufficient``, ``too_many_pods``, ``top_scoring_flags``).

- no overcommit is inductive: if a node's requested amounts are within allocatable and its pod
  count within ``allocatable.pods``, binding a pod that passed NodeResourcesFit keeps both;
- the selected node is optimal: every node host selection may choose has the highest total,
  and there is at least one.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from impl.scheduler.arithmetic import Arithmetic, insufficient, too_many_pods, top_scoring_flags
from proofs.catalog import Mutant, ProofCase
from proofs.scheduling.z3arithmetic import Z3, amount, first_failure
from proofs.z3adapter import And, ArithRef, BoolRef, Implies, Int, Not, Or, Verdict, check_valid

Check = Callable[[Arithmetic[ArithRef, BoolRef], ArithRef, ArithRef, ArithRef], BoolRef]


def insufficient_against_total(
    ar: Arithmetic[ArithRef, BoolRef], wanted: ArithRef, allocatable: ArithRef, requested: ArithRef
) -> BoolRef:
    """Mutant: compare the request with the whole allocatable, forgetting what is in use."""
    return insufficient(ar, wanted, allocatable, ar.multiply(requested, ar.constant(0)))


def _no_overcommit(check: Check, resources: int = 3) -> Verdict:
    assumptions: list[BoolRef] = []
    invariant_before: list[BoolRef] = []
    invariant_after: list[BoolRef] = []
    passes: list[BoolRef] = []
    for index in range(resources):
        allocatable, allocatable_ok = amount(f"allocatable_{index}")
        requested, requested_ok = amount(f"requested_{index}")
        wanted, wanted_ok = amount(f"wanted_{index}")
        assumptions += [allocatable_ok, requested_ok, wanted_ok]
        invariant_before.append(requested <= allocatable)
        passes.append(Not(check(Z3, wanted, allocatable, requested)))
        invariant_after.append(requested + wanted <= allocatable)
    pods, allowed = Int("pods"), Int("allowed_pods")
    assumptions += [pods >= 0, allowed >= 0]
    invariant_before.append(pods <= allowed)
    passes.append(Not(too_many_pods(Z3, pods, allowed)))
    invariant_after.append(pods + 1 <= allowed)
    claim = Implies(And(And(invariant_before), And(passes)), And(invariant_after))
    return check_valid(claim, assumptions=assumptions)


def _optimal(count: int, flags_of: Callable[[list[ArithRef]], list[BoolRef]]) -> Verdict:
    totals = [Int(f"total_{index}") for index in range(count)]
    flags = flags_of(totals)
    claims = [Or(flags)]
    for index, flag in enumerate(flags):
        claims.append(Implies(flag, And([totals[index] >= other for other in totals])))
    return check_valid(And(claims))


def _top_flags(totals: list[ArithRef]) -> list[BoolRef]:
    return top_scoring_flags(Z3, totals)


def first_is_best(totals: list[ArithRef]) -> list[BoolRef]:
    """Mutant: host selection that takes the first node's total as the best."""
    return [total == totals[0] for total in totals]


PROOFS: tuple[ProofCase, ...] = (
    ProofCase(
        name="scheduling.binding.no_overcommit",
        property_text="binding a pod that passed NodeResourcesFit keeps every resource and the "
        "pod count within allocatable (inductive)",
        method="inductive invariant",
        bound="3 resources (amounts 0..2^56), pod counts unbounded",
        check=lambda: _no_overcommit(insufficient),
        mutants=(
            Mutant(
                name="ignore-requested",
                description="check the request against allocatable, not what is left",
                check=lambda: _no_overcommit(insufficient_against_total),
            ),
        ),
    ),
    ProofCase(
        name="scheduling.binding.selected_is_optimal",
        property_text="every node in the top-scoring set has the highest total, and the set is "
        "not empty",
        method="exhaustive",
        bound="1..6 scored nodes, totals unbounded integers",
        check=lambda: first_failure([partial(_optimal, n, _top_flags) for n in range(1, 7)]),
        mutants=(
            Mutant(
                name="first-is-best",
                description="take the first node's total as the maximum",
                check=lambda: _optimal(3, first_is_best),
            ),
        ),
    ),
)
