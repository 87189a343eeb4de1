"""impl/etcd leases (logical time) and watches (pure delivery) against etcd's documented rules."""

from impl.etcd.apply import ApplyContext, apply, expired_leases
from impl.etcd.store import EtcdState
from impl.etcd.watch import (
    PROGRESS_WATCH_ID,
    WatchStream,
    deliver,
    on_cancel,
    on_create,
    on_progress_request,
)
from models.etcd import (
    ERROR_LEASE_EXISTS,
    ERROR_LEASE_NOT_FOUND,
    CompactionRequest,
    DeleteRangeRequest,
    EtcdRequest,
    LeaseGrantRequest,
    LeaseGrantResponse,
    LeaseKeepAliveRequest,
    LeaseKeepAliveResponse,
    LeaseRevokeRequest,
    LeaseTimeToLiveRequest,
    LeaseTimeToLiveResponse,
    PutRequest,
    RangeRequest,
    RangeResponse,
    TxnRequest,
    WatchCreateRequest,
    prefix_range_end,
)


def at(state: EtcdState, now_ms: int, request: EtcdRequest) -> EtcdState:
    return apply(state, request, ApplyContext(now_ms=now_ms))[0]


def test_grant_raises_ttl_to_the_minimum_and_rejects_a_duplicate_id() -> None:
    state, granted = apply(EtcdState(), LeaseGrantRequest(ID=7, TTL=1), ApplyContext())
    assert isinstance(granted, LeaseGrantResponse)
    assert (granted.ID, granted.TTL) == (7, 2)
    assert apply(state, LeaseGrantRequest(ID=7, TTL=5), ApplyContext())[1] == ERROR_LEASE_EXISTS
    assert apply(state, LeaseRevokeRequest(ID=8), ApplyContext())[1] == ERROR_LEASE_NOT_FOUND


def test_revoke_deletes_attached_keys_in_one_revision() -> None:
    state = at(EtcdState(), 0, LeaseGrantRequest(ID=5, TTL=10))
    state = at(state, 0, PutRequest(key=b"a", value=b"1", lease=5))
    state = at(state, 0, PutRequest(key=b"b", value=b"1", lease=5))
    state = at(state, 0, PutRequest(key=b"c", value=b"1"))
    assert state.revision == 4
    state = at(state, 0, LeaseRevokeRequest(ID=5))
    assert state.revision == 5
    everything = apply(state, RangeRequest(key=b"\x00", range_end=b"\x00"), ApplyContext())[1]
    assert isinstance(everything, RangeResponse)
    assert [kv.key for kv in everything.kvs] == [b"c"]
    assert [event.kv.key for event in state.events[5]] == [b"a", b"b"]


def test_one_txn_attaching_two_keys_to_a_lease_attaches_both() -> None:
    state = at(EtcdState(), 0, LeaseGrantRequest(ID=5, TTL=10))
    both = TxnRequest(
        success=(
            PutRequest(key=b"a", value=b"1", lease=5),
            PutRequest(key=b"b", value=b"1", lease=5),
        )
    )
    state = at(state, 0, both)
    assert state.leases[5].keys == frozenset({b"a", b"b"})
    state = at(state, 0, LeaseRevokeRequest(ID=5))
    everything = apply(state, RangeRequest(key=b"\x00", range_end=b"\x00"), ApplyContext())[1]
    assert isinstance(everything, RangeResponse)
    assert everything.kvs == ()


def test_rewriting_a_key_without_lease_detaches_it() -> None:
    state = at(EtcdState(), 0, LeaseGrantRequest(ID=5, TTL=10))
    state = at(state, 0, PutRequest(key=b"a", value=b"1", lease=5))
    state = at(state, 0, PutRequest(key=b"a", value=b"2"))
    state = at(state, 0, LeaseRevokeRequest(ID=5))
    assert state.revision == 3
    state = at(state, 0, LeaseGrantRequest(ID=6, TTL=10))
    state = at(state, 0, PutRequest(key=b"a", value=b"3", lease=6))
    state = at(state, 0, DeleteRangeRequest(key=b"a"))
    assert state.leases[6].keys == frozenset()


def test_expiry_follows_logical_time_and_keepalive_moves_the_deadline() -> None:
    state = at(EtcdState(), 1_000, LeaseGrantRequest(ID=5, TTL=10))
    assert expired_leases(state, 10_999) == ()
    assert expired_leases(state, 11_000) == (5,)
    state, renewed = apply(state, LeaseKeepAliveRequest(ID=5), ApplyContext(now_ms=9_000))
    assert isinstance(renewed, LeaseKeepAliveResponse)
    assert renewed.TTL == 10
    assert expired_leases(state, 18_999) == ()
    ttl = apply(state, LeaseTimeToLiveRequest(ID=5), ApplyContext(now_ms=12_500))[1]
    assert isinstance(ttl, LeaseTimeToLiveResponse)
    assert (ttl.TTL, ttl.grantedTTL) == (6, 10)
    unknown = apply(state, LeaseKeepAliveRequest(ID=99), ApplyContext())[1]
    assert isinstance(unknown, LeaseKeepAliveResponse)
    assert unknown.TTL == 0


def written(*requests: EtcdRequest) -> EtcdState:
    state = EtcdState()
    for request in requests:
        state = at(state, 0, request)
    return state


def test_watch_from_history_delivers_each_revision_whole_and_in_order() -> None:
    state = written(
        PutRequest(key=b"a", value=b"1"),
        TxnRequest(success=(PutRequest(key=b"a", value=b"2"), PutRequest(key=b"b", value=b"1"))),
        DeleteRangeRequest(key=b"a"),
    )
    request = WatchCreateRequest(key=b"a", range_end=b"c", start_revision=1, prev_kv=True)
    stream, responses = on_create(state, WatchStream(), request)
    assert responses[0].created
    events = responses[1].events
    assert [(e.type, e.kv.key, e.kv.mod_revision) for e in events] == [
        ("PUT", b"a", 2),
        ("PUT", b"a", 3),
        ("PUT", b"b", 3),
        ("DELETE", b"a", 4),
    ]
    assert events[3].prev_kv is not None
    assert events[3].prev_kv.value == b"2"
    later = at(state, 0, PutRequest(key=b"b", value=b"2"))
    stream, more = deliver(later, stream)
    assert [(e.kv.key, e.kv.version) for e in more[0].events] == [(b"b", 2)]
    assert deliver(later, stream)[1] == ()


def test_watch_filters_and_a_cap_that_only_cuts_between_revisions() -> None:
    state = written(
        TxnRequest(success=(PutRequest(key=b"k1"), PutRequest(key=b"k2"))),
        DeleteRangeRequest(key=b"k", range_end=prefix_range_end(b"k")),
    )
    no_put = WatchCreateRequest(
        key=b"k", range_end=prefix_range_end(b"k"), start_revision=1, filters=("NOPUT",)
    )
    _, responses = on_create(state, WatchStream(), no_put)
    assert [e.type for e in responses[1].events] == ["DELETE", "DELETE"]
    everything = WatchCreateRequest(key=b"k", range_end=prefix_range_end(b"k"), start_revision=1)
    stream, _ = on_create(EtcdState(), WatchStream(), everything)
    _, capped = deliver(state, stream, max_events=1)
    assert [len(r.events) for r in capped] == [2]


def test_compacted_start_revision_cancels_with_the_compact_revision() -> None:
    state = written(
        PutRequest(key=b"a"),
        PutRequest(key=b"a"),
        PutRequest(key=b"a"),
        CompactionRequest(revision=3),
    )
    _, responses = on_create(state, WatchStream(), WatchCreateRequest(key=b"a", start_revision=2))
    assert (responses[1].canceled, responses[1].compact_revision) == (True, 3)
    _, kept = on_create(state, WatchStream(), WatchCreateRequest(key=b"a", start_revision=3))
    assert [e.kv.mod_revision for e in kept[1].events] == [3, 4]


def test_progress_follows_pending_events_and_cancel_stops_delivery() -> None:
    state = written(PutRequest(key=b"a"))
    stream, _ = on_create(EtcdState(), WatchStream(), WatchCreateRequest(key=b"a"))
    stream, responses = on_progress_request(state, stream)
    assert len(responses[0].events) == 1
    assert (responses[1].watch_id, responses[1].header.revision) == (PROGRESS_WATCH_ID, 2)
    stream, cancelled = on_cancel(state, stream, 0)
    assert cancelled[0].canceled
    assert deliver(at(state, 0, PutRequest(key=b"a")), stream)[1] == ()


def test_progress_notifications_only_for_synced_watchers_not_future_ones() -> None:
    from impl.etcd.watch import progress_notifications

    state = written(PutRequest(key=b"a"))
    stream, _ = on_create(state, WatchStream(), WatchCreateRequest(key=b"a", progress_notify=True))
    stream, _ = on_create(
        state,
        stream,
        WatchCreateRequest(key=b"a", start_revision=1000, progress_notify=True),
    )
    stream, _ = on_create(state, stream, WatchCreateRequest(key=b"b"))
    notified = progress_notifications(state, stream)
    assert [(r.watch_id, r.header.revision) for r in notified] == [(0, 2)]
