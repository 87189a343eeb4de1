"""Rolling-update bounds, proved on the rollout arithmetic the Deployment controller runs
(:mod:`impl.controllers.rollout_math`, evaluated on z3 terms).

One sync of ``rolloutRolling`` (v1.35) is the transition: grow or shrink the new ReplicaSet
(``reconcileNewReplicaSet``), and if it did not change, shrink the old ones
(``reconcileOldReplicaSets``: unavailable replicas first, then down to the minimum available).
Its state is the new ReplicaSet and three old ones, each with a size and an available count at
most its size; a ReplicaSet shrinking from ``s`` to ``s'`` keeps ``min(available, s')``
available (the ReplicaSet controller deletes not-ready pods first). The expected bounds are
written from the Deployment docs, independently of the code: maxSurge is ``ceil(p * replicas /
100)`` for a percentage, maxUnavailable ``floor(p * replicas / 100)``, 1 when both come out 0,
and never more than replicas.

- ``deployment.rolling.max-surge``: if the ReplicaSets total at most ``replicas + maxSurge``,
  they still do after the sync;
- ``deployment.rolling.min-available``: if at least ``replicas - maxUnavailable`` pods are
  available, at least that many still are.

Both are inductive invariants, proved for each of the four int/percentage combinations. Bounds:
replicas 0..2^31-1, maxUnavailable 0..100 % or any int, maxSurge 0..2^20 % or any int (not both
0, as validation requires), three old ReplicaSets of any size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

from impl.controllers.arithmetic import Arithmetic, minimum
from impl.controllers.rollout_math import (
    cleanup_unhealthy,
    max_scaled_down,
    max_unavailable,
    new_replicas_rolling,
    resolve_fenceposts,
    scale_down_old,
)
from proofs.catalog import Mutant, ProofCase
from proofs.controllers.z3arithmetic import Z3
from proofs.z3adapter import And, ArithRef, BoolRef, If, Int, Not, Proved, Verdict, check_valid

OLD_REPLICA_SETS: Final = 3
INT32_MAX: Final = 2**31 - 1
SURGE_PERCENT_MAX: Final = 2**20


@dataclass(frozen=True)
class RolloutCode:
    """The functions one sync runs: the implementation's, or a mutant's."""

    fenceposts: Callable[..., tuple[Any, Any]] = resolve_fenceposts
    new_replicas: Callable[..., Any] = new_replicas_rolling
    cleanup: Callable[..., tuple[list[Any], Any]] = cleanup_unhealthy
    scale_down: Callable[..., tuple[list[Any], Any]] = scale_down_old
    counts_new_as_available: bool = False
    """Mutant switch: every pod of the new ReplicaSet counts as available."""


@dataclass(frozen=True)
class World:
    replicas: ArithRef
    surge: ArithRef
    unavailable: ArithRef
    surge_percent: bool
    unavailable_percent: bool
    new: ArithRef
    new_available: ArithRef
    old: list[ArithRef]
    old_available: list[ArithRef]
    expected_surge: ArithRef
    expected_unavailable: ArithRef
    assumptions: list[BoolRef]


def _world(surge_percent: bool, unavailable_percent: bool) -> World:
    replicas, surge, unavailable = Int("replicas"), Int("maxSurge"), Int("maxUnavailable")
    new, new_available = Int("new"), Int("newAvailable")
    old = [Int(f"old{i}") for i in range(OLD_REPLICA_SETS)]
    old_available = [Int(f"old{i}Available") for i in range(OLD_REPLICA_SETS)]
    assumptions: list[BoolRef] = [
        replicas >= 0,
        replicas <= INT32_MAX,
        surge >= 0,
        unavailable >= 0,
        Not(And(surge == 0, unavailable == 0)),
        new_available >= 0,
        new_available <= new,
    ]
    if surge_percent:
        assumptions.append(surge <= SURGE_PERCENT_MAX)
    if unavailable_percent:
        assumptions.append(unavailable <= 100)
    for size, available in zip(old, old_available, strict=True):
        assumptions += [available >= 0, available <= size]
    expected_surge, rounded_unavailable = Int("expectedSurge"), Int("roundedUnavailable")
    if surge_percent:  # ceil(surge * replicas / 100), as a definition
        assumptions += [
            100 * expected_surge >= surge * replicas,
            100 * (expected_surge - 1) < surge * replicas,
        ]
    else:
        assumptions.append(expected_surge == surge)
    if unavailable_percent:  # floor(unavailable * replicas / 100)
        assumptions += [
            100 * rounded_unavailable <= unavailable * replicas,
            100 * (rounded_unavailable + 1) > unavailable * replicas,
        ]
    else:
        assumptions.append(rounded_unavailable == unavailable)
    unavailable_count = If(
        And(expected_surge == 0, rounded_unavailable == 0), 1, rounded_unavailable
    )
    expected_unavailable = If(
        replicas == 0, 0, If(unavailable_count < replicas, unavailable_count, replicas)
    )
    return World(
        replicas=replicas,
        surge=surge,
        unavailable=unavailable,
        surge_percent=surge_percent,
        unavailable_percent=unavailable_percent,
        new=new,
        new_available=new_available,
        old=old,
        old_available=old_available,
        expected_surge=expected_surge,
        expected_unavailable=expected_unavailable,
        assumptions=assumptions,
    )


def _sum(values: Sequence[ArithRef]) -> ArithRef:
    total = values[0]
    for value in values[1:]:
        total = total + value
    return total


def sync(code: RolloutCode, w: World) -> tuple[ArithRef, list[ArithRef]]:
    """The new and old ReplicaSet sizes after one ``rolloutRolling`` sync."""
    ar: Arithmetic[ArithRef, BoolRef] = Z3
    surge, unavailable = code.fenceposts(
        ar, w.surge, w.surge_percent, w.unavailable, w.unavailable_percent, w.replicas
    )
    max_unavailable_count = max_unavailable(ar, unavailable, w.replicas)
    total = _sum([w.new, *w.old])
    grown = code.new_replicas(ar, w.replicas, surge, total, w.new)
    new = If(w.new == w.replicas, w.new, If(w.new > w.replicas, w.replicas, grown))
    min_available = w.replicas - max_unavailable_count
    budget = max_scaled_down(ar, total, min_available, w.new, w.new_available)
    cleaned, _ = code.cleanup(ar, w.old, w.old_available, budget)
    new_available = w.new if code.counts_new_as_available else w.new_available
    available = _sum([new_available, *w.old_available])
    shrunk, _ = code.scale_down(ar, cleaned, available, min_available)
    acts = And(new == w.new, _sum(w.old) != 0, budget > 0)
    return new, [If(acts, after, before) for after, before in zip(shrunk, w.old, strict=True)]


def _available_after(w: World, new: ArithRef, old: list[ArithRef]) -> ArithRef:
    kept = [minimum(Z3, w.new_available, new)]
    kept += [minimum(Z3, a, s) for a, s in zip(w.old_available, old, strict=True)]
    return _sum(kept)


def _all_settings(check: Callable[[bool, bool], Verdict]) -> Verdict:
    for surge_percent in (False, True):
        for unavailable_percent in (False, True):
            verdict = check(surge_percent, unavailable_percent)
            if not isinstance(verdict, Proved):
                return verdict
    return verdict


def _surge_bound(code: RolloutCode, surge_percent: bool, unavailable_percent: bool) -> Verdict:
    w = _world(surge_percent, unavailable_percent)
    limit = w.replicas + w.expected_surge
    new, old = sync(code, w)
    before = _sum([w.new, *w.old]) <= limit
    return check_valid(_sum([new, *old]) <= limit, assumptions=(*w.assumptions, before))


def _availability(code: RolloutCode, surge_percent: bool, unavailable_percent: bool) -> Verdict:
    w = _world(surge_percent, unavailable_percent)
    floor = w.replicas - w.expected_unavailable
    new, old = sync(code, w)
    before = _sum([w.new_available, *w.old_available]) >= floor
    return check_valid(_available_after(w, new, old) >= floor, assumptions=(*w.assumptions, before))


def prove_surge(code: RolloutCode = RolloutCode()) -> Verdict:
    return _all_settings(partial(_surge_bound, code))


def prove_availability(code: RolloutCode = RolloutCode()) -> Verdict:
    return _all_settings(partial(_availability, code))


# Mutants ----------------------------------------------------------------------------------------


def unavailable_rounds_up(
    ar: Arithmetic[ArithRef, BoolRef],
    surge: ArithRef,
    sp: bool,
    unavailable: ArithRef,
    up: bool,
    desired: ArithRef,
) -> tuple[ArithRef, ArithRef]:
    """maxUnavailable's percentage rounded up, like maxSurge's."""
    surge_count, _ = resolve_fenceposts(ar, surge, sp, unavailable, up, desired)
    rounded, _ = resolve_fenceposts(ar, unavailable, up, surge, sp, desired)
    zero = ar.constant(0)
    both_zero = ar.both(ar.equal(surge_count, zero), ar.equal(rounded, zero))
    return surge_count, ar.select(both_zero, ar.constant(1), rounded)


def uncapped_new_replicas(
    ar: Arithmetic[ArithRef, BoolRef],
    replicas: ArithRef,
    surge: ArithRef,
    total: ArithRef,
    new: ArithRef,
) -> ArithRef:
    """The new ReplicaSet grows to replicas at once, ignoring maxSurge."""
    del surge, total
    return ar.select(ar.less(new, replicas), replicas, new)


def cleanup_takes_available(
    ar: Arithmetic[ArithRef, BoolRef],
    specs: Sequence[ArithRef],
    available: Sequence[ArithRef],
    budget: ArithRef,
) -> tuple[list[ArithRef], ArithRef]:
    """Cleanup treats every replica as unhealthy (available ones go too)."""
    del available
    return cleanup_unhealthy(ar, specs, [ar.constant(0)] * len(specs), budget)


def _mutant(
    name: str, description: str, prove: Callable[[RolloutCode], Verdict], **code: Any
) -> Mutant:
    return Mutant(name=name, description=description, check=partial(prove, RolloutCode(**code)))


PROOFS: tuple[ProofCase, ...] = (
    ProofCase(
        name="deployment.rolling.max-surge",
        property_text="a rolling-update sync never takes the ReplicaSets above replicas + maxSurge",
        method="inductive invariant",
        bound="replicas 0..2^31-1, int or percentage settings (percent maxSurge <= 2^20), "
        "3 old ReplicaSets",
        check=prove_surge,
        mutants=(
            _mutant(
                "uncapped-new-replica-set",
                "the new ReplicaSet grows to replicas at once",
                prove_surge,
                new_replicas=uncapped_new_replicas,
            ),
        ),
    ),
    ProofCase(
        name="deployment.rolling.min-available",
        property_text="a rolling-update sync never takes available pods below "
        "replicas - maxUnavailable",
        method="inductive invariant",
        bound="replicas 0..2^31-1, int or percentage settings (percent maxUnavailable <= 100), "
        "3 old ReplicaSets",
        check=prove_availability,
        mutants=(
            _mutant(
                "unavailable-rounds-up",
                "a maxUnavailable percentage rounds up",
                prove_availability,
                fenceposts=unavailable_rounds_up,
            ),
            _mutant(
                "cleanup-takes-available",
                "cleanup removes available replicas too",
                prove_availability,
                cleanup=cleanup_takes_available,
            ),
            _mutant(
                "counts-new-pods-available",
                "every pod of the new ReplicaSet counts as available when scaling down",
                prove_availability,
                counts_new_as_available=True,
            ),
        ),
    ),
)
