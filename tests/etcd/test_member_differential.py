"""Differential property test: a 3-member cluster of etcd member machines answers any
sequence of requests, each sent to a member drawn by the test and answered before the next,
exactly as impl/etcd's state machine applied in that order (one store, no Raft). Raft,
forwarding, ReadIndex and snapshots must be invisible to a sequential client."""

from hypothesis import given, settings
from hypothesis import strategies as st

from impl.etcd.apply import ApplyContext, apply
from impl.etcd.store import EtcdState
from runner.etcd.conform_record import WorkloadRequest
from runner.etcd.member_network import MemberCluster
from tests.etcd.test_differential_spec import requests


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(requests, st.integers(1, 3)), max_size=12),
    st.integers(0, 2**16),
    st.sampled_from((3, 1000)),
)
def test_members_answer_like_one_store(
    sequence: list[tuple[WorkloadRequest, int]], seed: int, snapshot_every: int
) -> None:
    cluster = MemberCluster(3, seed=seed, snapshot_every_entries=snapshot_every)
    cluster.wait_for_leader()
    store = EtcdState()
    for request, node in sequence:
        store, expected = apply(store, request, ApplyContext())
        assert cluster.call(node, request) == expected, (request, node)
