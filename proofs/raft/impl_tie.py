"""Ties the proofs to ``impl.raft``: does a concrete step satisfy the handler relation?

:func:`check_step` takes a node's state before, the event, and the ``Step`` that
``impl.raft.on_event`` returned, turns both states into :class:`~proofs.raft.relations.NodeView`
values of integer constants, picks the handler relation of :mod:`proofs.raft.handlers` that the
event stands for, and asks z3 whether every conjunct holds (choices the relation leaves open,
such as the leader lease, are free). A failure names the handler and the fields.

Volatile bookkeeping is compared only where the proofs use it: the vote record while a node is
a candidate, the match indexes while it is a leader. Other events (ticks that only count,
ReadIndex, snapshots, membership) are checked against the ``unchanged`` relation: they must not
change a modelled field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import final

import msgspec

from models.raft import (
    Event,
    MessageReceived,
    MsgApp,
    MsgAppResp,
    MsgHeartbeat,
    MsgHeartbeatResp,
    MsgVote,
    MsgVoteResp,
    Propose,
    RaftNodeState,
    SendMessage,
)
from proofs.raft.handlers import (
    AppendReply,
    AppendRequest,
    AppendResponse,
    Heartbeat,
    VoteReply,
    VoteRequest,
    VoteResponse,
    on_append_request,
    on_append_response,
    on_campaign,
    on_check_quorum_lost,
    on_heartbeat,
    on_other_response,
    on_propose,
    on_restart,
    on_vote_request,
    on_vote_response,
)
from proofs.raft.relations import (
    CANDIDATE,
    ETCD_RULES,
    FOLLOWER,
    GRANTED,
    LEADER,
    REJECTED,
    BoundedLog,
    Conjuncts,
    NodeView,
    control_of,
    same_control,
    unchanged_log,
)
from proofs.z3adapter import Bool, BoolVal, Int, IntVal, Unknown, unsatisfied_labels

ROLE_CODES = {"follower": FOLLOWER, "pre_candidate": FOLLOWER, "candidate": CANDIDATE}


@final
class StepCheck(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome for one step: the handler relation used and the conjuncts that failed."""

    handler: str
    failed: tuple[str, ...]

    @property
    def holds(self) -> bool:
        return not self.failed


def _terms(state: RaftNodeState) -> list[int]:
    persisted = state.persisted
    assert persisted.snapshot.metadata.index == 0, "compacted logs are not modelled"
    return [entry.term for entry in persisted.log]


def node_view(state: RaftNodeState, voters: Sequence[int], capacity: int) -> NodeView:
    """The relations' view of a concrete node state (node ids must be 1..len(voters))."""
    assert tuple(voters) == tuple(range(1, len(voters) + 1))
    terms = _terms(state)
    assert len(terms) <= capacity
    role = LEADER if state.role == "leader" else ROLE_CODES[state.role]
    granted = {vote.node_id: vote.granted for vote in state.votes}
    responses = [
        (GRANTED if granted[j] else REJECTED) if role == CANDIDATE and j in granted else 0
        for j in voters
    ]
    matches = {progress.node_id: progress.match_index for progress in state.progress}
    match = [matches.get(j, 0) if role == LEADER else 0 for j in voters]
    return NodeView(
        node=state.node_id,
        term=IntVal(state.persisted.term),
        vote=IntVal(state.persisted.vote),
        lead=IntVal(state.lead),
        role=IntVal(role),
        commit=IntVal(state.persisted.commit_index),
        log=BoundedLog(
            terms=tuple(IntVal(t) for t in [*terms, *([0] * (capacity - len(terms)))]),
            last=IntVal(len(terms)),
        ),
        responses=tuple(IntVal(r) for r in responses),
        match=tuple(IntVal(m) for m in match),
    )


def _replies(commands: Sequence[object], kind: type) -> list[object]:
    return [
        c.message for c in commands if isinstance(c, SendMessage) and isinstance(c.message, kind)
    ]


def _vote_request(
    before: NodeView, message: MsgVote, after: NodeView, commands: Sequence[object]
) -> Conjuncts:
    replies = [r for r in _replies(commands, MsgVoteResp) if isinstance(r, MsgVoteResp)]
    reply = VoteReply(
        sent=BoolVal(bool(replies)),
        granted=BoolVal(bool(replies) and not replies[0].reject),
    )
    request = VoteRequest(
        term=IntVal(message.term),
        candidate=message.from_id,
        last_index=IntVal(message.last_log_index),
        last_term=IntVal(message.last_log_term),
    )
    return on_vote_request(ETCD_RULES, before, request, after, reply, in_lease=Bool("in_lease"))


def _append_request(
    before: NodeView, message: MsgApp, after: NodeView, commands: Sequence[object], capacity: int
) -> Conjuncts:
    replies = [r for r in _replies(commands, MsgAppResp) if isinstance(r, MsgAppResp)]
    placed = [0] * capacity
    for entry in message.entries:
        placed[entry.index - 1] = entry.term
    last_sent = message.prev_log_index + len(message.entries)
    entries = BoundedLog(terms=tuple(IntVal(t) for t in placed), last=IntVal(last_sent))
    request = AppendRequest(
        term=IntVal(message.term),
        leader=message.from_id,
        prev_index=IntVal(message.prev_log_index),
        prev_term=IntVal(message.prev_log_term),
        entries=entries,
        last_sent=IntVal(last_sent),
        commit=IntVal(message.commit_index),
    )
    first = replies[0] if replies else None
    reply = AppendReply(
        sent=BoolVal(first is not None),
        accepted=BoolVal(first is not None and not first.reject),
        term=IntVal(first.term if first else 0),
        index=IntVal(first.index if first else 0),
    )
    return on_append_request(ETCD_RULES, before, request, after, reply)


def _relation(
    state_before: RaftNodeState,
    event: Event,
    state_after: RaftNodeState,
    commands: Sequence[object],
    before: NodeView,
    after: NodeView,
    capacity: int,
) -> tuple[str, Conjuncts]:
    match event:
        case MessageReceived(message=MsgVote() as message):
            return "on MsgVote", _vote_request(before, message, after, commands)
        case MessageReceived(message=MsgVoteResp() as message):
            response = VoteResponse(
                term=IntVal(message.term),
                voter=message.from_id,
                granted=BoolVal(not message.reject),
            )
            return "on MsgVoteResp", on_vote_response(ETCD_RULES, before, response, after)
        case MessageReceived(message=MsgApp() as message):
            return "on MsgApp", _append_request(before, message, after, commands, capacity)
        case MessageReceived(message=MsgAppResp() as message):
            response_app = AppendResponse(
                term=IntVal(message.term),
                follower=message.from_id,
                accepted=BoolVal(not message.reject),
                index=IntVal(message.index),
            )
            relation = on_append_response(
                ETCD_RULES, before, response_app, after, quorum_index=Int("quorum_index")
            )
            return "on MsgAppResp", relation
        case MessageReceived(message=MsgHeartbeat() as message):
            heartbeat = Heartbeat(
                term=IntVal(message.term),
                leader=message.from_id,
                commit=IntVal(message.commit_index),
            )
            return "on MsgHeartbeat", on_heartbeat(before, heartbeat, after)
        case MessageReceived(message=MsgHeartbeatResp() as message):
            return "on MsgHeartbeatResp", on_other_response(before, IntVal(message.term), after)
        case Propose() if state_before.role == "leader":
            return "on Propose", on_propose(ETCD_RULES, before, after, quorum_index=Int("q"))
    persisted_before, persisted_after = state_before.persisted, state_after.persisted
    if persisted_after.term == persisted_before.term + 1 and state_after.role != "follower":
        return "campaign", on_campaign(ETCD_RULES, before, after)
    if (
        state_before.role == "leader"
        and state_after.role == "follower"
        and persisted_after.term == persisted_before.term
    ):
        return "check quorum lost", on_check_quorum_lost(before, after)
    return "unchanged", (*same_control(after, control_of(before)), *unchanged_log(before, after))


def check_step(
    voters: Sequence[int],
    before: RaftNodeState,
    event: Event,
    after: RaftNodeState,
    commands: Sequence[object],
) -> StepCheck:
    """Does ``impl.raft``'s step satisfy the relation the proofs use for it?"""
    capacity = _capacity(before, event, after)
    view_before = node_view(before, voters, capacity)
    view_after = node_view(after, voters, capacity)
    handler, conjuncts = _relation(
        before, event, after, commands, view_before, view_after, capacity
    )
    failed = unsatisfied_labels(conjuncts)
    if isinstance(failed, Unknown):
        return StepCheck(handler=handler, failed=(f"z3 unknown: {failed.reason}",))
    return StepCheck(handler=handler, failed=failed)


def check_restart(voters: Sequence[int], before: RaftNodeState, after: RaftNodeState) -> StepCheck:
    """Does a restart (``impl.raft.init`` from the persisted state) satisfy ``on_restart``?"""
    capacity = max(len(_terms(before)), len(_terms(after))) + 1
    conjuncts = on_restart(node_view(before, voters, capacity), node_view(after, voters, capacity))
    failed = unsatisfied_labels(conjuncts)
    if isinstance(failed, Unknown):
        return StepCheck(handler="restart", failed=(f"z3 unknown: {failed.reason}",))
    return StepCheck(handler="restart", failed=failed)


def _capacity(before: RaftNodeState, event: Event, after: RaftNodeState) -> int:
    sizes = [len(_terms(before)), len(_terms(after))]
    if isinstance(event, MessageReceived) and isinstance(event.message, MsgApp):
        sizes.append(event.message.prev_log_index + len(event.message.entries))
    return max(sizes) + 1
