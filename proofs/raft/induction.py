"""Checking that a set of invariants is inductive, mypyvy style.

For a state pair (pre, post) built once, the invariants evaluated on each, the initial
condition and a list of named transitions (formulas over pre and post), it asks z3:

- initiation: ``init(pre) -> inv(pre)``;
- consecution, for each transition: ``inv(pre) and transition -> inv(post)``.

(Non-vacuity is the job of each proof's mutants: a mutant's counterexample shows the broken
transitions can fire from states the invariants allow.)

A counterexample to consecution (a CTI) names the transition and the invariants it breaks and
shows the two states through ``describe``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import final

import msgspec

from proofs.z3adapter import (
    And,
    BoolRef,
    ModelRef,
    Proved,
    Verdict,
    check_valid,
    model_bool,
)

Named = tuple[str, BoolRef]


@final
class Transition(msgspec.Struct, frozen=True, kw_only=True):
    """A named step from the pre state to the post state."""

    name: str
    formula: BoolRef


@final
class InductiveQuery(msgspec.Struct, frozen=True, kw_only=True):
    """Everything :func:`check_inductive` needs, built over one (pre, post) pair."""

    initial: BoolRef
    invariants_pre: tuple[Named, ...]
    invariants_post: tuple[Named, ...]
    transitions: tuple[Transition, ...]
    describe: Callable[[ModelRef], tuple[tuple[str, str], ...]]
    timeout_ms: int = 60_000


def _broken(model: ModelRef, invariants: Sequence[Named]) -> str:
    return ", ".join(name for name, formula in invariants if not model_bool(model, formula))


def check_inductive(query: InductiveQuery) -> Verdict:
    """Initiation, then consecution for each transition; the first failure is returned."""

    def describe_initial(model: ModelRef) -> tuple[tuple[str, str], ...]:
        return (
            ("fails", "initiation"),
            ("broken", _broken(model, query.invariants_pre)),
            *query.describe(model),
        )

    verdict = check_valid(
        And([formula for _, formula in query.invariants_pre]),
        assumptions=[query.initial],
        timeout_ms=query.timeout_ms,
        describe=describe_initial,
    )
    if not isinstance(verdict, Proved):
        return verdict
    for transition in query.transitions:

        def describe(model: ModelRef, name: str = transition.name) -> tuple[tuple[str, str], ...]:
            return (
                ("transition", name),
                ("broken", _broken(model, query.invariants_post)),
                *query.describe(model),
            )

        verdict = check_valid(
            And([formula for _, formula in query.invariants_post]),
            assumptions=[*(formula for _, formula in query.invariants_pre), transition.formula],
            timeout_ms=query.timeout_ms,
            describe=describe,
        )
        if not isinstance(verdict, Proved):
            return verdict
    return Proved()
