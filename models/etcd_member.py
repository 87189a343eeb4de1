"""The etcd member machine's vocabulary: configuration, events in, commands out, peer messages.

An etcd member (``impl.etcd.member``) is one Raft node plus etcd's apply loop, lessor, read
loop and log compaction. Everything that happens to it arrives as a :data:`MemberEvent`: a
client request (with an ID the caller chose, unique per member), a peer message, a tick of its
clock, a random value it asked for, a report from its transport. It answers with
:data:`MemberCommand` values, carried out in order by whoever runs it (``serve etcd``, the
simulator): Raft's own persistence, message and random-draw commands, a proposal forwarded to
the leader, and the reply to a client request.
"""

from __future__ import annotations

import enum
from typing import Final

import msgspec

from models.etcd import EtcdError
from models.etcd_auth import AnyRequest, AnyResponse, AuthInfo
from models.raft import (
    Message,
    NodeId,
    PersistEntries,
    PersistHardState,
    PersistSnapshot,
    RaftConfig,
    RequestRandom,
    SendMessage,
    SnapshotStatusReported,
    UnreachableReported,
)

NO_CLIENT: Final = 0
"""The request ID of a member's own proposals (lease expiry): nobody waits for them."""


class EtcdMutant(enum.Enum):
    """Deliberately broken members, which the simulator's history checks must catch."""

    STALE_LINEARIZABLE_READ = "stale_linearizable_read"
    """A linearizable read is served from the member's applied state without ReadIndex, as a
    serializable read is: a partitioned or lagging member answers stale data."""
    LOST_LEASE_REVOKE = "lost_lease_revoke"
    """A revoke removes the lease but loses the deletion of its keys."""


class MemberConfig(msgspec.Struct, frozen=True, kw_only=True):
    """A member's fixed parameters. Times are on the member's own clock, which advances by
    ``tick_ms`` per tick (etcd: ``--heartbeat-interval``, 100 ms)."""

    raft: RaftConfig
    tick_ms: int = 100
    request_timeout_ms: int = 7000
    """etcd's ``ReqTimeout``: 5 s plus twice the election timeout."""
    read_index_retry_ms: int = 500
    """etcd's ``readIndexRetryTime``: ask again when a read index has not come back."""
    snapshot_every_entries: int = 1000
    """Compact the Raft log (snapshot of the etcd state) every this many applied entries."""
    max_pending_requests: int = 10_000
    mutant: EtcdMutant | None = None


class Proposal(msgspec.Struct, frozen=True, kw_only=True):
    """One log entry's payload: the member and request ID waiting for it (``NO_CLIENT`` for a
    member's own proposal), the proposer's clock, the request, and who made it (etcd's request
    header ``username`` and ``auth_revision``; None without a token)."""

    origin: NodeId
    request_id: int
    now_ms: int
    request: AnyRequest
    auth: AuthInfo | None = None


class ForwardProposal(msgspec.Struct, frozen=True, kw_only=True, tag="ForwardProposal"):
    """A follower hands a client's proposal to its leader (etcd forwards ``MsgProp``)."""

    from_id: NodeId
    to_id: NodeId
    data: bytes


PeerMessage = Message | ForwardProposal
"""What members send each other: Raft messages and forwarded proposals."""


# ---- events --------------------------------------------------------------------------------------


class _Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    pass


class ClientRequest(_Event, frozen=True, kw_only=True, tag="ClientRequest"):
    """A client asks this member; the reply carries ``request_id``. ``auth``: who the client's
    token names (the serving member looked it up), None without a token."""

    request_id: int
    request: AnyRequest
    auth: AuthInfo | None = None


class PeerMessageReceived(_Event, frozen=True, kw_only=True, tag="PeerMessageReceived"):
    message: PeerMessage


class ClockTicked(_Event, frozen=True, kw_only=True, tag="ClockTicked"):
    """The member's clock advanced by one tick (``tick_ms``); Raft ticks too."""


class RandomValue(_Event, frozen=True, kw_only=True, tag="RandomValue"):
    """Answers the member's ``RequestRandom`` (Raft's randomized election timeout)."""

    value: int


class TransportReported(_Event, frozen=True, kw_only=True, tag="TransportReported"):
    """The transport's report about a peer (a snapshot delivered or lost, a peer unreachable)."""

    report: SnapshotStatusReported | UnreachableReported


MemberEvent = ClientRequest | PeerMessageReceived | ClockTicked | RandomValue | TransportReported


# ---- commands ------------------------------------------------------------------------------------


class _Command(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    pass


class SendForward(_Command, frozen=True, kw_only=True, tag="SendForward"):
    """Send a forwarded proposal to the leader."""

    message: ForwardProposal


class Reply(_Command, frozen=True, kw_only=True, tag="Reply"):
    """The answer to client request ``request_id``."""

    request_id: int
    result: AnyResponse | EtcdError


MemberCommand = (
    SendMessage
    | SendForward
    | PersistHardState
    | PersistEntries
    | PersistSnapshot
    | RequestRandom
    | Reply
)
"""What a member asks of its runner, in order (persistence before the messages it guards)."""
