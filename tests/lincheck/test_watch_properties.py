"""Watch checker properties: a stream built from the replay of random etcd writes, in any split
into responses that keeps revisions whole, passes; dropping one event breaks Reliable."""

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from models.history import (
    EtcdDelete,
    EtcdPut,
    EtcdTxn,
    Operation,
    OperationRecord,
    WatchEvent,
    WatchRecord,
    WatchRequest,
    WatchResponse,
)
from spec.etcd.keyspace import EtcdState, apply
from spec.etcd.watch import check_watches, replay
from tests.lincheck.builders import operation

WRITES = st.one_of(
    st.builds(EtcdPut, key=st.sampled_from("abc"), value=st.sampled_from(["1", "2"])),
    st.builds(EtcdDelete, key=st.sampled_from("abc")),
    st.builds(
        EtcdTxn,
        success=st.tuples(
            st.builds(EtcdPut, key=st.just("a"), value=st.just("t")),
            st.builds(EtcdPut, key=st.just("b"), value=st.just("t")),
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
    responses = [WatchResponse(time=0, revision=1, created=True)]
    for revision in revisions:
        batch: tuple[WatchEvent, ...] = tuple(
            WatchEvent(type=event.type, kv=event.kv, prev_kv=event.prev_kv)
            for event in history.events[revision]
        )
        merge: bool = data.draw(st.booleans())
        if responses[-1].events and merge:
            # Several whole revisions in one response are allowed.
            batch = responses.pop().events + batch
        responses.append(WatchResponse(time=revision, revision=revision, events=batch))
    request = WatchRequest(key="\0", range_end="\0", start_revision=2, prev_kv=True)
    good = WatchRecord(client_id=2, request=request, responses=tuple(responses))
    assert check_watches(records, [good], order) == []
    # Drop one event that is not the last one: the watch saw a later revision, so it must
    # have seen this one too.
    flat = [(r, e) for r, response in enumerate(responses) for e in range(len(response.events))]
    assume(len(flat) >= 2)
    dropped_response, dropped_event = data.draw(st.sampled_from(flat[:-1]))
    broken = list(responses)
    kept = list(broken[dropped_response].events)
    del kept[dropped_event]
    broken[dropped_response] = WatchResponse(
        time=broken[dropped_response].time,
        revision=broken[dropped_response].revision,
        events=tuple(kept),
    )
    broken_record = WatchRecord(client_id=2, request=request, responses=tuple(broken))
    found = {problem.guarantee for problem in check_watches(records, [broken_record], order)}
    assert "Reliable" in found or "Resumable" in found
