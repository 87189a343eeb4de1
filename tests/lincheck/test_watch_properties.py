"""Watch checker properties: a stream built from the replay of random etcd writes, in any split
into responses that keeps revisions whole, passes; dropping one event breaks Reliable."""

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from models.etcd import (
    DeleteRangeRequest,
    Event,
    PutRequest,
    TxnRequest,
    WatchCreateRequest,
    WatchResponse,
)
from models.history import Operation, OperationRecord, WatchMessage, WatchRecord
from spec.etcd.keyspace import EtcdState, apply
from spec.etcd.watch import check_watches, replay
from tests.lincheck.builders import header, operation

KEYS = st.sampled_from([b"a", b"b", b"c"])
WRITES = st.one_of(
    st.builds(PutRequest, key=KEYS, value=st.sampled_from([b"1", b"2"])),
    st.builds(DeleteRangeRequest, key=KEYS),
    st.builds(
        TxnRequest,
        success=st.tuples(
            st.builds(PutRequest, key=st.just(b"a"), value=st.just(b"t")),
            st.builds(PutRequest, key=st.just(b"b"), value=st.just(b"t")),
        ),
    ),
)


def sequential(requests: list[Operation]) -> list[OperationRecord]:
    state = EtcdState()
    records = []
    for number, request in enumerate(requests):
        result, state = apply(state, request)
        records.append(operation(1, 2 * number, 2 * number + 1, request, result))
    return records


def message(revision: int, events: tuple[Event, ...], created: bool = False) -> WatchMessage:
    response = WatchResponse(header=header(revision), created=created, events=events)
    return WatchMessage(time=revision, response=response)


@settings(max_examples=60)
@given(st.lists(WRITES, min_size=1, max_size=10), st.data())
def test_stream_from_the_replay_passes_and_a_gap_breaks_reliable(
    requests: list[Operation], data: st.DataObject
) -> None:
    records = sequential(requests)
    order = list(range(len(records)))
    history = replay(records, order)
    revisions = sorted(history.events)
    assume(revisions)
    batches: list[tuple[int, tuple[Event, ...]]] = []
    for revision in revisions:
        batch = history.events[revision]
        merge: bool = data.draw(st.booleans())
        if batches and merge:
            # Several whole revisions in one response are allowed.
            batch = batches.pop()[1] + batch
        batches.append((revision, batch))
    request = WatchCreateRequest(key=b"\0", range_end=b"\0", start_revision=2, prev_kv=True)
    created = message(1, (), created=True)
    good = [created, *(message(revision, batch) for revision, batch in batches)]
    record = WatchRecord(client_id=2, request=request, messages=tuple(good))
    assert check_watches(records, [record], order) == []
    # Drop one event that is not the last one: the watch saw a later revision, so it must
    # have seen this one too.
    flat = [(b, e) for b, (_, batch) in enumerate(batches) for e in range(len(batch))]
    assume(len(flat) >= 2)
    dropped_batch, dropped_event = data.draw(st.sampled_from(flat[:-1]))
    revision, batch = batches[dropped_batch]
    kept = batch[:dropped_event] + batch[dropped_event + 1 :]
    broken = list(good)
    broken[dropped_batch + 1] = message(revision, kept)
    broken_record = WatchRecord(client_id=2, request=request, messages=tuple(broken))
    found = {problem.guarantee for problem in check_watches(records, [broken_record], order)}
    assert "Reliable" in found or "Resumable" in found
