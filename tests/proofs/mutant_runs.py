"""The protocol mutants' refuting executions and their exported traces, computed once per
test session (several test modules need them; each costs a bounded search)."""

from __future__ import annotations

import functools

from proofs.catalog import Mutant, all_proofs
from proofs.execution import Execution
from proofs.z3adapter import Counterexample
from runner.raft.counterexample_export import ExportedTrace, export_counterexample


def mutant(name: str) -> Mutant:
    """The catalog's mutant called ``name``."""
    found = [m for case in all_proofs() for m in case.mutants if m.name == name]
    assert len(found) == 1
    return found[0]


@functools.cache
def execution(name: str) -> Execution:
    """z3's execution refuting the mutant."""
    verdict = mutant(name).check()
    assert isinstance(verdict, Counterexample)
    assert verdict.execution is not None
    return verdict.execution


@functools.cache
def exported(name: str) -> ExportedTrace:
    """The execution run on ``impl.raft`` with the mutant, as a trace."""
    trace = export_counterexample(execution(name), mutant(name).impl_mutant, "test")
    assert isinstance(trace, ExportedTrace), trace
    return trace
