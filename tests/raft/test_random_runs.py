"""Random runs of a small cluster under faults (reordering, loss, duplication, crashes,
partitions) and client operations, checked by ``spec.raft`` after every step. This is a quick
property test of ``impl.raft``; the seeded simulator lives in the runner."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from models.raft import (
    ConfChangeSingle,
    ConfChangeV2,
    CreateSnapshot,
    Propose,
    ProposeConfChange,
    ReadIndexRequested,
    SnapshotStatusReported,
    TransferLeadership,
)
from tests.raft.cluster import Cluster

NODES = st.integers(min_value=1, max_value=4)
CHANGES = st.sampled_from(
    [
        ConfChangeV2(changes=(ConfChangeSingle(type="add_learner_node", node_id=4),)),
        ConfChangeV2(changes=(ConfChangeSingle(type="add_node", node_id=4),)),
        ConfChangeV2(changes=(ConfChangeSingle(type="remove_node", node_id=3),)),
        ConfChangeV2(
            changes=(
                ConfChangeSingle(type="add_node", node_id=4),
                ConfChangeSingle(type="remove_node", node_id=2),
            )
        ),
        ConfChangeV2(
            transition="explicit", changes=(ConfChangeSingle(type="add_node", node_id=3),)
        ),
        ConfChangeV2(),
    ]
)
ACTIONS = st.one_of(
    st.tuples(st.just("tick"), st.integers(min_value=1, max_value=6)),
    st.tuples(st.just("deliver"), st.integers(min_value=0, max_value=6)),
    st.tuples(st.just("deliver_all"), st.just(0)),
    st.tuples(st.just("drop"), st.integers(min_value=0, max_value=6)),
    st.tuples(st.just("duplicate"), st.integers(min_value=0, max_value=6)),
    st.tuples(st.just("propose"), NODES),
    st.tuples(st.just("crash"), NODES),
    st.tuples(st.just("restart"), NODES),
    st.tuples(st.just("isolate"), NODES),
    st.tuples(st.just("heal"), st.just(0)),
    st.tuples(st.just("snapshot"), NODES),
    st.tuples(st.just("transfer"), st.tuples(NODES, NODES)),
    st.tuples(st.just("read"), NODES),
    st.tuples(st.just("conf"), st.tuples(NODES, CHANGES)),
)


def act(cluster: Cluster, action: tuple[str, object], number: int) -> None:
    kind, argument = action
    up = [node_id for node_id, state in sorted(cluster.states.items()) if state is not None]
    if kind == "tick":
        assert isinstance(argument, int)
        for _ in range(argument):
            for node_id in up:
                cluster.tick(node_id)
    elif kind == "deliver":
        assert isinstance(argument, int)
        cluster.deliver_one(argument)
    elif kind == "deliver_all":
        cluster.pump(200)
    elif kind == "drop" and cluster.queue:
        assert isinstance(argument, int)
        cluster.queue.pop(min(argument, len(cluster.queue) - 1))
    elif kind == "duplicate" and cluster.queue:
        assert isinstance(argument, int)
        cluster.queue.append(cluster.queue[min(argument, len(cluster.queue) - 1)])
    elif kind == "crash" and argument in up and len(up) > 1:
        assert isinstance(argument, int)
        cluster.crash(argument)
    elif kind == "restart" and argument not in up:
        assert isinstance(argument, int)
        cluster.restart(argument)
    elif kind == "isolate":
        assert isinstance(argument, int)
        cluster.isolate(argument)
    elif kind == "heal":
        cluster.heal()
    elif argument in up or (isinstance(argument, tuple) and argument[0] in up):
        _client(cluster, kind, argument, number)


def _client(cluster: Cluster, kind: str, argument: object, number: int) -> None:
    if kind == "propose":
        assert isinstance(argument, int)
        cluster.step(argument, Propose(data=b"p%d" % number))
    elif kind == "snapshot":
        assert isinstance(argument, int)
        state = cluster.state(argument)
        cluster.step(argument, CreateSnapshot(index=state.applied_index, data=b"s"))
        for other in range(1, 5):  # a lost MsgSnap is reported (etcd ReportSnapshot)
            cluster.step(argument, SnapshotStatusReported(node_id=other, failed=True))
    elif kind == "transfer":
        assert isinstance(argument, tuple)
        cluster.step(argument[0], TransferLeadership(transferee=argument[1]))
    elif kind == "read":
        assert isinstance(argument, int)
        cluster.step(argument, ReadIndexRequested(context=b"r%d" % number))
    elif kind == "conf":
        assert isinstance(argument, tuple)
        cluster.step(argument[0], ProposeConfChange(change=argument[1]))


@settings(max_examples=60, deadline=None)
@given(
    actions=st.lists(ACTIONS, min_size=10, max_size=120),
    pre_vote=st.booleans(),
    check_quorum=st.booleans(),
)
def test_random_runs_keep_every_safety_property(
    actions: list[tuple[str, object]], pre_vote: bool, check_quorum: bool
) -> None:
    cluster = Cluster.create(
        [1, 2, 3, 4],
        voters=[1, 2, 3],
        pre_vote=pre_vote,
        check_quorum=check_quorum,
        election_timeout_ticks=4,
        max_entries_per_append=3,
        max_inflight_appends=4,
    )
    checker = cluster.checked()
    for number, action in enumerate(actions):
        act(cluster, action, number)
        assert checker.violations == [], (number, action, checker.violations)
        if len(cluster.queue) > 500:
            cluster.queue = cluster.queue[-500:]
