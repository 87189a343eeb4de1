"""impl/etcd KV semantics against etcd's documented behaviour (revisions, ranges, txns)."""

from impl.etcd.apply import ApplyContext, apply
from impl.etcd.store import EtcdState
from models.etcd import (
    ERROR_COMPACTED,
    ERROR_DUPLICATE_KEY,
    ERROR_FUTURE_REVISION,
    ERROR_KEY_NOT_FOUND,
    ERROR_KEY_NOT_PROVIDED,
    ERROR_LEASE_NOT_FOUND,
    ERROR_LEASE_PROVIDED,
    ERROR_TOO_MANY_OPS,
    CompactionRequest,
    Compare,
    DeleteRangeRequest,
    DeleteRangeResponse,
    EtcdError,
    EtcdRequest,
    EtcdResponse,
    Event,
    KeyValue,
    LeaseGrantRequest,
    PutRequest,
    PutResponse,
    RangeRequest,
    RangeResponse,
    ResponseHeader,
    TxnRequest,
    TxnResponse,
    prefix_range_end,
)

NOW = ApplyContext(now_ms=0)


def run(
    state: EtcdState, *requests: EtcdRequest
) -> tuple[EtcdState, list[EtcdResponse | EtcdError]]:
    responses = []
    for request in requests:
        state, response = apply(state, request, NOW)
        responses.append(response)
    return state, responses


def get(state: EtcdState, request: RangeRequest) -> RangeResponse:
    response = apply(state, request, NOW)[1]
    assert isinstance(response, RangeResponse)
    return response


def test_each_write_gets_the_next_revision_and_versions_count_modifications() -> None:
    state, responses = run(
        EtcdState(),
        PutRequest(key=b"foo", value=b"bar"),
        PutRequest(key=b"foo", value=b"baz", prev_kv=True),
    )
    assert [r.header.revision for r in responses if isinstance(r, PutResponse)] == [2, 3]
    second = responses[1]
    assert isinstance(second, PutResponse)
    assert second.prev_kv == KeyValue(
        key=b"foo", create_revision=2, mod_revision=2, version=1, value=b"bar"
    )
    assert get(state, RangeRequest(key=b"foo")).kvs == (
        KeyValue(key=b"foo", create_revision=2, mod_revision=3, version=2, value=b"baz"),
    )


def test_delete_resets_version_and_recreation_gets_a_new_create_revision() -> None:
    state, responses = run(
        EtcdState(),
        PutRequest(key=b"k", value=b"1"),
        DeleteRangeRequest(key=b"k", prev_kv=True),
        DeleteRangeRequest(key=b"k"),
        PutRequest(key=b"k", value=b"2"),
    )
    deleted, nothing = responses[1], responses[2]
    assert isinstance(deleted, DeleteRangeResponse)
    assert isinstance(nothing, DeleteRangeResponse)
    assert (deleted.deleted, deleted.header.revision, len(deleted.prev_kvs)) == (1, 3, 1)
    assert (nothing.deleted, nothing.header.revision) == (0, 3)
    assert get(state, RangeRequest(key=b"k")).kvs[0].create_revision == 4
    assert get(state, RangeRequest(key=b"k")).kvs[0].version == 1
    assert get(state, RangeRequest(key=b"k", revision=3)).kvs == ()
    assert get(state, RangeRequest(key=b"k", revision=2)).kvs[0].value == b"1"


def test_ranges_prefixes_all_keys_limit_and_count() -> None:
    keys = [b"a", b"b/1", b"b/2", b"b0", b"c"]
    state, _ = run(EtcdState(), *(PutRequest(key=k, value=k) for k in keys))
    prefix = get(state, RangeRequest(key=b"b/", range_end=prefix_range_end(b"b/")))
    assert [kv.key for kv in prefix.kvs] == [b"b/1", b"b/2"]
    from_b = get(state, RangeRequest(key=b"b", range_end=b"\x00"))
    assert [kv.key for kv in from_b.kvs] == [b"b/1", b"b/2", b"b0", b"c"]
    everything = get(state, RangeRequest(key=b"\x00", range_end=b"\x00", limit=2))
    assert ([kv.key for kv in everything.kvs], everything.more, everything.count) == (
        [b"a", b"b/1"],
        True,
        5,
    )
    counted = get(state, RangeRequest(key=b"\x00", range_end=b"\x00", count_only=True))
    assert (counted.kvs, counted.count) == ((), 5)
    keys_only = get(state, RangeRequest(key=b"a", keys_only=True))
    assert keys_only.kvs[0].value == b""
    newest = get(
        state, RangeRequest(key=b"\x00", range_end=b"\x00", sort_target="MOD", sort_order="DESCEND")
    )
    assert newest.kvs[0].key == b"c"


def test_revision_errors_future_and_compacted() -> None:
    state, responses = run(
        EtcdState(),
        PutRequest(key=b"k", value=b"1"),
        PutRequest(key=b"k", value=b"2"),
        CompactionRequest(revision=3),
        CompactionRequest(revision=3),
        CompactionRequest(revision=9),
        RangeRequest(key=b"k", revision=2),
        RangeRequest(key=b"k", revision=4),
    )
    assert responses[3:] == [
        ERROR_COMPACTED,
        ERROR_FUTURE_REVISION,
        ERROR_COMPACTED,
        ERROR_FUTURE_REVISION,
    ]
    assert get(state, RangeRequest(key=b"k", revision=3)).kvs[0].value == b"2"


def test_txn_compare_chooses_branch_and_one_revision_for_all_writes() -> None:
    state, _ = run(EtcdState(), PutRequest(key=b"a", value=b"1"))
    txn = TxnRequest(
        compare=(Compare(key=b"a", target="VALUE", result="EQUAL", value=b"1"),),
        success=(
            PutRequest(key=b"a", value=b"2"),
            PutRequest(key=b"b", value=b"2"),
            RangeRequest(key=b"a"),
        ),
        failure=(DeleteRangeRequest(key=b"a"),),
    )
    state, responses = run(state, txn, txn)
    first, second = responses
    assert isinstance(first, TxnResponse)
    assert isinstance(second, TxnResponse)
    assert (first.succeeded, first.header.revision) == (True, 3)
    read = first.responses[2]
    assert isinstance(read, RangeResponse)
    assert read.kvs[0].value == b"2"
    assert (second.succeeded, second.header.revision) == (False, 4)
    assert get(state, RangeRequest(key=b"a")).kvs == ()
    assert get(state, RangeRequest(key=b"b")).kvs[0].mod_revision == 3


def test_txn_compares_on_missing_keys_and_every_operator() -> None:
    def holds(compare: Compare) -> bool:
        response = apply(EtcdState(), TxnRequest(compare=(compare,)), NOW)[1]
        assert isinstance(response, TxnResponse)
        return response.succeeded

    assert holds(Compare(key=b"x", target="VERSION", result="EQUAL", version=0))
    assert holds(Compare(key=b"x", target="MOD", result="LESS", mod_revision=1))
    assert not holds(Compare(key=b"x", target="CREATE", result="GREATER", create_revision=0))
    assert holds(Compare(key=b"x", target="LEASE", result="NOT_EQUAL", lease=5))
    assert not holds(Compare(key=b"x", target="VALUE", result="NOT_EQUAL", value=b"v"))


def test_a_range_after_a_delete_in_the_same_txn_sees_the_key_gone() -> None:
    state, _ = run(EtcdState(), PutRequest(key=b"a", value=b"1"), PutRequest(key=b"b", value=b"1"))
    txn = TxnRequest(success=(DeleteRangeRequest(key=b"a"), RangeRequest(key=b"a", range_end=b"c")))
    _, (response,) = run(state, txn)
    assert isinstance(response, TxnResponse)
    read = response.responses[1]
    assert isinstance(read, RangeResponse)
    assert ([kv.key for kv in read.kvs], read.count) == ([b"b"], 1)


def test_a_range_in_a_txn_sees_a_key_the_txn_created() -> None:
    txn = TxnRequest(success=(PutRequest(key=b"x", value=b"1"), RangeRequest(key=b"x")))
    _, (response,) = run(EtcdState(), txn)
    assert isinstance(response, TxnResponse)
    read = response.responses[1]
    assert isinstance(read, RangeResponse)
    assert [(kv.key, kv.value, kv.create_revision) for kv in read.kvs] == [(b"x", b"1", 2)]


def test_ignore_value_and_ignore_lease_keep_the_current_ones() -> None:
    state, _ = run(
        EtcdState(),
        LeaseGrantRequest(ID=5, TTL=10),
        PutRequest(key=b"a", value=b"1", lease=5),  # revision 2
        PutRequest(key=b"a", ignore_value=True),  # revision 3: value kept, lease dropped
        PutRequest(key=b"b", value=b"1", lease=5),  # revision 4
        PutRequest(key=b"b", value=b"2", ignore_lease=True),  # revision 5: lease kept
    )
    a, b = get(state, RangeRequest(key=b"a", range_end=b"c")).kvs
    assert (a.value, a.lease, a.version) == (b"1", 0, 2)
    assert (b.value, b.lease, b.version) == (b"2", 5, 2)


def test_a_put_event_over_an_existing_key_carries_the_previous_value() -> None:
    state, _ = run(EtcdState(), PutRequest(key=b"a", value=b"1"), PutRequest(key=b"a", value=b"2"))
    previous = KeyValue(key=b"a", create_revision=2, mod_revision=2, version=1, value=b"1")
    current = KeyValue(key=b"a", create_revision=2, mod_revision=3, version=2, value=b"2")
    assert state.events[3] == (Event(type="PUT", kv=current, prev_kv=previous),)


def test_txn_compares_on_an_existing_key_with_every_operator() -> None:
    state, _ = run(EtcdState(), PutRequest(key=b"a", value=b"v"))  # revision 2, version 1

    def holds(compare: Compare) -> bool:
        response = apply(state, TxnRequest(compare=(compare,)), NOW)[1]
        assert isinstance(response, TxnResponse)
        return response.succeeded

    assert holds(Compare(key=b"a", target="VERSION", result="NOT_EQUAL", version=0))
    assert not holds(Compare(key=b"a", target="VERSION", result="NOT_EQUAL", version=1))
    assert not holds(Compare(key=b"a", target="VERSION", result="LESS", version=1))
    assert holds(Compare(key=b"a", target="VERSION", result="LESS", version=2))
    assert not holds(Compare(key=b"a", target="MOD", result="GREATER", mod_revision=2))
    assert holds(Compare(key=b"a", target="MOD", result="GREATER", mod_revision=1))
    assert holds(Compare(key=b"a", target="CREATE", result="EQUAL", create_revision=2))
    assert holds(Compare(key=b"a", target="VALUE", result="EQUAL", value=b"v"))
    assert not holds(Compare(key=b"a", target="VALUE", result="NOT_EQUAL", value=b"v"))
    # Values compare as bytes.
    assert holds(Compare(key=b"a", target="VALUE", result="LESS", value=b"w"))
    assert not holds(Compare(key=b"a", target="VALUE", result="LESS", value=b"v"))
    assert holds(Compare(key=b"a", target="VALUE", result="GREATER", value=b"u"))


def test_a_delete_event_carries_only_the_key_and_the_delete_revision() -> None:
    state, _ = run(
        EtcdState(), PutRequest(key=b"a", value=b"1"), DeleteRangeRequest(key=b"a", prev_kv=True)
    )
    previous = KeyValue(key=b"a", create_revision=2, mod_revision=2, version=1, value=b"1")
    assert state.events[3] == (
        Event(type="DELETE", kv=KeyValue(key=b"a", mod_revision=3), prev_kv=previous),
    )
    (event,) = state.events[3]
    assert (event.kv.create_revision, event.kv.version) == (0, 0)


def test_txn_validation_errors() -> None:
    duplicate = TxnRequest(success=(PutRequest(key=b"a"), PutRequest(key=b"a")))
    put_in_deleted_range = TxnRequest(
        success=(DeleteRangeRequest(key=b"a", range_end=b"c"), PutRequest(key=b"b"))
    )
    both_branches = TxnRequest(
        success=(TxnRequest(success=(PutRequest(key=b"a"),), failure=(PutRequest(key=b"a"),)),)
    )
    too_many = TxnRequest(success=tuple(RangeRequest(key=b"a") for _ in range(129)))
    _, responses = run(
        EtcdState(),
        duplicate,
        put_in_deleted_range,
        too_many,
        PutRequest(key=b""),
        PutRequest(key=b"a", ignore_value=True),
        PutRequest(key=b"a", ignore_lease=True, lease=5),
        PutRequest(key=b"a", lease=5),
    )
    assert responses == [
        ERROR_DUPLICATE_KEY,
        ERROR_DUPLICATE_KEY,
        ERROR_TOO_MANY_OPS,
        ERROR_KEY_NOT_PROVIDED,
        ERROR_KEY_NOT_FOUND,
        ERROR_LEASE_PROVIDED,
        ERROR_LEASE_NOT_FOUND,
    ]
    assert isinstance(apply(EtcdState(), both_branches, NOW)[1], TxnResponse)


def test_nested_txn_compares_see_the_state_before_the_txn() -> None:
    nested = TxnRequest(
        success=(
            PutRequest(key=b"a", value=b"1"),
            TxnRequest(
                compare=(Compare(key=b"a", target="VERSION", result="EQUAL", version=0),),
                success=(PutRequest(key=b"b", value=b"seen-before"),),
            ),
        )
    )
    state, _ = run(EtcdState(), nested)
    assert get(state, RangeRequest(key=b"b")).kvs[0].value == b"seen-before"
    assert state.revision == 2


def test_a_nested_txn_in_the_failure_branch_runs_its_own_chosen_branch() -> None:
    missing = Compare(key=b"z", target="VERSION", result="GREATER", version=0)  # false
    absent = Compare(key=b"z", target="VERSION", result="EQUAL", version=0)  # true
    txn = TxnRequest(
        compare=(missing,),
        success=(PutRequest(key=b"s", value=b"1"),),
        failure=(
            TxnRequest(
                compare=(absent,),
                success=(PutRequest(key=b"a", value=b"1"),),
                failure=(PutRequest(key=b"b", value=b"1"),),
            ),
        ),
    )
    state, (response,) = run(EtcdState(), txn)
    assert isinstance(response, TxnResponse)
    assert not response.succeeded
    assert [kv.key for kv in get(state, RangeRequest(key=b"a", range_end=b"t")).kvs] == [b"a"]


def test_only_the_chosen_branches_of_nested_txns_are_validated() -> None:
    absent = Compare(key=b"z", target="VERSION", result="EQUAL", version=0)  # true
    present = Compare(key=b"z", target="VERSION", result="GREATER", version=0)  # false

    def nested(compare: Compare) -> TxnRequest:
        # Lease 99 was never granted: a put that would attach to it is refused.
        return TxnRequest(
            success=(
                TxnRequest(
                    compare=(compare,),
                    success=(PutRequest(key=b"a", value=b"1", lease=99),),
                    failure=(PutRequest(key=b"a", value=b"2"),),
                ),
            )
        )

    _, responses = run(EtcdState(), nested(absent), nested(present))
    assert responses[0] == ERROR_LEASE_NOT_FOUND
    assert isinstance(responses[1], TxnResponse)


def test_responses_inside_a_txn_carry_the_revision_they_saw() -> None:
    # Observed on etcd 3.4.23: an operation before the txn's first write answers with the
    # revision before the txn, a write and everything after it with the txn's new revision, and
    # a nested txn's own header is empty.
    state, _ = run(EtcdState(), PutRequest(key=b"a", value=b"1"))  # revision 2
    txn = TxnRequest(
        success=(
            RangeRequest(key=b"a"),
            DeleteRangeRequest(key=b"z"),  # deletes nothing
            PutRequest(key=b"b", value=b"1"),
            RangeRequest(key=b"a"),
            DeleteRangeRequest(key=b"a"),
            TxnRequest(success=(RangeRequest(key=b"b"),)),
        )
    )
    _, (response,) = run(state, txn)
    assert isinstance(response, TxnResponse)
    assert response.header.revision == 3
    first, nothing, put, second, deleted, nested = response.responses
    assert isinstance(first, RangeResponse)
    assert isinstance(nothing, DeleteRangeResponse)
    assert isinstance(put, PutResponse)
    assert isinstance(second, RangeResponse)
    assert isinstance(deleted, DeleteRangeResponse)
    assert isinstance(nested, TxnResponse)
    assert [r.header.revision for r in (first, nothing, put, second, deleted)] == [2, 2, 3, 3, 3]
    assert nested.header == ResponseHeader()
    (inner,) = nested.responses
    assert isinstance(inner, RangeResponse)
    assert inner.header.revision == 3
