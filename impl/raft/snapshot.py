"""Log compaction and InstallSnapshot (paper section 7; etcd ``MsgSnap``, ``ReportSnapshot``).

Theory of operation. The application tells a node it has applied up to an index and hands over
its state (``CreateSnapshot``); the node stores that snapshot, with the term and configuration
as of its index, and drops the log entries it covers. When the leader must send a follower an
entry that is compacted away, it sends its snapshot instead (``MsgSnap``) and stops sending to
that follower (progress state ``snapshot``) until the follower acknowledges with a MsgAppResp,
or the transport reports the snapshot failed. A follower installs a snapshot only if it is
ahead of its commit index: if the snapshot's last entry already matches its log, it just
advances its commit index (fast-forward); otherwise it discards its whole log.
"""

from __future__ import annotations

import msgspec
from returns.result import Success

from impl.raft import progress as progress_ops
from impl.raft.membership import apply_conf_change
from impl.raft.transition import Transition
from models.raft import (
    ApplySnapshot,
    ConfState,
    CreateSnapshot,
    MsgAppResp,
    MsgSnap,
    Progress,
    Snapshot,
    SnapshotMetadata,
    SnapshotStatusReported,
)


def send_snapshot(transition: Transition, progress: Progress) -> bool:
    """Leader: send the stored snapshot to a follower that needs compacted entries (etcd
    ``maybeSendAppend``). Only to a recently active follower, as etcd does."""
    if not progress.recent_active:
        return False
    state = transition.state
    snapshot = state.persisted.snapshot
    transition.send(
        MsgSnap(
            from_id=state.node_id,
            to_id=progress.node_id,
            term=state.persisted.term,
            snapshot=snapshot,
        )
    )
    transition.set_progress(progress_ops.become_snapshot(progress, snapshot.metadata.index))
    return True


def _reply(transition: Transition, to_id: int, index: int) -> None:
    state = transition.state
    transition.send(
        MsgAppResp(from_id=state.node_id, to_id=to_id, term=state.persisted.term, index=index)
    )


def on_snapshot(transition: Transition, message: MsgSnap) -> None:
    """Follower: InstallSnapshot (paper section 7, Figure 13; etcd ``handleSnapshot`` and
    ``restore``). Answered with MsgAppResp carrying the resulting last (or commit) index."""
    state = transition.state
    persisted = state.persisted
    metadata = message.snapshot.metadata
    if metadata.index <= persisted.commit_index:
        _reply(transition, message.from_id, persisted.commit_index)
        return
    if state.node_id not in metadata.conf_state.members():
        # etcd refuses a snapshot whose configuration does not contain the node.
        _reply(transition, message.from_id, persisted.commit_index)
        return
    if persisted.term_at(metadata.index) == metadata.term:
        # Fast-forward: our log already holds the snapshot's last entry.
        transition.update_persisted(commit_index=metadata.index)
        _reply(transition, message.from_id, metadata.index)
        return
    transition.update_persisted(snapshot=message.snapshot, log=(), commit_index=metadata.index)
    transition.snapshot_installed = True
    transition.update(applied_index=metadata.index, conf_state=metadata.conf_state)
    transition.emit(ApplySnapshot(snapshot=message.snapshot))
    _reply(transition, message.from_id, metadata.index)


def conf_state_at(transition: Transition, index: int) -> ConfState:
    """The configuration as of ``index`` (<= applied): the snapshot's, then every conf change
    entry up to ``index`` replayed in order."""
    state = transition.state
    if index == state.applied_index:
        return state.conf_state
    persisted = state.persisted
    conf = persisted.snapshot.metadata.conf_state
    for entry in persisted.log:
        if entry.index > index:
            break
        if entry.conf_change is not None:
            result = apply_conf_change(conf, entry.conf_change)
            if isinstance(result, Success):
                conf = result.unwrap()
    return conf


def on_create_snapshot(transition: Transition, event: CreateSnapshot) -> None:
    """Store the application's snapshot at ``event.index`` and compact the log up to it
    (paper section 7). Ignored when out of date or beyond the applied index (etcd
    ``ErrSnapOutOfDate``)."""
    state = transition.state
    persisted = state.persisted
    if event.index <= persisted.snapshot.metadata.index or event.index > state.applied_index:
        return
    term = persisted.term_at(event.index)
    assert term is not None, f"applied index {event.index} has no term"
    snapshot = Snapshot(
        metadata=SnapshotMetadata(
            index=event.index, term=term, conf_state=conf_state_at(transition, event.index)
        ),
        data=event.data,
    )
    kept = persisted.log[event.index - persisted.first_index() + 1 :]
    transition.update_persisted(snapshot=snapshot, log=kept)


def on_snapshot_status(transition: Transition, event: SnapshotStatusReported) -> None:
    """Leader: the transport's report on a MsgSnap (etcd ``MsgSnapStatus``). Either way the
    follower goes back to probing and waits for the next heartbeat response."""
    if transition.state.role != "leader":
        return
    progress = transition.progress_of(event.node_id)
    if progress is None or progress.state != "snapshot":
        return
    if event.failed:
        progress = msgspec.structs.replace(progress, pending_snapshot_index=0)
    probing = progress_ops.become_probe(progress)
    transition.set_progress(msgspec.structs.replace(probing, probe_sent=True))
