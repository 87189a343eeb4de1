"""The ``read_index`` cluster action: a node's ReadIndex answers reach the caller in ``Applied``,
and a read index appends nothing to any log (Raft thesis section 6.4)."""

from __future__ import annotations

from models.raft import NO_NODE, ReadIndexDropped, ReadIndexReady
from models.raft_world import (
    ClusterAction,
    Crash,
    Deliver,
    DrawRandom,
    Propose,
    RaftSetup,
    RequestReadIndex,
    Tick,
)
from runner.raft.cluster import (
    ClusterApplied,
    ClusterConfig,
    ClusterState,
    NotEnabled,
    apply_action,
    cluster_config,
    deliverable,
    initial_state,
)

SETUP = RaftSetup(
    nodes=3, spare_nodes=0, election_timeout_ticks=10, heartbeat_interval_ticks=1,
    pre_vote=False, check_quorum=True, max_entries_per_append=64, max_inflight_appends=16,
    mutant="none", asymmetric_partitions=False, max_crashed=1, max_in_flight=64,
)  # fmt: skip


def step(config: ClusterConfig, state: ClusterState, action: ClusterAction) -> ClusterApplied:
    result = apply_action(config, state, action)
    assert not isinstance(result, NotEnabled), result
    return result


def settle(config: ClusterConfig, state: ClusterState) -> tuple[ClusterState, list[object]]:
    """Answer random draws with the low end and deliver every message, until quiet."""
    commands: list[object] = []
    for _ in range(500):
        draws = [n for n, s in sorted(state.nodes.items()) if s.random_request is not None]
        ready = [m for m in sorted(state.in_flight) if deliverable(config, state, m)]
        if not draws and not ready:
            return state, commands
        if draws:
            node = draws[0]
            request = state.nodes[node].random_request
            assert request is not None
            applied = step(config, state, DrawRandom(node=node, value=request.low))
        else:
            applied = step(config, state, Deliver(message=ready[0]))
        state = applied.state
        commands.extend(command for _, command in applied.outputs)
    raise AssertionError("the cluster did not settle")


def elect_node_1(config: ClusterConfig) -> ClusterState:
    """Node 1 campaigns first (only it is ticked) and wins; its empty entry commits."""
    state, _ = settle(config, initial_state(config).state)
    for _ in range(30):
        node = state.nodes[1].state
        assert node is not None
        if node.role == "leader":
            break
        state = step(config, state, Tick(node=1)).state
        state, _ = settle(config, state)
    leader = state.nodes[1].state
    assert leader is not None
    assert leader.role == "leader"
    return state


def last_indexes(state: ClusterState) -> dict[int, int]:
    return {node: slot.storage.last_index() for node, slot in state.nodes.items()}


def test_a_read_index_at_a_follower_comes_back_with_the_leader_commit_index() -> None:
    config = cluster_config(SETUP, max_in_flight=256)
    state = elect_node_1(config)
    state = step(config, state, Propose(node=1, value="x=1")).state
    state, _ = settle(config, state)
    leader = state.nodes[1].state
    assert leader is not None
    # One empty entry at the election, one proposal: both committed.
    assert leader.persisted.commit_index == 2
    before = last_indexes(state)
    assert before == {1: 2, 2: 2, 3: 2}
    applied = step(config, state, RequestReadIndex(node=2, context="r1"))
    state, later = settle(config, applied.state)
    answers = [c for c in later if isinstance(c, ReadIndexReady | ReadIndexDropped)]
    assert answers == [ReadIndexReady(context=b"r1", index=2)]
    assert last_indexes(state) == before


def test_a_read_index_at_a_leader_is_answered_after_a_heartbeat_quorum() -> None:
    config = cluster_config(SETUP, max_in_flight=256)
    state = elect_node_1(config)
    applied = step(config, state, RequestReadIndex(node=1, context="r2"))
    assert not any(isinstance(c, ReadIndexReady) for _, c in applied.outputs)
    assert applied.state.in_flight, "the leader sends a heartbeat round"
    state, later = settle(config, applied.state)
    assert [c for c in later if isinstance(c, ReadIndexReady)] == [
        ReadIndexReady(context=b"r2", index=1)
    ]


def test_without_a_leader_the_read_index_is_dropped_in_the_same_action() -> None:
    config = cluster_config(SETUP, max_in_flight=256)
    state, _ = settle(config, initial_state(config).state)
    follower = state.nodes[2].state
    assert follower is not None
    assert follower.lead == NO_NODE
    applied = step(config, state, RequestReadIndex(node=2, context="r3"))
    assert (2, ReadIndexDropped(context=b"r3", reason="no leader")) in applied.outputs


def test_a_read_index_at_a_down_node_is_not_enabled() -> None:
    config = cluster_config(SETUP, max_in_flight=256)
    state = step(config, initial_state(config).state, Crash(node=3)).state
    result = apply_action(config, state, RequestReadIndex(node=3, context="r4"))
    assert isinstance(result, NotEnabled)
    assert "down" in result.reason
