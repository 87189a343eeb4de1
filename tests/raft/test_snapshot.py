"""Log compaction and InstallSnapshot (paper section 7; etcd MsgSnap, ReportSnapshot)."""

from __future__ import annotations

from models.raft import (
    ApplySnapshot,
    ConfChangeSingle,
    ConfChangeV2,
    ConfState,
    CreateSnapshot,
    MsgAppResp,
    MsgSnap,
    PersistSnapshot,
    Propose,
    ProposeConfChange,
    RaftConfig,
    Snapshot,
    SnapshotMetadata,
    SnapshotStatusReported,
)
from spec.raft import invariants as names
from tests.raft.builders import deliver, node, of_type, stored
from tests.raft.cluster import Checker, Cluster


def leader_with_lagging_follower(entries: int = 5) -> tuple[Cluster, Checker]:
    """Leader 1 commits ``entries`` proposals with node 2 while node 3 is cut off, then
    snapshots at its applied index (compacting its whole log)."""
    cluster = Cluster.create([1, 2, 3])
    checker = cluster.checked()
    cluster.elect(1)
    cluster.isolate(3)
    for number in range(entries):
        cluster.step(1, Propose(data=b"v%d" % number))
        cluster.deliver_all()
    cluster.tick(1)
    cluster.deliver_all()
    applied = cluster.state(1).applied_index
    assert applied == entries + 1
    step = cluster.step(1, CreateSnapshot(index=applied, data=b"state@%d" % applied))
    assert of_type(step, PersistSnapshot) == [
        PersistSnapshot(snapshot=cluster.state(1).persisted.snapshot, discard_log=False)
    ]
    return cluster, checker


def test_create_snapshot_compacts_the_log() -> None:
    cluster, _ = leader_with_lagging_follower()
    persisted = cluster.state(1).persisted
    assert persisted.snapshot.metadata == SnapshotMetadata(
        index=6, term=1, conf_state=ConfState(voters=(1, 2, 3))
    )
    assert persisted.snapshot.data == b"state@6"
    assert persisted.log == ()
    assert persisted.term_at(6) == 1
    assert persisted.term_at(5) is None


def test_create_snapshot_out_of_date_or_unapplied_is_ignored() -> None:
    cluster, _ = leader_with_lagging_follower()
    state = cluster.state(1)
    for index in (3, 6, 9):  # older, equal to the stored snapshot, beyond applied
        assert cluster.step(1, CreateSnapshot(index=index, data=b"x")).state == state


def test_lagging_follower_installs_snapshot_then_catches_up() -> None:
    cluster, checker = leader_with_lagging_follower()
    cluster.step(1, Propose(data=b"after"))
    cluster.heal()
    for _ in range(3):
        cluster.tick(1)
        cluster.deliver_all()
    follower = cluster.state(3)
    assert any(isinstance(m, MsgSnap) and m.to_id == 3 for m in cluster.sent(1))
    assert [c for c in cluster.commands[3] if isinstance(c, ApplySnapshot)] == [
        ApplySnapshot(snapshot=cluster.state(1).persisted.snapshot)
    ]
    assert follower.persisted.snapshot.metadata.index == 6
    assert [e.data for e in follower.persisted.log] == [b"after"]
    assert follower.commit_index == cluster.state(1).commit_index == 7
    progress = {p.node_id: p for p in cluster.state(1).progress}
    assert (progress[3].state, progress[3].match_index) == ("replicate", 7)
    assert names.SNAPSHOT_INSTALLED in checker.history.sometimes_seen
    assert checker.violations == []


def test_lost_snapshot_is_retried_after_failure_report() -> None:
    cluster, checker = leader_with_lagging_follower()
    cluster.heal()
    cluster.tick(1)
    cluster.deliver_all_until(lambda: any(isinstance(m, MsgSnap) for m in cluster.queue))
    lost = cluster.take(lambda m: isinstance(m, MsgSnap))
    assert len(lost) == 1
    cluster.deliver_all()
    progress = {p.node_id: p for p in cluster.state(1).progress}
    assert progress[3].state == "snapshot"
    # Paused in snapshot state: heartbeats go out but no second MsgSnap.
    cluster.tick(1)
    cluster.deliver_all()
    assert not any(isinstance(m, MsgSnap) for m in cluster.queue)
    cluster.step(1, SnapshotStatusReported(node_id=3, failed=True))
    progress = {p.node_id: p for p in cluster.state(1).progress}
    assert (progress[3].state, progress[3].probe_sent) == ("probe", True)
    cluster.tick(1)
    cluster.deliver_all()
    assert cluster.state(3).persisted.snapshot.metadata.index == 6
    assert checker.violations == []


def test_follower_ignores_snapshot_not_ahead_of_commit() -> None:
    config, state = node(2, stored([1, 1, 1], term=1, commit_index=3))
    snapshot = Snapshot(
        metadata=SnapshotMetadata(index=2, term=1, conf_state=ConfState(voters=(1, 2, 3)))
    )
    step = deliver(config, state, MsgSnap(from_id=1, to_id=2, term=1, snapshot=snapshot))
    assert step.state.persisted == state.persisted
    assert [c.message for c in step.commands if hasattr(c, "message")] == [
        MsgAppResp(from_id=2, to_id=1, term=1, index=3)
    ]


def test_follower_fast_forwards_when_log_holds_the_snapshot_entry() -> None:
    """The snapshot's last entry is already in the log: only the commit index moves."""
    config, state = node(2, stored([1, 1, 1, 1], term=1, commit_index=1))
    snapshot = Snapshot(
        metadata=SnapshotMetadata(index=3, term=1, conf_state=ConfState(voters=(1, 2, 3)))
    )
    step = deliver(config, state, MsgSnap(from_id=1, to_id=2, term=1, snapshot=snapshot))
    assert step.state.persisted.log == state.persisted.log
    assert step.state.commit_index == 3
    assert step.state.applied_index == 3
    assert of_type(step, ApplySnapshot) == []


def test_follower_installs_divergent_snapshot_and_discards_log() -> None:
    config, state = node(2, stored([1, 1, 2, 2], term=2, commit_index=1))
    snapshot = Snapshot(
        metadata=SnapshotMetadata(index=3, term=3, conf_state=ConfState(voters=(1, 2, 3))),
        data=b"app",
    )
    step = deliver(config, state, MsgSnap(from_id=1, to_id=2, term=3, snapshot=snapshot))
    assert step.state.persisted.snapshot == snapshot
    assert step.state.persisted.log == ()
    assert (step.state.commit_index, step.state.applied_index) == (3, 3)
    assert of_type(step, PersistSnapshot) == [PersistSnapshot(snapshot=snapshot, discard_log=True)]
    assert of_type(step, ApplySnapshot) == [ApplySnapshot(snapshot=snapshot)]


def test_restart_from_snapshot() -> None:
    cluster, checker = leader_with_lagging_follower()
    cluster.crash(1)
    cluster.restart(1)
    state = cluster.state(1)
    assert (state.applied_index, state.commit_index) == (6, 6)
    restart_commands = cluster.commands[1][-10:]
    assert ApplySnapshot(snapshot=state.persisted.snapshot) in restart_commands
    assert checker.violations == []


def test_member_missing_from_the_snapshot_waits_for_a_newer_one() -> None:
    """A learner added after the leader's snapshot refuses that snapshot (it is not in its
    configuration; etcd). The leader retries once per heartbeat, not in a hot loop, and the
    next snapshot (which includes the learner) is installed."""
    cluster, checker = leader_with_lagging_follower()
    cluster.heal()
    cluster.tick(1)
    cluster.deliver_all()
    learner = ConfChangeV2(changes=(ConfChangeSingle(type="add_learner_node", node_id=4),))
    cluster.configs[4] = RaftConfig(node_id=4)
    cluster.start(4, None, ConfState(voters=(1, 2, 3)))
    cluster.step(1, ProposeConfChange(change=learner))

    def snapshots_to_4() -> int:
        return sum(1 for m in cluster.sent(1) if isinstance(m, MsgSnap) and m.to_id == 4)

    cluster.deliver_all_until(lambda: snapshots_to_4() == 1)
    # The transport delivers the MsgSnap and reports it sent, before the refusal arrives.
    position = next(at for at, m in enumerate(cluster.queue) if isinstance(m, MsgSnap))
    cluster.deliver_one(position)
    cluster.step(1, SnapshotStatusReported(node_id=4, failed=False))
    cluster.deliver_all()
    assert cluster.state(4).persisted.snapshot.metadata.index == 0
    assert snapshots_to_4() == 1  # the refusal does not trigger an immediate resend
    cluster.tick(1)
    cluster.deliver_all()
    assert snapshots_to_4() == 2  # one retry per heartbeat round
    # A newer snapshot includes the learner: it is installed.
    leader = cluster.state(1)
    cluster.step(1, CreateSnapshot(index=leader.applied_index, data=b"newer"))
    cluster.step(1, SnapshotStatusReported(node_id=4, failed=False))
    for _ in range(2):
        cluster.tick(1)
        cluster.deliver_all()
    assert cluster.state(4).persisted.snapshot.data == b"newer"
    assert cluster.state(4).conf_state.learners == (4,)
    assert checker.violations == []
