"""Checking the unbounded Raft model: each layer of invariants inductive, the properties implied.

For a layer, z3 is asked, mypyvy style, one query per (transition, invariant) pair:
``axioms and inv(pre) and step(pre, post) and not inv_j(post)`` must be unsatisfiable, where
``inv`` is every invariant of the layer and of the layers before it. Initiation is
``axioms and init and not inv_j``. A satisfying model is a counterexample to induction (CTI):
the transition and the invariant it breaks are reported with the two states.
A property is checked as ``axioms and inv(pre) and not property(pre)``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from proofs.raft.cti import describe_cti
from proofs.raft.epr import SymbolicDomain, axioms
from proofs.raft.node_relations import ETCD, Rules
from proofs.raft.safety_invariants import LAYERS, Invariant
from proofs.raft.safety_model import Transition, initial, transitions
from proofs.raft.safety_properties import INVARIANTS, SafetyProperty
from proofs.raft.safety_state import Relations, SafetyState
from proofs.z3adapter import Counterexample, Not, Proved, Solver, Unknown, Verdict, sat, unsat

TIMEOUT_MS = 60_000


def _invariants(layers: Sequence[str]) -> tuple[Invariant, ...]:
    return tuple(inv for inv in INVARIANTS if inv.layer in layers)


def _solver() -> Solver:
    solver = Solver()
    solver.set("timeout", TIMEOUT_MS)
    solver.add(*axioms())
    return solver


def _query(
    solver: Solver, goal_negation: object, what: str, pre: Relations, post: Relations | None
) -> Verdict:
    from proofs.z3adapter import BoolRef

    assert isinstance(goal_negation, BoolRef)
    solver.push()
    solver.add(goal_negation)
    result = solver.check()
    try:
        if result == unsat:
            return Proved()
        if result == sat:
            return Counterexample(
                assignment=(("fails", what), *describe_cti(solver.model(), pre, post))
            )
        return Unknown(reason=f"{what}: {solver.reason_unknown()}")
    finally:
        solver.pop()


@functools.cache
def check_layer(layer: str, rules: Rules = ETCD) -> Verdict:
    """Initiation and consecution of one layer (assuming it and the layers before it)."""
    domain = SymbolicDomain()
    pre = SafetyState("pre")
    goals = [inv for inv in INVARIANTS if inv.layer == layer]
    solver = _solver()
    solver.push()
    solver.add(initial(domain, pre))
    for inv in goals:
        verdict = _query(
            solver, Not(inv.build(domain, pre)), f"initiation of '{inv.name}'", pre, None
        )
        if not isinstance(verdict, Proved):
            return verdict
    solver.pop()
    position = LAYERS.index(layer)
    for inv in _invariants(LAYERS[: position + 1]):
        solver.add(inv.build(domain, pre))
    step: Transition
    for step in transitions(domain, rules, pre):
        solver.push()
        solver.add(step.formula)
        for inv in goals:
            what = f"step '{step.name}' breaks '{inv.name}'"
            verdict = _query(solver, Not(inv.build(domain, step.post)), what, pre, step.post)
            if not isinstance(verdict, Proved):
                return verdict
        solver.pop()
    return Proved()


def check_layers(layers: Sequence[str], rules: Rules = ETCD) -> Verdict:
    """Every layer in ``layers``, in order; the first failure."""
    for layer in layers:
        verdict = check_layer(layer, rules)
        if not isinstance(verdict, Proved):
            return verdict
    return Proved()


def check_property(prop: SafetyProperty) -> Verdict:
    """The property follows from the invariants of its layers (an implication, no step)."""
    domain = SymbolicDomain()
    state = SafetyState("s")
    solver = _solver()
    for inv in _invariants(prop.layers):
        solver.add(inv.build(domain, state))
    for part in prop.parts:
        verdict = _query(
            solver, Not(part(domain, state)), f"'{prop.name}' from the invariants", state, None
        )
        if not isinstance(verdict, Proved):
            return verdict
    return Proved()


def prove(prop: SafetyProperty, rules: Rules = ETCD) -> Verdict:
    """The layers of ``prop`` are inductive and imply it."""
    verdict = check_layers(prop.layers, rules)
    return verdict if not isinstance(verdict, Proved) else check_property(prop)
