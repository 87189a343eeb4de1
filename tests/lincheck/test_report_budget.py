"""The violation analysis's sub-searches: each runs within its own step limit and the caller's
interruption, and says "cannot tell" (None) rather than guessing when either ends it."""

from models.history import OperationRecord
from spec.etcd.registers import RegisterModel
from spec.linearizability import Budget, prepare
from spec.linearizability_report import _not_linearizable
from tests.lincheck.builders import read, write

REGISTER = RegisterModel(with_cas=False)
WRITERS = 14


def hard_violation() -> list[OperationRecord]:
    """14 concurrent writes of distinct values, then a read of a value none wrote: no order
    exists, and the search must rule out every order of the writes to know it (each subset
    of them linearized, with each last value: far more than one chunk of steps)."""
    history = [write(client, 0, 100, client) for client in range(WRITERS)]
    return [*history, read(WRITERS, 1, 2, 999)]


def test_a_violation_found_within_the_limit_is_reported() -> None:
    (prepared,) = prepare(REGISTER, hard_violation()).values()
    budget = Budget()
    assert _not_linearizable(prepared, budget, limit=10_000_000) is True
    assert budget.steps_used > Budget.CHUNK_STEPS


def test_a_linearizable_history_is_not_reported() -> None:
    history = [*hard_violation()[:-1], read(WRITERS, 1, 2, 3)]
    (prepared,) = prepare(REGISTER, history).values()
    assert _not_linearizable(prepared, Budget(), limit=10_000_000) is False


def test_running_out_of_steps_cannot_tell() -> None:
    (prepared,) = prepare(REGISTER, hard_violation()).values()
    assert _not_linearizable(prepared, Budget(), limit=Budget.CHUNK_STEPS) is None


def test_the_callers_interruption_ends_the_sub_search() -> None:
    (prepared,) = prepare(REGISTER, hard_violation()).values()
    interrupted = Budget(interrupted=lambda: True)
    assert _not_linearizable(prepared, interrupted, limit=10_000_000) is None
