"""``Budget`` (a step allowance shared by one check) and ``Prepared`` built by hand: what the
docstrings promise, checked directly. ``max_steps`` is an allowance in total: once that many
steps are spent the search may not go on, and an exhausted budget stays exhausted. A Prepared
without pruning facts searches with none (the same verdicts), and a sub-history starts from the
same initial state as the whole."""

from models.history import RegisterValue
from spec.etcd.registers import RegisterModel
from spec.linearizability import Budget, Prepared, prepare
from spec.linearizability_search import search
from tests.lincheck.builders import read, write

REGISTER = RegisterModel(with_cas=False)


def test_a_budget_of_three_steps_allows_three_and_counts_them() -> None:
    budget = Budget(max_steps=3)
    assert budget.steps_used == 0
    assert budget.spend(1)
    assert budget.spend(1)
    assert budget.steps_used == 2
    # The third step uses the allowance up: the search may not go on.
    assert not budget.spend(1)
    assert budget.steps_used == 3
    assert budget.exhausted


def test_an_exhausted_budget_stays_exhausted_even_if_the_poll_says_go_on() -> None:
    answers = [True, False]
    budget = Budget(interrupted=lambda: answers.pop(0))
    assert not budget.spend(10)
    # The poll would now say "not interrupted", but the check has already given up.
    assert not budget.spend(10)
    assert answers == [False]
    assert budget.steps_used == 20


def test_a_budget_without_limits_never_runs_out() -> None:
    budget = Budget()
    assert budget.spend(10**9)
    assert not budget.exhausted


def read_after_write() -> Prepared[RegisterValue]:
    # write(1) returns at 2, then a read from 3 to 4 sees 1: linearizable (write, then read).
    (prepared,) = prepare(REGISTER, [write(1, 0, 2, 1), read(2, 3, 4, 1)]).values()
    return prepared


def test_a_prepared_history_without_pruning_facts_gets_the_same_verdicts() -> None:
    prepared = read_after_write()
    bare = Prepared(prepared.operations, prepared.transitions, prepared.read_only, prepared.initial)
    assert bare.reach == (None, None)
    assert bare.grows == (False, False)
    assert search(bare, Budget(max_steps=1000)).verdict == "linearizable"
    # The read sees 2, which nobody wrote: no order explains it, pruning or not.
    (stale,) = prepare(REGISTER, [write(1, 0, 2, 1), read(2, 3, 4, 2)]).values()
    bare_stale = Prepared(stale.operations, stale.transitions, stale.read_only, stale.initial)
    assert search(bare_stale, Budget(max_steps=1000)).verdict == "not_linearizable"


def test_a_sub_history_starts_from_the_same_initial_state() -> None:
    prepared = read_after_write()
    # A register whose initial value is 1: the read alone, seeing 1, is then linearizable.
    from_one: Prepared[RegisterValue] = Prepared(
        prepared.operations,
        prepared.transitions,
        prepared.read_only,
        1,
        prepared.reach,
        prepared.grows,
    )
    only_the_read = from_one.subset([1])
    assert only_the_read.initial == 1
    assert [operation.index for operation in only_the_read.operations] == [1]
    assert search(only_the_read, Budget(max_steps=1000)).verdict == "linearizable"
    # From the register's own initial value (None), the read alone cannot see 1.
    assert search(prepared.subset([1]), Budget(max_steps=1000)).verdict == "not_linearizable"
