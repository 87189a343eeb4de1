"""``Budget`` (a step allowance shared by one check), ``prepare`` and ``Prepared`` built by
hand: what the docstrings promise, checked directly. ``max_steps`` is an allowance in total:
once that many steps are spent the search may not go on, and an exhausted budget stays
exhausted. ``prepare`` leaves out records the model does not check and reads whose outcome is
unknown (they change nothing), and keeps everything else; an operation whose answer was not
definite is unknown even if it returned. It splits a history by the model's partition key only
when every operation has one, and hands out the partitions in key order. A Prepared without
pruning facts searches with none (the same verdicts), and a sub-history starts from the same
initial state as the whole."""

from models.etcd import PutRequest, PutResponse, RangeRequest, RangeResponse
from models.history import (
    KvAppend,
    KvGet,
    Operation,
    OperationRecord,
    RegisterRead,
    RegisterValue,
    ValueResult,
)
from spec.etcd.keyspace import EtcdModel
from spec.etcd.registers import KvModel, RegisterModel
from spec.linearizability import Budget, Prepared, prepare
from spec.linearizability_report import check_history
from spec.linearizability_search import search
from tests.lincheck.builders import cas, header, operation, read, write

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


def indefinite(record: OperationRecord) -> OperationRecord:
    """The record as if the client got an answer it cannot rely on (e.g. a timeout)."""
    return OperationRecord(
        client_id=record.client_id,
        call_time=record.call_time,
        return_time=record.return_time,
        operation=record.operation,
        result=record.result,
        definite=False,
    )


def test_an_answer_that_is_not_definite_makes_the_outcome_unknown() -> None:
    records = [
        write(1, 0, 2, 1),
        indefinite(read(2, 3, 4, 7)),  # returned, but its value cannot be trusted: dropped
        indefinite(write(3, 5, 6, 2)),  # returned, yet it may or may not have taken effect
        read(4, 7, 8, 1),
    ]
    (prepared,) = prepare(REGISTER, records).values()
    assert [operation.index for operation in prepared.operations] == [0, 2, 3]
    assert [operation.return_time for operation in prepared.operations] == [2, None, 8]
    # The indefinite write may never have happened: the later read of 1 is then explained.
    assert search(prepared, Budget(max_steps=1000)).verdict == "linearizable"


def test_the_answer_of_an_indefinite_operation_is_not_held_against_it() -> None:
    # The client was told the cas failed, but not definitely: it may have set 2.
    records = [write(1, 0, 1, 1), indefinite(cas(2, 2, 3, 1, 2, False)), read(3, 4, 5, 2)]
    (prepared,) = prepare(RegisterModel(with_cas=True), records).values()
    assert search(prepared, Budget(max_steps=1000)).verdict == "linearizable"


def test_partitions_come_in_key_order() -> None:
    records = [
        operation(1, 0, 1, KvAppend(key="b", value="x"), None),
        operation(2, 0, 1, KvAppend(key="a", value="y"), None),
        operation(3, 2, 3, KvGet(key="b"), ValueResult(value="x")),
    ]
    partitions = prepare(KvModel(), records)
    assert list(partitions) == ["a", "b"]
    assert [operation.index for operation in partitions["b"].operations] == [0, 2]


class GetsWithoutKey(KvModel):
    """A kv model that cannot tell which key a get touches."""

    def partition_key(self, operation: Operation) -> str | None:
        return None if isinstance(operation, KvGet) else super().partition_key(operation)


def test_one_operation_without_a_key_keeps_the_history_whole() -> None:
    records = [
        operation(1, 0, 1, KvAppend(key="a", value="x"), None),
        operation(2, 0, 1, KvAppend(key="b", value="y"), None),
        operation(3, 2, 3, KvGet(key="a"), ValueResult(value="x")),
    ]
    partitions = prepare(GetsWithoutKey(), records)
    assert list(partitions) == [None]
    assert [operation.index for operation in partitions[None].operations] == [0, 1, 2]


def test_identical_requests_with_identical_answers_share_one_transition() -> None:
    records = [write(1, 0, 1, 5), read(2, 2, 3, 5), write(1, 4, 5, 5), read(2, 6, 7, 5)]
    (prepared,) = prepare(REGISTER, records).values()
    assert prepared.transitions[0] is prepared.transitions[2]
    assert prepared.transitions[1] is prepared.transitions[3]
    assert [operation.identity for operation in prepared.operations] == [0, 1, 0, 1]


def test_a_failed_cas_and_a_read_are_read_only_a_write_and_an_unknown_cas_are_not() -> None:
    records = [
        write(1, 0, 1, 1),
        cas(2, 2, 3, 5, 6, False),  # failed: it changed nothing
        cas(3, 4, 5, 1, 2, True),  # succeeded: it set 2
        read(4, 6, 7, 2),
        cas(5, 8, None, 2, 3, None),  # unknown: it may have set 3
    ]
    (prepared,) = prepare(RegisterModel(with_cas=True), records).values()
    assert prepared.read_only == (False, True, False, True, False)
