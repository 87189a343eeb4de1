"""Raft messages, one struct per etcd ``raftpb.MessageType`` that crosses the network (or is
forwarded between nodes), tagged by ``type``. Re-exported by ``models.raft``.
"""

from __future__ import annotations

import msgspec

from models.raft_log import Entry, NodeId, Snapshot


class _Message(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    from_id: NodeId
    to_id: NodeId
    term: int


class MsgApp(_Message, frozen=True, kw_only=True, tag="MsgApp"):
    """AppendEntries (paper Figure 2): entries after (prev_log_index, prev_log_term)."""

    prev_log_index: int
    prev_log_term: int
    entries: tuple[Entry, ...] = ()
    commit_index: int = 0


class MsgAppResp(_Message, frozen=True, kw_only=True, tag="MsgAppResp"):
    """AppendEntries reply. Accept: ``index`` = last index now known to match. Reject:
    ``index`` = the rejected ``prev_log_index``, ``reject_hint`` = a guess of the largest
    index that may match, ``log_term`` = the follower's term at ``reject_hint`` (etcd fast
    back-off)."""

    index: int
    reject: bool = False
    reject_hint: int = 0
    log_term: int = 0


class MsgVote(_Message, frozen=True, kw_only=True, tag="MsgVote"):
    """RequestVote (paper Figure 2). ``leader_transfer`` marks a campaign started by
    MsgTimeoutNow, which voters grant even while they have a live leader (etcd
    ``campaignTransfer``)."""

    last_log_index: int
    last_log_term: int
    leader_transfer: bool = False


class MsgVoteResp(_Message, frozen=True, kw_only=True, tag="MsgVoteResp"):
    reject: bool


class MsgPreVote(_Message, frozen=True, kw_only=True, tag="MsgPreVote"):
    """PreVote (Ongaro thesis 9.6): ``term`` is the term the sender would campaign in; neither
    side changes its term."""

    last_log_index: int
    last_log_term: int
    leader_transfer: bool = False


class MsgPreVoteResp(_Message, frozen=True, kw_only=True, tag="MsgPreVoteResp"):
    reject: bool


class MsgHeartbeat(_Message, frozen=True, kw_only=True, tag="MsgHeartbeat"):
    """Heartbeat: ``commit_index`` is min(leader commit, follower match); ``context`` is the
    ReadIndex round it confirms (empty if none)."""

    commit_index: int = 0
    context: bytes = b""


class MsgHeartbeatResp(_Message, frozen=True, kw_only=True, tag="MsgHeartbeatResp"):
    context: bytes = b""


class MsgSnap(_Message, frozen=True, kw_only=True, tag="MsgSnap"):
    """InstallSnapshot (paper section 7). Answered with MsgAppResp."""

    snapshot: Snapshot


class MsgTimeoutNow(_Message, frozen=True, kw_only=True, tag="MsgTimeoutNow"):
    """Leadership transfer (Ongaro thesis 3.10): campaign now, bypassing the lease."""


class MsgReadIndex(_Message, frozen=True, kw_only=True, tag="MsgReadIndex"):
    """A follower forwards a ReadIndex request to its leader (term 0: a local message)."""

    context: bytes


class MsgReadIndexResp(_Message, frozen=True, kw_only=True, tag="MsgReadIndexResp"):
    context: bytes
    index: int


class MsgTransferLeader(_Message, frozen=True, kw_only=True, tag="MsgTransferLeader"):
    """Ask the leader to transfer leadership to ``transferee`` (term 0: a local message)."""

    transferee: NodeId


Message = (
    MsgApp
    | MsgAppResp
    | MsgVote
    | MsgVoteResp
    | MsgPreVote
    | MsgPreVoteResp
    | MsgHeartbeat
    | MsgHeartbeatResp
    | MsgSnap
    | MsgTimeoutNow
    | MsgReadIndex
    | MsgReadIndexResp
    | MsgTransferLeader
)
