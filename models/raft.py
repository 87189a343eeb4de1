"""Raft vocabulary: configuration, log entries, node state, messages, events and commands.

Names follow the Raft paper (Ongaro & Ousterhout, 2014) and etcd raft (``etcd-io/raft``, the
copy embedded in etcd 3.4): ``commit_index``, ``match_index``, ``MsgApp``, ``ConfChangeV2``.
``impl.raft`` gives these types behaviour; ``spec.raft`` judges ``ClusterObservation`` values
built from them, so it never needs ``impl``.

Conventions:
- Node ids are positive ints; ``0`` means "none" (no vote, no known leader), as in etcd.
- Sets of node ids are sorted tuples, so encodings are deterministic.
- Log indices start at 1; index 0 / term 0 is the empty log (or the initial snapshot).
- ``PersistedState`` survives a crash; everything else in ``RaftNodeState`` is volatile.
"""

from __future__ import annotations

import enum
from typing import Literal

import msgspec

from models.raft_log import (
    NO_NODE,
    ConfChangeSingle,
    ConfChangeTransition,
    ConfChangeType,
    ConfChangeV2,
    ConfState,
    Entry,
    EntryKind,
    NodeId,
    PersistedState,
    Snapshot,
    SnapshotMetadata,
)
from models.raft_messages import (
    Message,
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
)

__all__ = [
    "NO_NODE",
    "ApplyEntries",
    "ApplySnapshot",
    "Campaign",
    "ClusterObservation",
    "Command",
    "CommitAdvanced",
    "ConfChangeApplied",
    "ConfChangeSingle",
    "ConfChangeTransition",
    "ConfChangeType",
    "ConfChangeV2",
    "ConfState",
    "CreateSnapshot",
    "Entry",
    "EntryKind",
    "Event",
    "Message",
    "MessageReceived",
    "MsgApp",
    "MsgAppResp",
    "MsgHeartbeat",
    "MsgHeartbeatResp",
    "MsgPreVote",
    "MsgPreVoteResp",
    "MsgReadIndex",
    "MsgReadIndexResp",
    "MsgSnap",
    "MsgTimeoutNow",
    "MsgTransferLeader",
    "MsgVote",
    "MsgVoteResp",
    "NodeId",
    "NodeObservation",
    "PendingReadIndex",
    "PersistEntries",
    "PersistHardState",
    "PersistSnapshot",
    "PersistedState",
    "Progress",
    "ProgressState",
    "ProposalAccepted",
    "ProposalRejected",
    "ProposalRejectedReason",
    "Propose",
    "ProposeConfChange",
    "RaftConfig",
    "RaftMutant",
    "RaftNodeState",
    "RandomDrawn",
    "ReadIndexDropped",
    "ReadIndexReady",
    "ReadIndexRequested",
    "ReadIndexStatus",
    "RequestRandom",
    "Role",
    "RoleChanged",
    "SendMessage",
    "Snapshot",
    "SnapshotMetadata",
    "SnapshotStatusReported",
    "Tick",
    "TransferLeadership",
    "UnreachableReported",
    "VoteReceived",
    "observe_down_node",
    "observe_node",
]

Role = Literal["follower", "pre_candidate", "candidate", "leader"]
ProgressState = Literal["probe", "replicate", "snapshot"]


class RaftMutant(enum.Enum):
    """Deliberately broken variants; each must make a property in ``spec.raft`` fail."""

    VOTE_TWICE = "vote_twice"
    """A node grants a second vote in a term it already voted in (breaks Election Safety)."""
    COMMIT_PREVIOUS_TERM_BY_COUNTING = "commit_previous_term_by_counting"
    """The leader commits entries of earlier terms by counting replicas (paper Figure 8)."""
    SKIP_CONSISTENCY_CHECK = "skip_consistency_check"
    """Followers accept AppendEntries without checking (prev_log_index, prev_log_term)."""
    VOTE_NOT_PERSISTED = "vote_not_persisted"
    """The vote is not written to stable storage: a restarted node has forgotten it."""
    JOINT_COUNTS_NEW_ONLY = "joint_counts_new_only"
    """A joint configuration counts only the incoming majority (for commit and elections)."""
    SKIP_UP_TO_DATE_CHECK = "skip_up_to_date_check"
    """A voter grants its vote without checking that the candidate's log is at least as up to
    date as its own (paper section 5.4.1): a leader may lack committed entries."""
    TRUNCATE_WITHOUT_CONFLICT = "truncate_without_conflict"
    """A follower cuts its log after the entries of an accepted MsgApp even when none
    conflicts: a late duplicate deletes entries it acknowledged, which may be committed."""


class RaftConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Per-node configuration. Defaults follow the etcd 3.4 server (ElectionTick 10,
    HeartbeatTick 1, CheckQuorum on, PreVote off, MaxInflightMsgs 512)."""

    node_id: NodeId
    election_timeout_ticks: int = 10
    heartbeat_interval_ticks: int = 1
    pre_vote: bool = False
    check_quorum: bool = True
    max_entries_per_append: int = 64
    max_inflight_appends: int = 512
    max_pending_read_index: int = 1024
    max_uncommitted_entries: int = 4096
    mutant: RaftMutant | None = None


# ---------------------------------------------------------------------------------------------
# Volatile node state


class Progress(msgspec.Struct, frozen=True, kw_only=True):
    """The leader's view of one member (etcd ``tracker.Progress``).

    ``probe``: at most one MsgApp in flight until the follower answers (``probe_sent``).
    ``replicate``: optimistic pipelining; ``inflight`` holds the last index of each unacked
    MsgApp (bounded by ``max_inflight_appends``). ``snapshot``: a MsgSnap for
    ``pending_snapshot_index`` is in flight; nothing else is sent.
    """

    node_id: NodeId
    match_index: int = 0
    next_index: int = 1
    state: ProgressState = "probe"
    probe_sent: bool = False
    pending_snapshot_index: int = 0
    recent_active: bool = False
    inflight: tuple[int, ...] = ()
    is_learner: bool = False


class VoteReceived(msgspec.Struct, frozen=True, kw_only=True):
    """A (pre-)vote response a (pre-)candidate has received."""

    node_id: NodeId
    granted: bool


class ReadIndexStatus(msgspec.Struct, frozen=True, kw_only=True):
    """A ReadIndex request on the leader awaiting a quorum of heartbeat acks.

    ``requester`` is the node that asked (the leader itself for a local request).
    """

    context: bytes
    index: int
    requester: NodeId
    acks: tuple[NodeId, ...] = ()


class PendingReadIndex(msgspec.Struct, frozen=True, kw_only=True):
    """A ReadIndex request a leader received before committing an entry of its term."""

    context: bytes
    requester: NodeId


class RaftNodeState(msgspec.Struct, frozen=True, kw_only=True):
    """A node's whole state. Crash = keep ``persisted`` only; restart =
    ``impl.raft.init(config, persisted, ...)``.

    ``conf_state`` is the configuration as of ``applied_index`` (a change takes effect when
    applied). ``randomized_election_timeout_ticks`` is the last random draw; while
    ``random_requested`` is true a ``RequestRandom`` is outstanding and the node uses
    ``election_timeout_ticks`` (the low end of the draw's range) until the draw arrives.
    ``election_elapsed_ticks`` counts ticks since the last reset (leader: since the last
    check-quorum round or transfer start); ``progress`` and ``read_index_queue`` are used by
    the leader only; ``votes`` by (pre-)candidates only.
    """

    node_id: NodeId
    persisted: PersistedState
    role: Role = "follower"
    lead: NodeId = NO_NODE
    applied_index: int = 0
    conf_state: ConfState = ConfState()
    progress: tuple[Progress, ...] = ()
    votes: tuple[VoteReceived, ...] = ()
    election_elapsed_ticks: int = 0
    heartbeat_elapsed_ticks: int = 0
    randomized_election_timeout_ticks: int = 10
    random_requested: bool = False
    pending_conf_index: int = 0
    read_index_queue: tuple[ReadIndexStatus, ...] = ()
    pending_read_index: tuple[PendingReadIndex, ...] = ()
    lead_transferee: NodeId = NO_NODE

    @property
    def term(self) -> int:
        return self.persisted.term

    @property
    def vote(self) -> NodeId:
        return self.persisted.vote

    @property
    def commit_index(self) -> int:
        return self.persisted.commit_index


# ---------------------------------------------------------------------------------------------
# Events (inputs)


class _Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    pass


class Tick(_Event, frozen=True, kw_only=True, tag="Tick"):
    """One unit of logical time."""


class MessageReceived(_Event, frozen=True, kw_only=True, tag="MessageReceived"):
    message: Message


class Propose(_Event, frozen=True, kw_only=True, tag="Propose"):
    """A client proposes a normal entry."""

    data: bytes


class ProposeConfChange(_Event, frozen=True, kw_only=True, tag="ProposeConfChange"):
    """A client proposes a membership change (v1 = one change with ``transition="auto"``)."""

    change: ConfChangeV2


class RandomDrawn(_Event, frozen=True, kw_only=True, tag="RandomDrawn"):
    """Answers the outstanding ``RequestRandom``: low <= value < high."""

    value: int


class ReadIndexRequested(_Event, frozen=True, kw_only=True, tag="ReadIndexRequested"):
    """A client asks for a linearizable read point, identified by ``context``."""

    context: bytes


class TransferLeadership(_Event, frozen=True, kw_only=True, tag="TransferLeadership"):
    """Ask (this node, or via this node its leader) to hand leadership to ``transferee``."""

    transferee: NodeId


class CreateSnapshot(_Event, frozen=True, kw_only=True, tag="CreateSnapshot"):
    """The application has applied up to ``index`` and hands its state as ``data``: the node
    stores the snapshot and discards the log entries it covers (log compaction, paper
    section 7). Ignored unless snapshot index < ``index`` <= applied index."""

    index: int
    data: bytes


class Campaign(_Event, frozen=True, kw_only=True, tag="Campaign"):
    """Start an election now (etcd ``MsgHup``)."""


class SnapshotStatusReported(_Event, frozen=True, kw_only=True, tag="SnapshotStatusReported"):
    """The transport reports whether a MsgSnap to ``node_id`` failed (etcd ``ReportSnapshot``).
    A runner that drops a MsgSnap should report ``failed=True`` so the leader probes again."""

    node_id: NodeId
    failed: bool


class UnreachableReported(_Event, frozen=True, kw_only=True, tag="UnreachableReported"):
    """The transport could not reach ``node_id`` (etcd ``ReportUnreachable``)."""

    node_id: NodeId


Event = (
    Tick
    | MessageReceived
    | Propose
    | ProposeConfChange
    | RandomDrawn
    | ReadIndexRequested
    | TransferLeadership
    | CreateSnapshot
    | Campaign
    | SnapshotStatusReported
    | UnreachableReported
)


# ---------------------------------------------------------------------------------------------
# Commands (outputs, carried out in order)


class _Command(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    pass


class SendMessage(_Command, frozen=True, kw_only=True, tag="SendMessage"):
    message: Message


class PersistHardState(_Command, frozen=True, kw_only=True, tag="PersistHardState"):
    """Write term, vote and commit index (etcd ``HardState``) before sending messages."""

    term: int
    vote: NodeId
    commit_index: int


class PersistEntries(_Command, frozen=True, kw_only=True, tag="PersistEntries"):
    """Delete stored entries from ``entries[0].index`` on, then append ``entries``."""

    entries: tuple[Entry, ...]


class PersistSnapshot(_Command, frozen=True, kw_only=True, tag="PersistSnapshot"):
    """Store ``snapshot``. ``discard_log``: delete every stored entry (a snapshot installed from
    the leader); otherwise delete only the entries up to the snapshot index (compaction)."""

    snapshot: Snapshot
    discard_log: bool


ProposalRejectedReason = Literal[
    "not_leader", "leadership_transfer_in_progress", "too_many_uncommitted_entries"
]


class ProposalAccepted(_Command, frozen=True, kw_only=True, tag="ProposalAccepted"):
    """The proposal is in the leader's log at (index, term); it is not yet committed.
    ``conf_change_refused`` is non-empty when a conf change was replaced by an empty normal
    entry (one already pending, or invalid for the current configuration), as etcd does."""

    index: int
    term: int
    conf_change_refused: str = ""


class ProposalRejected(_Command, frozen=True, kw_only=True, tag="ProposalRejected"):
    """The proposal was not appended; ``leader_hint`` is the known leader (0 if none)."""

    reason: ProposalRejectedReason
    leader_hint: NodeId


class RequestRandom(_Command, frozen=True, kw_only=True, tag="RequestRandom"):
    """Ask for a uniform random integer in [low, high), delivered as ``RandomDrawn``."""

    low: int
    high: int


class ReadIndexReady(_Command, frozen=True, kw_only=True, tag="ReadIndexReady"):
    """Reads identified by ``context`` may be served once ``applied_index >= index``."""

    context: bytes
    index: int


class ReadIndexDropped(_Command, frozen=True, kw_only=True, tag="ReadIndexDropped"):
    """The ReadIndex request was dropped (no leader known, queue full); the client retries."""

    context: bytes
    reason: str


class CommitAdvanced(_Command, frozen=True, kw_only=True, tag="CommitAdvanced"):
    commit_index: int


class ApplyEntries(_Command, frozen=True, kw_only=True, tag="ApplyEntries"):
    """Apply these committed entries, in order, to the application state machine."""

    entries: tuple[Entry, ...]


class ApplySnapshot(_Command, frozen=True, kw_only=True, tag="ApplySnapshot"):
    """Replace the application state with ``snapshot`` (installed from the leader)."""

    snapshot: Snapshot


class ConfChangeApplied(_Command, frozen=True, kw_only=True, tag="ConfChangeApplied"):
    """The conf change at ``index`` took effect; ``conf_state`` is the new configuration."""

    index: int
    conf_state: ConfState


class RoleChanged(_Command, frozen=True, kw_only=True, tag="RoleChanged"):
    """The node became ``role`` in ``term``; ``lead`` is the known leader (0 if none)."""

    role: Role
    term: int
    lead: NodeId


Command = (
    SendMessage
    | PersistHardState
    | PersistEntries
    | PersistSnapshot
    | ProposalAccepted
    | ProposalRejected
    | RequestRandom
    | ReadIndexReady
    | ReadIndexDropped
    | CommitAdvanced
    | ApplyEntries
    | ApplySnapshot
    | ConfChangeApplied
    | RoleChanged
)


# ---------------------------------------------------------------------------------------------
# Observations for spec.raft


class NodeObservation(msgspec.Struct, frozen=True, kw_only=True):
    """What the spec sees of one node. For a down node only the persisted part is meaningful:
    ``role`` is ``None`` and the volatile fields hold the restart values (commit_index from
    the persisted state, applied_index/conf_state from the snapshot, lead 0)."""

    node_id: NodeId
    up: bool
    term: int
    vote: NodeId
    commit_index: int
    log: tuple[Entry, ...]
    snapshot: SnapshotMetadata
    role: Role | None
    lead: NodeId
    applied_index: int
    conf_state: ConfState
    pending_conf_index: int

    def last_index(self) -> int:
        return self.log[-1].index if self.log else self.snapshot.index

    def term_at(self, index: int) -> int | None:
        """As ``PersistedState.term_at``."""
        if index == self.snapshot.index:
            return self.snapshot.term
        if index < self.snapshot.index or index > self.last_index():
            return None
        return self.log[index - self.snapshot.index - 1].term

    def entry_at(self, index: int) -> Entry | None:
        offset = index - self.snapshot.index - 1
        if offset < 0 or offset >= len(self.log):
            return None
        return self.log[offset]


class ClusterObservation(msgspec.Struct, frozen=True, kw_only=True):
    """Every node of a cluster at one instant, sorted by ``node_id``. ``partitioned`` tells
    whether the network currently loses messages between some up nodes (set by the runner;
    used only by the "entry commits after a partition heals" companion)."""

    nodes: tuple[NodeObservation, ...]
    partitioned: bool = False


def observe_node(state: RaftNodeState) -> NodeObservation:
    """The observation of a running node."""
    persisted = state.persisted
    return NodeObservation(
        node_id=state.node_id,
        up=True,
        term=persisted.term,
        vote=persisted.vote,
        commit_index=persisted.commit_index,
        log=persisted.log,
        snapshot=persisted.snapshot.metadata,
        role=state.role,
        lead=state.lead,
        applied_index=state.applied_index,
        conf_state=state.conf_state,
        pending_conf_index=state.pending_conf_index,
    )


def observe_down_node(node_id: NodeId, persisted: PersistedState) -> NodeObservation:
    """The observation of a crashed node: only its persisted state."""
    metadata = persisted.snapshot.metadata
    return NodeObservation(
        node_id=node_id,
        up=False,
        term=persisted.term,
        vote=persisted.vote,
        commit_index=persisted.commit_index,
        log=persisted.log,
        snapshot=metadata,
        role=None,
        lead=NO_NODE,
        applied_index=metadata.index,
        conf_state=metadata.conf_state,
        pending_conf_index=0,
    )
