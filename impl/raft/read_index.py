"""Linearizable reads with ReadIndex (Ongaro thesis section 6.4; etcd ``ReadOnlySafe``).

Theory of operation. A read must observe every write committed before it started. The leader
records its commit index as the read index, then confirms it is still leader by a heartbeat
round carrying the request's context: once a quorum (both halves of a joint configuration)
answers, no other leader can have committed anything newer, and the read may be served as soon
as the application has applied up to the read index (``ReadIndexReady``). Acknowledging a later
request confirms all earlier ones. A new leader may not know which entries are committed until
it commits one of its own term, so requests arriving before that wait (bounded) in
``pending_read_index``. Followers forward requests to the leader (MsgReadIndex) and get the
index back (MsgReadIndexResp). A single-voter leader answers at once.
"""

from __future__ import annotations

from impl.raft.commitment import vote_result
from impl.raft.replication import bcast_heartbeat
from impl.raft.transition import Transition
from models.raft import (
    NO_NODE,
    MsgHeartbeatResp,
    MsgReadIndex,
    MsgReadIndexResp,
    PendingReadIndex,
    ReadIndexDropped,
    ReadIndexReady,
    ReadIndexStatus,
)


def _respond(transition: Transition, context: bytes, requester: int, index: int) -> None:
    state = transition.state
    if requester in (NO_NODE, state.node_id):
        transition.emit(ReadIndexReady(context=context, index=index))
        return
    transition.send(
        MsgReadIndexResp(
            from_id=state.node_id,
            to_id=requester,
            term=state.persisted.term,
            context=context,
            index=index,
        )
    )


def _drop(transition: Transition, context: bytes, requester: int, reason: str) -> None:
    if requester in (NO_NODE, transition.state.node_id):
        transition.emit(ReadIndexDropped(context=context, reason=reason))


def committed_entry_in_current_term(transition: Transition) -> bool:
    persisted = transition.state.persisted
    return persisted.term_at(persisted.commit_index) == persisted.term


def _is_singleton(transition: Transition) -> bool:
    conf = transition.state.conf_state
    return conf.voters == (transition.state.node_id,) and not conf.is_joint()


def leader_read_index(transition: Transition, context: bytes, requester: int) -> None:
    """Leader: etcd ``stepLeader`` MsgReadIndex."""
    state = transition.state
    config = transition.config
    if _is_singleton(transition):
        _respond(transition, context, requester, state.persisted.commit_index)
        return
    if not committed_entry_in_current_term(transition):
        if len(state.pending_read_index) >= config.max_pending_read_index:
            _drop(transition, context, requester, "read index queue full")
            return
        pending = PendingReadIndex(context=context, requester=requester)
        transition.update(pending_read_index=(*state.pending_read_index, pending))
        return
    if any(request.context == context for request in state.read_index_queue):
        return  # etcd ignores a duplicate context
    if len(state.read_index_queue) >= config.max_pending_read_index:
        _drop(transition, context, requester, "read index queue full")
        return
    request = ReadIndexStatus(
        context=context,
        index=state.persisted.commit_index,
        requester=requester,
        acks=(state.node_id,),
    )
    transition.update(read_index_queue=(*state.read_index_queue, request))
    bcast_heartbeat(transition, context)


def on_read_index_requested(transition: Transition, context: bytes) -> None:
    """A local client asks for a read index: the leader starts a round; a follower forwards to
    its leader; without a known leader the request is dropped (the client retries)."""
    state = transition.state
    if state.role == "leader":
        leader_read_index(transition, context, state.node_id)
    elif state.role == "follower" and state.lead != NO_NODE:
        transition.send(
            MsgReadIndex(from_id=state.node_id, to_id=state.lead, term=0, context=context)
        )
    else:
        transition.emit(ReadIndexDropped(context=context, reason="no leader"))


def on_read_index_message(transition: Transition, message: MsgReadIndex) -> None:
    """A forwarded request: the leader serves it, a follower forwards it on (etcd)."""
    state = transition.state
    if state.role == "leader":
        leader_read_index(transition, message.context, message.from_id)
    elif state.role == "follower" and state.lead not in (NO_NODE, message.from_id):
        transition.send(
            MsgReadIndex(from_id=message.from_id, to_id=state.lead, term=0, context=message.context)
        )


def on_read_index_response(transition: Transition, message: MsgReadIndexResp) -> None:
    """Follower: the leader confirmed a read index for our client."""
    transition.emit(ReadIndexReady(context=message.context, index=message.index))


def on_heartbeat_ack(transition: Transition, message: MsgHeartbeatResp) -> None:
    """Leader: a heartbeat answer for a ReadIndex round; once a quorum acknowledged a request,
    it and every request queued before it are released in order (etcd ``readOnly.advance``)."""
    state = transition.state
    if not message.context:
        return
    queue = state.read_index_queue
    position = next(
        (at for at, request in enumerate(queue) if request.context == message.context), None
    )
    if position is None:
        return
    request = queue[position]
    if message.from_id not in request.acks:
        request = ReadIndexStatus(
            context=request.context,
            index=request.index,
            requester=request.requester,
            acks=tuple(sorted((*request.acks, message.from_id))),
        )
        queue = (*queue[:position], request, *queue[position + 1 :])
        transition.update(read_index_queue=queue)
    acks = frozenset(request.acks)
    voters = frozenset(state.conf_state.all_voters())
    if vote_result(state.conf_state, acks, voters - acks, transition.config.mutant) != "won":
        return
    transition.update(read_index_queue=queue[position + 1 :])
    for released in queue[: position + 1]:
        _respond(transition, released.context, released.requester, released.index)


def release_pending(transition: Transition) -> None:
    """Leader: once an entry of the current term is committed, serve requests that waited."""
    state = transition.state
    if (
        state.role != "leader"
        or not state.pending_read_index
        or not committed_entry_in_current_term(transition)
    ):
        return
    transition.update(pending_read_index=())
    for pending in state.pending_read_index:
        leader_read_index(transition, pending.context, pending.requester)
