"""The dispatcher: starts a node and routes each event to the module that handles it.

Theory of operation. ``init`` builds a follower from stable storage (or from nothing), and
``on_event`` handles one event in three stages, mirroring etcd's ``Step`` then ``Ready``:
1. term bookkeeping for messages (paper section 5.1; etcd ``Step``): a higher term makes the
   node a follower of that term (except for pre-votes, and for vote requests inside a leader
   lease); a stale term is ignored, answered only where etcd answers it;
2. the role-specific handler (``election``, ``replication``, ``snapshot``, ``read_index``,
   ``leadership_transfer``);
3. committed entries are applied (``applying``) and waiting ReadIndex requests released.
Finally the ``Transition`` turns into a ``Step`` whose persistence commands come first.

Crash and restart: the runner keeps ``state.persisted`` and calls ``init`` with it. The node
restarts as a follower with its term, vote, log, snapshot and commit index, and re-applies
its committed entries.
"""

from __future__ import annotations

from typing import assert_never

import msgspec

from impl.raft import election, leadership_transfer, read_index, replication, snapshot
from impl.raft.applying import apply_committed
from impl.raft.transition import Transition
from models.raft import (
    NO_NODE,
    ApplySnapshot,
    Campaign,
    Command,
    ConfState,
    CreateSnapshot,
    Event,
    Message,
    MessageReceived,
    MsgApp,
    MsgAppResp,
    MsgHeartbeat,
    MsgHeartbeatResp,
    MsgPreVote,
    MsgPreVoteResp,
    MsgReadIndex,
    MsgReadIndexResp,
    MsgSnap,
    MsgTimeoutNow,
    MsgTransferLeader,
    MsgVote,
    MsgVoteResp,
    PersistedState,
    Propose,
    ProposeConfChange,
    RaftConfig,
    RaftMutant,
    RaftNodeState,
    RandomDrawn,
    ReadIndexRequested,
    Snapshot,
    SnapshotMetadata,
    SnapshotStatusReported,
    Tick,
    TransferLeadership,
    UnreachableReported,
)
from models.step import Step


def init(
    config: RaftConfig, persisted: PersistedState | None, initial_conf: ConfState
) -> Step[RaftNodeState, Command]:
    """Start as a follower (paper section 5.2: "when servers start up, they begin as
    followers"). ``persisted=None`` is a fresh node whose configuration is ``initial_conf``
    (recorded as the index-0 snapshot's configuration); otherwise a restart."""
    if persisted is None:
        persisted = PersistedState(
            snapshot=Snapshot(metadata=SnapshotMetadata(conf_state=initial_conf))
        )
        restarted = False
    else:
        restarted = True
        if config.mutant is RaftMutant.VOTE_NOT_PERSISTED:
            persisted = msgspec.structs.replace(persisted, vote=NO_NODE)
    metadata = persisted.snapshot.metadata
    state = RaftNodeState(
        node_id=config.node_id,
        persisted=persisted,
        applied_index=metadata.index,
        conf_state=metadata.conf_state,
        randomized_election_timeout_ticks=config.election_timeout_ticks,
    )
    transition = Transition(config, state)
    if restarted and metadata.index > 0:
        transition.emit(ApplySnapshot(snapshot=persisted.snapshot))
    election.become_follower(transition, persisted.term, NO_NODE)
    apply_committed(transition)
    return transition.finish()


def on_event(
    config: RaftConfig, state: RaftNodeState, event: Event
) -> Step[RaftNodeState, Command]:
    """Handle one event; see the module docstring for the stages."""
    assert config.node_id == state.node_id, "config and state belong to different nodes"
    transition = Transition(config, state)
    match event:
        case Tick():
            election.tick(transition)
        case MessageReceived(message=message):
            _step(transition, message)
        case Propose(data=data):
            replication.propose(transition, data, None)
        case ProposeConfChange(change=change):
            replication.propose(transition, b"", change)
        case RandomDrawn(value=value):
            _on_random_drawn(transition, value)
        case ReadIndexRequested(context=context):
            read_index.on_read_index_requested(transition, context)
        case TransferLeadership(transferee=transferee):
            leadership_transfer.on_transfer_requested(transition, transferee)
        case CreateSnapshot():
            snapshot.on_create_snapshot(transition, event)
        case Campaign():
            election.hup(transition)
        case SnapshotStatusReported():
            snapshot.on_snapshot_status(transition, event)
        case UnreachableReported():
            replication.on_unreachable(transition, event)
        case _:
            assert_never(event)
    apply_committed(transition)
    read_index.release_pending(transition)
    return transition.finish()


def _on_random_drawn(transition: Transition, value: int) -> None:
    """The answer to ``RequestRandom``; ignored when no draw is outstanding."""
    if not transition.state.random_requested:
        return
    low = transition.config.election_timeout_ticks
    assert low <= value < 2 * low, f"random draw {value} outside [{low}, {2 * low})"
    transition.update(randomized_election_timeout_ticks=value, random_requested=False)


def _step(transition: Transition, message: Message) -> None:
    """etcd ``Step``: term bookkeeping, then votes, then the role's handler."""
    state = transition.state
    config = transition.config
    if message.to_id != state.node_id:
        return
    term = state.persisted.term
    if message.term > term:
        if isinstance(message, MsgVote | MsgPreVote):
            in_lease = (
                config.check_quorum
                and state.lead != NO_NODE
                and state.election_elapsed_ticks < config.election_timeout_ticks
            )
            if in_lease and not message.leader_transfer:
                return  # leader lease: a live leader exists, ignore the disruption
        if isinstance(message, MsgPreVote) or (
            isinstance(message, MsgPreVoteResp) and not message.reject
        ):
            pass  # pre-votes never change terms
        elif isinstance(message, MsgApp | MsgHeartbeat | MsgSnap):
            election.become_follower(transition, message.term, message.from_id)
        else:
            election.become_follower(transition, message.term, NO_NODE)
    elif 0 < message.term < term:
        _answer_stale(transition, message)
        return
    if isinstance(message, MsgVote | MsgPreVote):
        election.on_vote_request(transition, message)
        return
    role = transition.state.role
    if role == "leader":
        _step_leader(transition, message)
    elif role == "follower":
        _step_follower(transition, message)
    else:
        _step_candidate(transition, message)


def _answer_stale(transition: Transition, message: Message) -> None:
    """etcd: with CheckQuorum or PreVote, answer a stale leader so it learns the newer term
    and steps down; reject a stale pre-vote; ignore everything else (paper section 5.1)."""
    state = transition.state
    config = transition.config
    term = state.persisted.term
    if (config.check_quorum or config.pre_vote) and isinstance(message, MsgApp | MsgHeartbeat):
        transition.send(
            MsgAppResp(from_id=state.node_id, to_id=message.from_id, term=term, index=0)
        )
    elif isinstance(message, MsgPreVote):
        transition.send(
            MsgPreVoteResp(from_id=state.node_id, to_id=message.from_id, term=term, reject=True)
        )


def _step_leader(transition: Transition, message: Message) -> None:
    match message:
        case MsgAppResp():
            replication.on_append_response(transition, message)
            leadership_transfer.after_append_response(transition, message)
        case MsgHeartbeatResp():
            replication.on_heartbeat_response(transition, message)
            read_index.on_heartbeat_ack(transition, message)
        case MsgReadIndex():
            read_index.on_read_index_message(transition, message)
        case MsgTransferLeader():
            leadership_transfer.on_transfer_message(transition, message)
        case (
            MsgApp()
            | MsgHeartbeat()
            | MsgSnap()
            | MsgVote()
            | MsgVoteResp()
            | MsgPreVote()
            | MsgPreVoteResp()
            | MsgTimeoutNow()
            | MsgReadIndexResp()
        ):
            pass  # votes were handled in _step; a same-term MsgApp cannot come from a leader
        case _:
            assert_never(message)


def _step_candidate(transition: Transition, message: Message) -> None:
    """Paper section 5.2: a candidate that hears from a leader of its term steps down."""
    term = transition.state.persisted.term
    match message:
        case MsgApp():
            election.become_follower(transition, term, message.from_id)
            replication.on_append_entries(transition, message)
        case MsgHeartbeat():
            election.become_follower(transition, term, message.from_id)
            replication.on_heartbeat(transition, message)
        case MsgSnap():
            election.become_follower(transition, term, message.from_id)
            snapshot.on_snapshot(transition, message)
        case MsgVoteResp() | MsgPreVoteResp():
            election.on_vote_response(transition, message)
        case (
            MsgAppResp()
            | MsgHeartbeatResp()
            | MsgVote()
            | MsgPreVote()
            | MsgTimeoutNow()
            | MsgReadIndex()
            | MsgReadIndexResp()
            | MsgTransferLeader()
        ):
            pass  # no leader to forward to; MsgTimeoutNow is ignored by candidates (etcd)
        case _:
            assert_never(message)


def _step_follower(transition: Transition, message: Message) -> None:
    match message:
        case MsgApp():
            election.note_leader(transition, message.from_id)
            replication.on_append_entries(transition, message)
        case MsgHeartbeat():
            election.note_leader(transition, message.from_id)
            replication.on_heartbeat(transition, message)
        case MsgSnap():
            election.note_leader(transition, message.from_id)
            snapshot.on_snapshot(transition, message)
        case MsgTimeoutNow():
            leadership_transfer.on_timeout_now(transition, message)
        case MsgReadIndex():
            read_index.on_read_index_message(transition, message)
        case MsgReadIndexResp():
            read_index.on_read_index_response(transition, message)
        case MsgTransferLeader():
            leadership_transfer.on_transfer_message(transition, message)
        case (
            MsgAppResp()
            | MsgHeartbeatResp()
            | MsgVote()
            | MsgVoteResp()
            | MsgPreVote()
            | MsgPreVoteResp()
        ):
            pass  # responses to a role the node no longer has; votes were handled in _step
        case _:
            assert_never(message)
