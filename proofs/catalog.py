"""The proof catalog: every proof case kubeoracle knows, with its mutants.

A :class:`ProofCase` names a property, says how it is established (an inductive invariant, a
bounded model check to a stated depth, or an exhaustive check over a stated bound) and holds the
function that asks z3. Each case carries :class:`Mutant` s: deliberately broken variants of the
model for which z3 must find a counterexample; a proof whose mutants all survive is vacuous.

Proof groups are modules that define ``PROOFS: tuple[ProofCase, ...]``; adding a group is one
line in ``GROUP_MODULES``. Modules are imported lazily so that listing names stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Literal, final

import msgspec

from proofs.z3adapter import Verdict

Method = Literal["inductive invariant", "bounded model check", "exhaustive"]

GROUP_MODULES: tuple[str, ...] = (
    "proofs.raft.quorum",
    "proofs.raft.safety",
    "proofs.scheduling.scores",
    "proofs.scheduling.binding",
    "proofs.scheduling.matching",
    "proofs.controllers.rollout",
    "proofs.rbac.escalation",
)


@final
class Mutant(msgspec.Struct, frozen=True, kw_only=True):
    """A broken variant of a proof's model; ``check`` must return a ``Counterexample``."""

    name: str
    description: str
    check: Callable[[], Verdict]
    impl_mutant: str = ""
    """For a protocol mutant: the ``models.raft.RaftMutant`` value that breaks ``impl.raft`` the
    same way; its counterexample execution can be exported as a simulator trace."""
    spec_properties: tuple[str, ...] = ()
    """The ``spec.raft`` properties that correspond to the proof's property."""


@final
class ProofCase(msgspec.Struct, frozen=True, kw_only=True):
    """One property, how it is established, and the mutants that show the proof is not vacuous.

    ``bound`` says what the result covers (for example "cluster sizes 1..5, terms unbounded");
    ``check`` returns ``Proved`` when the property holds within that bound.
    """

    name: str
    property_text: str
    method: Method
    bound: str
    check: Callable[[], Verdict]
    mutants: tuple[Mutant, ...]


def all_proofs() -> tuple[ProofCase, ...]:
    """Every registered proof case, in group order, then in each group's order."""
    cases: list[ProofCase] = []
    for module_name in GROUP_MODULES:
        module = importlib.import_module(module_name)
        group: tuple[ProofCase, ...] = module.PROOFS
        cases.extend(group)
    names = [case.name for case in cases]
    assert len(names) == len(set(names)), f"duplicate proof names in {names}"
    return tuple(cases)


def select(cases: tuple[ProofCase, ...], patterns: tuple[str, ...]) -> tuple[ProofCase, ...]:
    """The cases whose name equals a pattern or starts with it (all cases when none is given).

    A prefix matches at a dot boundary or anywhere in the name's start, so ``raft`` selects
    ``raft.quorum.majority`` and ``raft.quorum`` selects every quorum proof.
    """
    if not patterns:
        return cases
    return tuple(case for case in cases if any(case.name.startswith(p) for p in patterns))
