"""``Prepared.cut_at``: the prefix of a history up to a time, as the violation analysis uses it
(Herlihy & Wing's prefixes: what was called by then, with what had not returned by then left
open). Each expectation follows from that definition."""

from models.history import KvAppend, KvGet, OkResult, RegisterValue, ValueResult
from spec.etcd.registers import KvModel, RegisterModel
from spec.linearizability import Prepared, prepare
from tests.lincheck.builders import operation, read, write

REGISTER = RegisterModel(with_cas=False)


def history() -> Prepared[RegisterValue]:
    records = [
        write(1, 0, 5, "a"),  # returned by 5: kept as it is
        read(2, 1, 4, "a"),  # a read returned by 5: kept, read-only
        read(3, 2, 8, "a"),  # a read still running at 5: dropped (it changes nothing)
        write(4, 3, 10, "b"),  # still running at 5: kept, outcome unknown
        write(5, 5, 6, "c"),  # called exactly at 5: kept only with keep_call_at_cut
        write(6, 7, 9, "d"),  # called after 5: dropped
    ]
    (prepared,) = prepare(REGISTER, records).values()
    return prepared


def test_the_prefix_keeps_what_was_called_and_opens_what_had_not_returned() -> None:
    whole = history()
    cut = whole.cut_at(5, keep_call_at_cut=False)
    assert [operation.index for operation in cut.operations] == [0, 1, 3]
    assert [operation.client_id for operation in cut.operations] == [1, 2, 4]
    assert [operation.return_time for operation in cut.operations] == [5, 4, None]
    assert [operation.identity for operation in cut.operations] == [
        whole.operations[position].identity for position in (0, 1, 3)
    ]
    assert cut.read_only == (False, True, False)
    assert cut.transitions == tuple(whole.transitions[position] for position in (0, 1, 3))


def test_a_call_at_the_cut_is_kept_on_request() -> None:
    cut = history().cut_at(5, keep_call_at_cut=True)
    assert [operation.index for operation in cut.operations] == [0, 1, 3, 4]
    # write(c) returns at 6, after the cut: open.
    assert cut.operations[-1].return_time is None


def test_a_cut_before_everything_is_empty_and_after_everything_is_whole() -> None:
    whole = history()
    assert whole.cut_at(-1, keep_call_at_cut=True).operations == ()
    after = whole.cut_at(100, keep_call_at_cut=False)
    assert after.operations == whole.operations
    assert after.read_only == whole.read_only


def test_the_prefix_keeps_the_pruning_facts() -> None:
    records = [
        operation(1, 0, 2, KvAppend(key="k", value="x"), OkResult()),
        operation(2, 1, 3, KvGet(key="k"), ValueResult(value="x")),
        operation(3, 4, 9, KvAppend(key="k", value="y"), OkResult()),
    ]
    (prepared,) = prepare(KvModel(), records).values()
    cut = prepared.cut_at(5, keep_call_at_cut=False)
    assert cut.grows == (True, False, True)
    assert cut.reach[0] is None
    assert cut.reach[1] is not None
    assert cut.reach[1]("x")
    assert not cut.reach[1]("y")
