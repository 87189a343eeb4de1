"""``Budget`` (a step allowance shared by one check), ``prepare`` and ``Prepared`` built by
hand: what the docstrings promise, checked directly. ``max_steps`` is an allowance in total:
once that many steps are spent the search may not go on, and an exhausted budget stays
exhausted. ``prepare`` leaves out records the model does not check and reads whose outcome is
unknown (they change nothing), and keeps everything else. A Prepared without pruning facts
searches with none (the same verdicts), and a sub-history starts from the same initial state as
the whole."""

from models.etcd import PutRequest, PutResponse, RangeRequest, RangeResponse
from models.history import RegisterRead, RegisterValue
from spec.etcd.keyspace import EtcdModel
from spec.etcd.registers import RegisterModel
from spec.linearizability import Budget, Prepared, prepare
from spec.linearizability_report import check_history
from spec.linearizability_search import search
from tests.lincheck.builders import header, operation, read, write

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


def test_an_unchecked_record_is_left_out_and_the_records_after_it_still_checked() -> None:
    model = EtcdModel()
    # A serializable read may be stale, so it is not checked; the put after it is, and so is
    # the linearizable read that starts after the put returned yet answers from revision 1.
    serializable = operation(
        1, 0, 1, RangeRequest(key=b"a", serializable=True), RangeResponse(header=header(1))
    )
    put = operation(2, 2, 3, PutRequest(key=b"a", value=b"1"), PutResponse(header=header(2)))
    stale = operation(3, 4, 5, RangeRequest(key=b"a"), RangeResponse(header=header(1)))
    (prepared,) = prepare(model, [serializable, put, stale]).values()
    assert [operation.index for operation in prepared.operations] == [1, 2]
    verdict = check_history(model, [serializable, put, stale], Budget(max_steps=10_000)).verdict
    assert verdict == "not_linearizable"


def test_a_read_without_an_outcome_is_dropped_and_a_write_without_one_kept() -> None:
    records = [
        write(1, 0, 2, 1),
        operation(2, 3, None, RegisterRead(), None),  # never returned: changes nothing
        write(3, 4, None, 2),  # never returned: may have taken effect
    ]
    (prepared,) = prepare(REGISTER, records).values()
    assert [operation.index for operation in prepared.operations] == [0, 2]
    assert [operation.return_time for operation in prepared.operations] == [2, None]
