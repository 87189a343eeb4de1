"""An etcd member as a pure machine: Raft, the apply loop, leases, ReadIndex and compaction.

Theory of operation. ``init(config, persisted, now_ms)`` starts (or restarts) a member from its
Raft storage: Raft re-delivers the snapshot and the committed entries, which rebuild the etcd
state. ``on_event(config, state, event)`` handles one :data:`models.etcd_member.MemberEvent`:

* **Writes** (put, delete, txns that write, compaction, every lease request) become a
  :class:`Proposal` (origin member, request ID, the member's clock, the request). The leader
  proposes it to Raft; a follower forwards it to its leader (etcd forwards ``MsgProp``); with no
  leader known, or a proposal Raft refused, it waits and is tried again at the next tick. Every
  member applies committed entries in log order with impl/etcd; the origin replies when it
  applies its own entry. A request not answered within ``request_timeout_ms`` gets etcd's
  ``request timed out`` (its outcome is unknown: the entry may still commit).
* **Linearizable reads** (ranges, and txns that only read) go through ReadIndex
  (``impl.etcd.member_reads``): each read gets its own round with a fresh context, so a read
  never joins a round whose index was taken before it arrived; it is answered from the applied
  state once the member applied up to the confirmed index. A round not answered within
  ``read_index_retry_ms`` is asked again; a leader change while a round waits answers etcd's
  ``leader changed``. **Serializable reads** are answered from the applied state at once.
* **Leases** expire on the leader's clock: at each tick the leader proposes a revoke for every
  expired lease (once per lease while the revoke is in flight).
* **Compaction**: every ``snapshot_every_entries`` applied entries, the member hands Raft a
  snapshot of its etcd state (``CreateSnapshot``); Raft drops the log it covers and sends the
  snapshot to followers that need it, which install it (``ApplySnapshot``).

Raft's persistence, message and random-draw commands pass through, in order; everything else
Raft says is consumed here. Nothing here reads a clock or draws a random number.
"""

from __future__ import annotations

import hashlib
from typing import assert_never

import msgspec

import impl.raft
from impl.etcd import member_reads
from impl.etcd.apply import ApplyContext, apply, expired_leases
from impl.etcd.member_state import MemberState, PendingWrite, Work, read_locally
from impl.etcd.store import EtcdState, decode_state, encode_state
from models.etcd import (
    ERROR_REQUEST_TIMEOUT,
    ERROR_TOO_MANY_REQUESTS,
    EtcdError,
    LeaseGrantRequest,
    LeaseRevokeRequest,
    RangeRequest,
    TxnRequest,
)
from models.etcd_auth import AnyRequest, AnyResponse, AuthInfo
from models.etcd_member import (
    NO_CLIENT,
    ClientRequest,
    ClockTicked,
    EtcdMutant,
    ForwardProposal,
    MemberCommand,
    MemberConfig,
    MemberEvent,
    PeerMessageReceived,
    Proposal,
    RandomValue,
    SendForward,
    TransportReported,
)
from models.raft import (
    NO_NODE,
    ApplyEntries,
    ApplySnapshot,
    CommitAdvanced,
    ConfChangeApplied,
    ConfState,
    CreateSnapshot,
    Entry,
    MessageReceived,
    PersistedState,
    PersistEntries,
    PersistHardState,
    PersistSnapshot,
    ProposalAccepted,
    ProposalRejected,
    Propose,
    RandomDrawn,
    ReadIndexDropped,
    ReadIndexReady,
    RequestRandom,
    RoleChanged,
    SendMessage,
    Tick,
)
from models.raft import Command as RaftCommand
from models.step import Step

MAX_RAFT_EVENTS_PER_STEP = 64
"""A bound on the Raft events one member event causes beyond those it queued at once (its own
plus snapshots it triggers); a tick queues one ReadIndex request per waiting read, as many as
the clients have reads in flight (a 100-node cluster's API server has more than 64)."""


def init(
    config: MemberConfig, persisted: PersistedState | None, initial_conf: ConfState, now_ms: int
) -> Step[MemberState, MemberCommand]:
    """Start a member (``persisted=None``: a fresh one in ``initial_conf``) at ``now_ms``."""
    raft_step = impl.raft.init(config.raft, persisted, initial_conf)
    work = Work(config, MemberState(raft=raft_step.state, etcd=EtcdState(), now_ms=now_ms))
    _carry_out_raft(work, raft_step.commands, NO_CLIENT)
    _drain(work)
    return work.finish()


def on_event(
    config: MemberConfig, state: MemberState, event: MemberEvent
) -> Step[MemberState, MemberCommand]:
    """Handle one event (see the module docstring)."""
    work = Work(config, state)
    match event:
        case ClientRequest(request_id=request_id, request=request, auth=auth):
            _on_client_request(work, request_id, request, auth)
        case PeerMessageReceived(message=message):
            if isinstance(message, ForwardProposal):
                work.raft_events.append((Propose(data=message.data), NO_CLIENT))
            else:
                work.raft_events.append((MessageReceived(message=message), NO_CLIENT))
        case ClockTicked():
            _on_tick(work)
        case RandomValue(value=value):
            work.raft_events.append((RandomDrawn(value=value), NO_CLIENT))
        case TransportReported(report=report):
            work.raft_events.append((report, NO_CLIENT))
        case _:
            assert_never(event)
    _drain(work)
    member_reads.serve_ready(work)
    return work.finish()


# ---- client requests -----------------------------------------------------------------------------


def is_read_only(request: AnyRequest) -> bool:
    """A range, or a txn whose every branch only ranges (etcd ``isTxnReadonly``)."""
    if isinstance(request, RangeRequest):
        return True
    if not isinstance(request, TxnRequest):
        return False
    return all(is_read_only(op) for op in (*request.success, *request.failure))


def is_serializable(request: AnyRequest) -> bool:
    """A serializable range, or a read-only txn all of whose ranges are serializable."""
    if isinstance(request, RangeRequest):
        return request.serializable
    assert isinstance(request, TxnRequest)
    ops = (*request.success, *request.failure)
    return bool(ops) and all(is_serializable(op) for op in ops)


def _pending_count(state: MemberState) -> int:
    return len(state.writes) + member_reads.pending_count(state)


def _on_client_request(
    work: Work, request_id: int, request: AnyRequest, auth: AuthInfo | None
) -> None:
    state = work.state
    if _pending_count(state) >= work.config.max_pending_requests:
        work.reply(request_id, ERROR_TOO_MANY_REQUESTS)
        return
    if is_read_only(request):
        linearizable = not is_serializable(request)
        if linearizable and work.config.mutant is not EtcdMutant.STALE_LINEARIZABLE_READ:
            member_reads.start(work, request_id, request, auth)
        else:
            work.reply(request_id, read_locally(state.etcd, request, auth))
        return
    if isinstance(request, LeaseGrantRequest) and request.ID == 0:
        request = msgspec.structs.replace(request, ID=_lease_id(state))
        work.update(next_lease=state.next_lease + 1)
    proposal = Proposal(
        origin=work.config.raft.node_id,
        request_id=request_id,
        now_ms=state.now_ms,
        request=request,
        auth=auth,
    )
    pending = PendingWrite(
        data=msgspec.msgpack.encode(proposal),
        deadline_ms=state.now_ms + work.config.request_timeout_ms,
    )
    work.update(writes=work.state.writes.set(request_id, pending))
    _send_write(work, request_id)


def _lease_id(state: MemberState) -> int:
    """A positive 62-bit lease ID from the member and a counter (etcd's leader picks one)."""
    text = f"lease-{state.raft.node_id}-{state.next_lease}".encode()
    digest = hashlib.blake2b(text, digest_size=8).digest()
    return (int.from_bytes(digest, "big") & ((1 << 62) - 1)) + 1


def _send_write(work: Work, request_id: int) -> None:
    """Propose (leader) or forward (follower) a waiting write; without a leader it waits."""
    raft = work.state.raft
    pending = work.state.writes[request_id]
    if raft.role == "leader":
        work.raft_events.append((Propose(data=pending.data), request_id))
    elif raft.lead != NO_NODE:
        forward = ForwardProposal(from_id=raft.node_id, to_id=raft.lead, data=pending.data)
        work.commands.append(SendForward(message=forward))
    else:
        return
    work.update(
        writes=work.state.writes.set(request_id, msgspec.structs.replace(pending, sent=True))
    )


# ---- ticks ---------------------------------------------------------------------------------------


def _on_tick(work: Work) -> None:
    work.update(now_ms=work.state.now_ms + work.config.tick_ms)
    work.raft_events.append((Tick(), NO_CLIENT))
    _time_out_writes(work)
    for request_id in sorted(work.state.writes.keys()):
        if not work.state.writes[request_id].sent:
            _send_write(work, request_id)
    member_reads.on_tick(work)
    if work.state.raft.role == "leader":
        _expire_leases(work)


def _time_out_writes(work: Work) -> None:
    now_ms = work.state.now_ms
    writes = work.state.writes
    for request_id in sorted(writes.keys()):
        if writes[request_id].deadline_ms <= now_ms:
            writes = writes.delete(request_id)
            work.reply(request_id, ERROR_REQUEST_TIMEOUT)
    work.update(writes=writes)


def _expire_leases(work: Work) -> None:
    state = work.state
    for lease_id in expired_leases(state.etcd, state.now_ms):
        if lease_id in state.revoking:
            continue
        proposal = Proposal(
            origin=state.raft.node_id,
            request_id=NO_CLIENT,
            now_ms=state.now_ms,
            request=LeaseRevokeRequest(ID=lease_id),
        )
        work.raft_events.append((Propose(data=msgspec.msgpack.encode(proposal)), NO_CLIENT))
        work.update(revoking=work.state.revoking | {lease_id})


# ---- Raft ----------------------------------------------------------------------------------------


def _drain(work: Work) -> None:
    """Hand queued events to Raft and handle what it says, until nothing is left (bounded)."""
    for _ in range(len(work.raft_events) + MAX_RAFT_EVENTS_PER_STEP):
        if not work.raft_events:
            return
        event, request_id = work.raft_events.pop(0)
        raft_step = impl.raft.on_event(work.config.raft, work.state.raft, event)
        work.update(raft=raft_step.state)
        _carry_out_raft(work, raft_step.commands, request_id)
    raise AssertionError("a member event caused more Raft events than the bound")


def _carry_out_raft(work: Work, commands: tuple[RaftCommand, ...], request_id: int) -> None:
    """Carry out what Raft said about one event (``request_id``: the write it proposed)."""
    for command in commands:
        match command:
            case (
                SendMessage() | PersistHardState() | PersistEntries() | PersistSnapshot()
                | RequestRandom()
            ):  # fmt: skip
                work.commands.append(command)
            case ApplyEntries(entries=entries):
                _apply_entries(work, entries)
            case ApplySnapshot(snapshot=snapshot):
                work.update(etcd=decode_state(snapshot.data), applied_index=snapshot.metadata.index)
            case ReadIndexReady() | ReadIndexDropped():
                member_reads.on_answer(work, command)
            case ProposalRejected():
                _on_proposal_rejected(work, request_id)
            case RoleChanged():
                member_reads.on_role_changed(work, command)
                if command.role != "leader":
                    work.update(revoking=frozenset())
            case ProposalAccepted() | CommitAdvanced() | ConfChangeApplied():
                pass  # a write is answered when applied; membership never changes here
            case _:
                assert_never(command)


def _on_proposal_rejected(work: Work, request_id: int) -> None:
    """A client's write Raft did not append waits for the next tick (a refused revoke is
    proposed again at the next tick too: it leaves ``revoking`` when the role changes)."""
    pending = work.state.writes.get(request_id)
    if pending is not None:
        writes = work.state.writes.set(request_id, msgspec.structs.replace(pending, sent=False))
        work.update(writes=writes)


def _apply_entries(work: Work, entries: tuple[Entry, ...]) -> None:
    for entry in entries:
        if entry.kind == "normal" and entry.data:
            proposal = msgspec.msgpack.decode(entry.data, type=Proposal)
            _apply_proposal(work, proposal, entry.index)
        work.update(applied_index=entry.index)
    _maybe_snapshot(work)


def _apply_proposal(work: Work, proposal: Proposal, index: int) -> None:
    state = work.state
    request = proposal.request
    if (
        isinstance(request, LeaseRevokeRequest)
        and work.config.mutant is EtcdMutant.LOST_LEASE_REVOKE
    ):
        etcd, response = _revoke_keeping_keys(state.etcd, request)
    else:
        context = ApplyContext(now_ms=proposal.now_ms, auth=proposal.auth, index=index)
        etcd, response = apply(state.etcd, request, context)
    work.update(etcd=etcd)
    if isinstance(request, LeaseRevokeRequest):
        work.update(revoking=state.revoking - {request.ID})
    if proposal.origin == work.config.raft.node_id and proposal.request_id in state.writes:
        work.update(writes=work.state.writes.delete(proposal.request_id))
        work.reply(proposal.request_id, response)


def _revoke_keeping_keys(
    etcd: EtcdState, request: LeaseRevokeRequest
) -> tuple[EtcdState, AnyResponse | EtcdError]:
    """The LOST_LEASE_REVOKE mutant: the lease goes, its keys stay."""
    lease = etcd.leases.get(request.ID)
    if lease is None:
        return apply(etcd, request, ApplyContext())
    emptied = msgspec.structs.replace(
        etcd, leases=etcd.leases.set(request.ID, msgspec.structs.replace(lease, keys=frozenset()))
    )
    return apply(emptied, request, ApplyContext())


def _maybe_snapshot(work: Work) -> None:
    state = work.state
    snapshot_index = state.raft.persisted.snapshot.metadata.index
    if state.applied_index - snapshot_index >= work.config.snapshot_every_entries:
        snapshot = CreateSnapshot(index=state.applied_index, data=encode_state(state.etcd))
        work.raft_events.append((snapshot, NO_CLIENT))
