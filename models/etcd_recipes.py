"""The vocabulary of etcd's lock and election recipes (etcd's ``clientv3/concurrency``).

The recipe clients (``impl.etcd.recipes``) are pure machines: they receive answers and watch
events, and emit commands (send a request, watch a key, report that the lock or leadership was
won or lost). The observations (``spec.etcd.recipes``) are what a checker sees of a run: who
believes it holds the lock, with which lease and fencing token, which leases are live, and what
a fenced resource accepted.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from models.etcd import (
    DeleteRangeRequest,
    DeleteRangeResponse,
    EtcdError,
    Event,
    KeyValue,
    RangeRequest,
    RangeResponse,
    TxnRequest,
    TxnResponse,
)

RecipeRequest = TxnRequest | RangeRequest | DeleteRangeRequest
RecipeAnswer = TxnResponse | RangeResponse | DeleteRangeResponse | EtcdError


# ---- commands -----------------------------------------------------------------------------------


class SendRequest(msgspec.Struct, frozen=True, kw_only=True, tag="send"):
    """Send ``request`` to etcd; its answer comes back as :class:`Answered`."""

    request: RecipeRequest


class WatchKey(msgspec.Struct, frozen=True, kw_only=True, tag="watch"):
    """Watch ``key`` (or ``[key, range_end)``) from ``start_revision``, replacing any watch
    this client had; its events come back as :class:`Watched`."""

    key: bytes
    start_revision: int
    range_end: bytes = b""


class StopWatch(msgspec.Struct, frozen=True, kw_only=True, tag="stop_watch"):
    """Close this client's watch."""


class Acquired(msgspec.Struct, frozen=True, kw_only=True, tag="acquired"):
    """The lock (or leadership) is this client's: ``key`` was created at ``revision``, the
    fencing token a resource can check."""

    key: bytes
    revision: int


class Released(msgspec.Struct, frozen=True, kw_only=True, tag="released"):
    """The client gave the lock (or leadership) up, or found it was no longer its own."""

    key: bytes


class Failed(msgspec.Struct, frozen=True, kw_only=True, tag="failed"):
    """The recipe stopped on an error (etcd's, or the election's "not leader")."""

    reason: str


class Observed(msgspec.Struct, frozen=True, kw_only=True, tag="observed"):
    """An observer saw the leader's key-value (a new leader, or the leader's new value); the
    header revision of the answer or event it came from."""

    kv: KeyValue
    revision: int


RecipeCommand = SendRequest | WatchKey | StopWatch | Acquired | Released | Failed | Observed


# ---- events -------------------------------------------------------------------------------------


class Answered(msgspec.Struct, frozen=True, kw_only=True, tag="answered"):
    """etcd's answer to the request this client sent last."""

    answer: RecipeAnswer


class Watched(msgspec.Struct, frozen=True, kw_only=True, tag="watched"):
    """Events of this client's watch, and the revision in the header of the watch response
    that carried them."""

    events: tuple[Event, ...]
    revision: int = 0


RecipeEvent = Answered | Watched


# ---- observations -------------------------------------------------------------------------------


class Holder(msgspec.Struct, frozen=True, kw_only=True):
    """A client that believes it holds the lock (or leads): its lease and its fencing token."""

    client: int
    lease: int
    token: int


class LockObservation(msgspec.Struct, frozen=True, kw_only=True):
    """One instant of a run: the believed holders, and the leases etcd still has."""

    holders: tuple[Holder, ...] = ()
    live_leases: frozenset[int] = frozenset()


class ResourceWrite(msgspec.Struct, frozen=True, kw_only=True):
    """A write a resource accepted, with the writer and the fencing token it presented (0: the
    writer presented none)."""

    client: int
    token: int


# ---- client state -------------------------------------------------------------------------------

RecipeKind = Literal["lock", "election", "observer"]
RecipePhase = Literal[
    "creating",  # the txn that creates (or finds) the client's key was sent
    "proclaiming",  # the value of a key found at campaign time is being replaced
    "checking",  # asked for the key created just before its own
    "waiting",  # watching that key for its DELETE
    "held",  # first in the queue: holds the lock, or leads
    "updating",  # a leader's new value is being proclaimed
    "releasing",  # unlock or resign was sent
    "released",
    "failed",
    "observing",  # an observer follows the leader's key, or waits for a first one
]


class RecipeState(msgspec.Struct, frozen=True, kw_only=True):
    """One lock or election client: its queue key, the key's create revision, and where it is."""

    kind: RecipeKind
    prefix: bytes
    lease: int
    value: bytes = b""
    phase: RecipePhase = "creating"
    key: bytes = b""
    revision: int = 0
    waiting_for: bytes = b""


class ResourceObservation(msgspec.Struct, frozen=True, kw_only=True):
    """What a resource guarded by the lock did: the writes it accepted and those it refused,
    in order."""

    accepted: tuple[ResourceWrite, ...] = ()
    refused: tuple[ResourceWrite, ...] = ()


# ---- the v3lock and v3election requests (as the gateway decodes them) ---------------------------


class LockRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``v3lockpb.LockRequest``: the lock's name and the holder's lease (0: a new one)."""

    name: bytes = b""
    lease: int = 0


class UnlockRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``v3lockpb.UnlockRequest``: the key ``Lock`` returned."""

    key: bytes = b""


class CampaignRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``v3electionpb.CampaignRequest``."""

    name: bytes = b""
    lease: int = 0
    value: bytes = b""


class LeaderRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``v3electionpb.LeaderRequest``: the election's name."""

    name: bytes = b""


class LeaderKey(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``v3electionpb.LeaderKey``: who leads, as Campaign returned it."""

    name: bytes = b""
    key: bytes = b""
    rev: int = 0
    lease: int = 0


class ProclaimRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``v3electionpb.ProclaimRequest``."""

    leader: LeaderKey | None = None
    value: bytes = b""


class ResignRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``v3electionpb.ResignRequest``."""

    leader: LeaderKey | None = None
