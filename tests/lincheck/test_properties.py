"""Differential property tests: histories made by running the sequential model in a random
order, with random call/return intervals around each operation's point, are linearizable; and
one read corrupted to a value no operation ever writes makes them not linearizable (no order
can produce a value nobody wrote)."""

from collections.abc import Sequence
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from models.etcd import DeleteRangeRequest, PutRequest, RangeRequest, RangeResponse
from models.history import (
    KvAppend,
    KvGet,
    KvPut,
    Operation,
    OperationRecord,
    RegisterCas,
    RegisterRead,
    RegisterWrite,
    ValueResult,
)
from spec.etcd.keyspace import EtcdModel
from spec.etcd.registers import KvModel, RegisterModel
from spec.linearizability import Budget, SequentialModel
from spec.linearizability_report import check_history
from tests.lincheck.builders import header, key_value

POINT_SPACING = 10


@st.composite
def concurrent_history(
    draw: st.DrawFn, model: SequentialModel[Any], operations: st.SearchStrategy[Operation]
) -> list[OperationRecord]:
    """Run the model sequentially; operation ``i`` takes effect at time ``10 * i + 5`` and
    gets an interval around that point that does not overlap its client's other operations.
    Some effectful operations lose their outcome (unknown), some of those never take effect."""
    requests = draw(st.lists(operations, min_size=1, max_size=12))
    clients = draw(st.lists(st.integers(0, 3), min_size=len(requests), max_size=len(requests)))
    slack = st.integers(0, 3 * POINT_SPACING)
    # The model's state is per partition (kv: per key).
    states: dict[str | None, Any] = {}
    records: list[OperationRecord] = []
    last_return: dict[int, int] = {}
    points = [POINT_SPACING * index + 5 for index in range(len(requests))]
    next_point = {
        index: next((points[j] for j in range(index + 1, len(requests)) if clients[j] == c), None)
        for index, c in enumerate(clients)
    }
    for index, request in enumerate(requests):
        client, point = clients[index], points[index]
        lost = model.has_effect(request) and draw(st.integers(0, 5)) == 0
        took_effect = not lost or draw(st.booleans())
        partition = model.partition_key(request)
        state = states.get(partition, model.initial_state())
        result, after = model.expected(state, request)
        if took_effect:
            states[partition] = after
        call = max(point - draw(slack), last_return.get(client, -1) + 1)
        returned = point + draw(slack)
        following = next_point[index]
        if following is not None:
            returned = min(returned, following - 1)
        last_return[client] = returned
        records.append(
            OperationRecord(
                client_id=client,
                call_time=call,
                return_time=None if lost else returned,
                operation=request,
                result=None if lost else result,
                definite=not lost,
            )
        )
    return records


def verdict(model: SequentialModel[Any], records: Sequence[OperationRecord]) -> str:
    return check_history(model, records, Budget(max_steps=2_000_000)).verdict


REGISTER_OPERATIONS = st.one_of(
    st.just(RegisterRead()),
    st.builds(RegisterWrite, value=st.integers(0, 3)),
    st.builds(RegisterCas, expected=st.integers(0, 3), new=st.integers(0, 3)),
)
KV_OPERATIONS = st.one_of(
    st.builds(KvGet, key=st.sampled_from("ab")),
    st.builds(KvPut, key=st.sampled_from("ab"), value=st.sampled_from(["x", "y"])),
    st.builds(KvAppend, key=st.sampled_from("ab"), value=st.sampled_from(["x", "y"])),
)
ETCD_OPERATIONS = st.one_of(
    st.builds(RangeRequest, key=st.sampled_from([b"a", b"b"])),
    st.builds(RangeRequest, key=st.just(b"a"), range_end=st.just(b"c")),
    st.builds(PutRequest, key=st.sampled_from([b"a", b"b"]), value=st.sampled_from([b"1", b"2"])),
    st.builds(DeleteRangeRequest, key=st.sampled_from([b"a", b"b"])),
)
CAS_REGISTER = RegisterModel(with_cas=True)
KV = KvModel()
ETCD = EtcdModel()


@given(concurrent_history(CAS_REGISTER, REGISTER_OPERATIONS))
def test_cas_register_histories_from_the_model_are_linearizable(
    records: list[OperationRecord],
) -> None:
    assert verdict(CAS_REGISTER, records) == "linearizable"


@given(concurrent_history(CAS_REGISTER, REGISTER_OPERATIONS), st.data())
def test_reading_a_value_never_written_is_not_linearizable(
    records: list[OperationRecord], data: st.DataObject
) -> None:
    reads = [i for i, r in enumerate(records) if isinstance(r.operation, RegisterRead)]
    assume(reads)
    chosen = data.draw(st.sampled_from(reads))
    corrupted = list(records)
    corrupted[chosen] = OperationRecord(
        client_id=records[chosen].client_id,
        call_time=records[chosen].call_time,
        return_time=records[chosen].return_time,
        operation=RegisterRead(),
        result=ValueResult(value=99),  # writes and cas only set 0..3
    )
    assert verdict(CAS_REGISTER, corrupted) == "not_linearizable"


@given(concurrent_history(KV, KV_OPERATIONS))
def test_kv_histories_from_the_model_are_linearizable(records: list[OperationRecord]) -> None:
    assert verdict(KV, records) == "linearizable"


@given(concurrent_history(KV, KV_OPERATIONS), st.data())
def test_kv_get_of_a_string_no_order_builds_is_not_linearizable(
    records: list[OperationRecord], data: st.DataObject
) -> None:
    gets = [i for i, r in enumerate(records) if isinstance(r.operation, KvGet)]
    assume(gets)
    chosen = data.draw(st.sampled_from(gets))
    corrupted = list(records)
    corrupted[chosen] = OperationRecord(
        client_id=records[chosen].client_id,
        call_time=records[chosen].call_time,
        return_time=records[chosen].return_time,
        operation=records[chosen].operation,
        result=ValueResult(value="z"),  # only "x" and "y" are ever put or appended
    )
    assert verdict(KV, corrupted) == "not_linearizable"


@settings(max_examples=60)
@given(concurrent_history(ETCD, ETCD_OPERATIONS))
def test_etcd_histories_from_the_model_are_linearizable(records: list[OperationRecord]) -> None:
    assert verdict(ETCD, records) == "linearizable"


@settings(max_examples=60)
@given(concurrent_history(ETCD, ETCD_OPERATIONS), st.data())
def test_etcd_range_of_a_value_never_put_is_not_linearizable(
    records: list[OperationRecord], data: st.DataObject
) -> None:
    ranges = [i for i, r in enumerate(records) if isinstance(r.operation, RangeRequest)]
    assume(ranges)
    chosen = data.draw(st.sampled_from(ranges))
    ghost = key_value(b"a", b"9", 2, 2, 1)
    corrupted = list(records)
    corrupted[chosen] = OperationRecord(
        client_id=records[chosen].client_id,
        call_time=records[chosen].call_time,
        return_time=records[chosen].return_time,
        operation=records[chosen].operation,
        result=RangeResponse(header=header(2), kvs=(ghost,), count=1),  # puts write "1", "2"
    )
    assert verdict(ETCD, corrupted) == "not_linearizable"
