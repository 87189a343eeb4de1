"""The kv search's pruning (a get whose answer does not extend the state can only become legal
after a put), on hand-written histories whose verdicts follow from the definition: each
linearizable one names its order of points, each other one says why no order exists."""

from models.history import KvAppend, KvGet, KvPut, OkResult, OperationRecord, ValueResult
from spec.etcd.registers import KvModel
from spec.linearizability import Budget, prepare
from spec.linearizability_search import search
from tests.lincheck.builders import operation

KV = KvModel()


def append(client: int, call: int, returned: int | None, value: str) -> OperationRecord:
    return operation(client, call, returned, KvAppend(key="k", value=value), OkResult())


def put(client: int, call: int, returned: int | None, value: str) -> OperationRecord:
    return operation(client, call, returned, KvPut(key="k", value=value), OkResult())


def get(client: int, call: int, returned: int, value: str) -> OperationRecord:
    return operation(client, call, returned, KvGet(key="k"), ValueResult(value=value))


def verdict(records: list[OperationRecord]) -> tuple[str, int]:
    """The verdict and the steps the search took (one partition: one key)."""
    (prepared,) = prepare(KV, records).values()
    result = search(prepared, Budget(max_steps=1_000_000))
    return result.verdict, result.steps


def test_the_model_orders_states_by_extension() -> None:
    assert KV.grows(KvAppend(key="k", value="x"))
    assert not KV.grows(KvPut(key="k", value="x"))
    reach = KV.reach_test(KvGet(key="k"), ValueResult(value="xy"))
    assert [reach(state) for state in ("", "x", "xy", "y", "xyz")] == [
        True,
        True,
        True,
        False,
        False,
    ]


def test_a_concurrent_put_can_still_make_a_get_legal() -> None:
    # append(x) completes first: state "x". The get answering "y" does not extend "x", but the
    # put(y) running beside it may come first: order append(x), put(y), get.
    history = [append(1, 0, 1, "x"), put(2, 2, 10, "y"), get(3, 3, 4, "y")]
    assert verdict(history)[0] == "linearizable"


def test_an_unknown_put_can_still_make_a_get_legal() -> None:
    history = [append(1, 0, 1, "x"), put(2, 2, None, "y"), get(3, 3, 4, "y")]
    assert verdict(history)[0] == "linearizable"


def test_a_put_called_after_the_get_returned_cannot_help() -> None:
    # put(y) is called after the get returned: at the get's point the state is "x".
    history = [append(1, 0, 1, "x"), get(3, 3, 4, "y"), put(2, 5, 6, "y")]
    assert verdict(history)[0] == "not_linearizable"


def test_appends_never_shrink_the_string() -> None:
    # append(x) completed, then a get answers "": only a put("") could empty it, none exists.
    history = [append(1, 0, 1, "x"), append(2, 2, 9, "y"), get(3, 3, 4, "")]
    assert verdict(history)[0] == "not_linearizable"


def test_concurrent_appends_in_the_order_a_get_saw() -> None:
    # Five appends run together; a get running beside them saw them in reverse call order:
    # linearizable (e, d, c, b, a, then the get). Without the
    # pruning the search tries all 5! orders of the first appends it meets; with it, each
    # wrong first append is abandoned at once.
    pieces = "abcde"
    history = [append(n, n, 20, piece) for n, piece in enumerate(pieces)]
    history += [get(9, 5, 22, pieces[::-1])]
    found, steps = verdict(history)
    assert found == "linearizable"
    assert steps < 5 * 4 * 3 * 2  # fewer than the orders of five appends
