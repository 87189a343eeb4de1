"""Differential property test: impl/etcd against spec/etcd's sequential keyspace model (written
independently by another helper), on generated etcd operations. Both must give the same answer
(as the model normalizes it) to every operation of every generated sequence."""

from hypothesis import given, settings
from hypothesis import strategies as st

from impl.etcd.apply import ApplyContext, apply
from impl.etcd.store import EtcdState
from models.etcd import (
    CompactionRequest,
    Compare,
    DeleteRangeRequest,
    LeaseGrantRequest,
    LeaseKeepAliveRequest,
    LeaseLeasesResponse,
    LeaseRevokeRequest,
    LeaseTimeToLiveResponse,
    PutRequest,
    RangeRequest,
    TxnRequest,
)
from runner.etcd.conform_record import WorkloadRequest
from spec.etcd import keyspace

KEYS = (b"key0", b"key1", b"key2")
LEASES = (1, 2)

keys = st.sampled_from(KEYS)
range_ends = st.sampled_from((b"", b"key2", b"\x00"))
values = st.sampled_from((b"x", b"y"))
leases = st.sampled_from((0, *LEASES))
puts = st.builds(PutRequest, key=keys, value=values, lease=leases, prev_kv=st.booleans())
deletes = st.builds(DeleteRangeRequest, key=keys, range_end=range_ends, prev_kv=st.booleans())
ranges = st.builds(
    RangeRequest,
    key=keys,
    range_end=range_ends,
    revision=st.integers(0, 8),
    limit=st.integers(0, 2),
    keys_only=st.booleans(),
    count_only=st.booleans(),
)
results = st.sampled_from(("EQUAL", "GREATER", "LESS", "NOT_EQUAL"))
compares = st.one_of(
    st.builds(Compare, key=keys, target=st.just("VERSION"), result=results,
              version=st.integers(0, 2)),
    st.builds(Compare, key=keys, target=st.just("MOD"), result=results,
              mod_revision=st.integers(0, 6)),
    st.builds(Compare, key=keys, target=st.just("VALUE"), result=results, value=values),
    st.builds(Compare, key=keys, target=st.just("LEASE"), result=results, lease=leases),
    st.builds(Compare, key=keys, target=st.just("CREATE"), result=results,
              create_revision=st.integers(0, 4)),
)  # fmt: skip
branch = st.lists(st.one_of(puts, deletes, ranges), max_size=3).map(tuple)
txns = st.builds(
    TxnRequest, compare=st.lists(compares, max_size=2).map(tuple), success=branch, failure=branch
)
requests: st.SearchStrategy[WorkloadRequest] = st.one_of(
    puts, deletes, ranges, txns,
    st.builds(CompactionRequest, revision=st.integers(0, 8)),
    st.builds(LeaseGrantRequest, ID=st.sampled_from(LEASES), TTL=st.just(60)),
    st.builds(LeaseRevokeRequest, ID=st.sampled_from(LEASES)),
    st.builds(LeaseKeepAliveRequest, ID=st.sampled_from(LEASES)),
)  # fmt: skip


@settings(max_examples=200)
@given(st.lists(requests, max_size=25))
def test_impl_answers_like_the_spec_model(sequence: list[WorkloadRequest]) -> None:
    state = EtcdState()
    model = keyspace.EtcdState()
    for request in sequence:
        state, response = apply(state, request, ApplyContext())
        expected, model = keyspace.apply(model, request)
        # Every request here is one the spec models, so the response is one a history holds.
        assert not isinstance(response, LeaseTimeToLiveResponse | LeaseLeasesResponse)
        assert keyspace.normalize(response) == keyspace.normalize(expected), request
