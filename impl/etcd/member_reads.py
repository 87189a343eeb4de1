"""Linearizable reads of an etcd member through ReadIndex (Raft thesis section 6.4).

Theory of operation. Each linearizable read gets its own ReadIndex request with a fresh context
(``start``): a read never shares a round whose index was taken before it arrived (sharing one is
how etcd 3.4 served stale reads, etcd #20418). Raft answers with the confirmed index
(``ReadIndexReady``) or drops the request (no leader known); the read is served from the applied
state once the member applied up to the index (``serve_ready``). A dropped request, or one not
answered within ``read_index_retry_ms``, is asked again with a new context (``on_tick``). When a
new leader appears while a read still waits for its index, the read is answered etcd's
``leader changed`` (etcd's read loop does the same), and a read not served by its deadline gets
``request timed out``.
"""

from __future__ import annotations

import msgspec

from impl.etcd.member_state import MemberState, ReadRound, Work, read_locally
from models.etcd import ERROR_LEADER_CHANGED, ERROR_REQUEST_TIMEOUT
from models.etcd_auth import AnyRequest, AuthInfo
from models.etcd_member import NO_CLIENT
from models.raft import NO_NODE, ReadIndexDropped, ReadIndexReady, ReadIndexRequested, RoleChanged


def pending_count(state: MemberState) -> int:
    return len(state.reads)


def _ask(work: Work, round_: ReadRound) -> ReadRound:
    """A new context for ``round_``, asked of Raft now."""
    state = work.state
    context = f"read-{state.raft.node_id}-{state.next_context}".encode()
    work.update(next_context=state.next_context + 1)
    work.raft_events.append((ReadIndexRequested(context=context), NO_CLIENT))
    return msgspec.structs.replace(round_, context=context, asked_ms=state.now_ms, retry=False)


def start(work: Work, request_id: int, request: AnyRequest, auth: AuthInfo | None) -> None:
    state = work.state
    round_ = ReadRound(
        request_id=request_id,
        request=request,
        auth=auth,
        context=b"",
        asked_ms=state.now_ms,
        deadline_ms=state.now_ms + work.config.request_timeout_ms,
    )
    work.update(reads=(*work.state.reads, _ask(work, round_)))


def on_answer(work: Work, answer: ReadIndexReady | ReadIndexDropped) -> None:
    """Record Raft's answer for the round still waiting on that context (late answers to an
    old context are ignored)."""
    reads = list(work.state.reads)
    for at, round_ in enumerate(reads):
        if round_.context != answer.context or round_.index >= 0:
            continue
        if isinstance(answer, ReadIndexReady):
            reads[at] = msgspec.structs.replace(round_, index=answer.index)
        else:
            reads[at] = msgspec.structs.replace(round_, retry=True)
    work.update(reads=tuple(reads))


def on_tick(work: Work) -> None:
    """Time out reads past their deadline; ask again for dropped or unanswered rounds."""
    now_ms = work.state.now_ms
    kept: list[ReadRound] = []
    for round_ in work.state.reads:
        if round_.deadline_ms <= now_ms:
            work.reply(round_.request_id, ERROR_REQUEST_TIMEOUT)
        elif round_.index < 0 and (
            round_.retry or now_ms - round_.asked_ms >= work.config.read_index_retry_ms
        ):
            kept.append(_ask(work, round_))
        else:
            kept.append(round_)
    work.update(reads=tuple(kept))


def on_role_changed(work: Work, change: RoleChanged) -> None:
    """A new leader: reads still waiting for their index are answered "leader changed"."""
    state = work.state
    if change.lead == NO_NODE or change.lead == state.known_lead:
        return
    first_leader = state.known_lead == NO_NODE
    work.update(known_lead=change.lead)
    if first_leader:
        return
    kept: list[ReadRound] = []
    for round_ in state.reads:
        if round_.index < 0:
            work.reply(round_.request_id, ERROR_LEADER_CHANGED)
        else:
            kept.append(round_)
    work.update(reads=tuple(kept))


def serve_ready(work: Work) -> None:
    """Answer every read whose index the member has applied, from its applied state."""
    state = work.state
    kept: list[ReadRound] = []
    for round_ in state.reads:
        if 0 <= round_.index <= state.applied_index:
            work.reply(round_.request_id, read_locally(state.etcd, round_.request, round_.auth))
        else:
            kept.append(round_)
    work.update(reads=tuple(kept))
