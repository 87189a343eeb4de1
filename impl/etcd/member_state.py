"""The state of an etcd member machine (``impl.etcd.member``) and the scratch of one step.

``raft`` is the member's Raft node (its ``persisted`` part is what survives a crash); ``etcd``
is the applied etcd state (rebuilt from the Raft snapshot and log on restart); the rest is
volatile: the member's clock, the client requests it still owes an answer, the ReadIndex rounds
in flight, the lease revokes it proposed, and counters for the IDs it hands out. :class:`Work`
is one step's scratch: the state so far, the commands out, the Raft events still to handle.
"""

from __future__ import annotations

from typing import Any

import immutables
import msgspec

from impl.etcd.apply import ApplyContext, apply
from impl.etcd.store import EtcdState
from models.etcd import EtcdError
from models.etcd_auth import AnyRequest, AnyResponse, AuthInfo
from models.etcd_member import NO_CLIENT, MemberCommand, MemberConfig, Reply
from models.raft import NO_NODE, NodeId, RaftNodeState
from models.raft import Event as RaftEvent
from models.step import Step


class PendingWrite(msgspec.Struct, frozen=True, kw_only=True):
    """A client's write waiting for its entry to be applied here; ``sent``: proposed or
    forwarded (otherwise it waits for a leader and is sent at the next tick)."""

    data: bytes
    deadline_ms: int
    sent: bool = False


class ReadRound(msgspec.Struct, frozen=True, kw_only=True):
    """One linearizable read and its ReadIndex request: ``context`` identifies the request,
    ``index`` is the confirmed read index (-1 until Raft answers), ``retry`` tells that the
    request was dropped and must be asked again."""

    request_id: int
    request: AnyRequest
    context: bytes
    asked_ms: int
    deadline_ms: int
    index: int = -1
    retry: bool = False
    auth: AuthInfo | None = None


class MemberState(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a member holds (see the module docstring)."""

    raft: RaftNodeState
    etcd: EtcdState
    now_ms: int
    applied_index: int = 0
    writes: immutables.Map[int, PendingWrite] = msgspec.field(default_factory=immutables.Map)
    reads: tuple[ReadRound, ...] = ()
    known_lead: NodeId = NO_NODE
    revoking: frozenset[int] = frozenset()
    next_context: int = 1
    next_lease: int = 1


class Work:
    """One step's scratch. ``raft_events`` pairs each event for Raft with the client request
    it proposes (``NO_CLIENT`` if none), so a refused proposal can be sent again."""

    def __init__(self, config: MemberConfig, state: MemberState) -> None:
        self.config = config
        self.state = state
        self.commands: list[MemberCommand] = []
        self.raft_events: list[tuple[RaftEvent, int]] = []

    def reply(self, request_id: int, result: AnyResponse | EtcdError) -> None:
        if request_id != NO_CLIENT:
            self.commands.append(Reply(request_id=request_id, result=result))

    def update(self, **changes: Any) -> None:
        self.state = msgspec.structs.replace(self.state, **changes)

    def finish(self) -> Step[MemberState, MemberCommand]:
        return Step(state=self.state, commands=tuple(self.commands))


def read_locally(
    etcd: EtcdState, request: AnyRequest, auth: AuthInfo | None = None
) -> AnyResponse | EtcdError:
    """A read-only request (a range, a txn that only reads) answered from ``etcd``, checked
    against its auth store as etcd's ``doSerialize`` checks it after the read index."""
    _, response = apply(etcd, request, ApplyContext(auth=auth))
    return response
