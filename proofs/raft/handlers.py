"""One relation per etcd raft handler: (state before, message, state after, reply) -> conjuncts.

Every function returns :data:`~proofs.raft.relations.Conjuncts`, one per state field (``term``,
``vote``, ``lead``, ``role``, ``log``, ``commit``, ``responses``, ``match``, ``reply``) plus
``enabled`` where the handler has a guard. The proofs conjoin them; the tie-to-impl tests check
each on a concrete step and name the ones that fail. See :mod:`proofs.raft.relations` for the
etcd rules they encode.
"""

from __future__ import annotations

from typing import final

import msgspec

from proofs.raft.relations import (
    CANDIDATE,
    FOLLOWER,
    GRANTED,
    LEADER,
    NO_RESPONSE,
    NONE,
    REJECTED,
    Conjuncts,
    Control,
    LogView,
    NodeView,
    Rules,
    appended_one,
    become_follower,
    choose,
    control_of,
    equal_all,
    majority_reached,
    observe_term,
    same_control,
    same_log,
    unchanged_log,
)
from proofs.z3adapter import And, ArithRef, BoolRef, BoolVal, If, IntVal, Not, Or


@final
class VoteRequest(msgspec.Struct, frozen=True, kw_only=True):
    """MsgVote: ``term``, the candidate's id and its last log index and term."""

    term: ArithRef
    candidate: int
    last_index: ArithRef
    last_term: ArithRef


@final
class VoteReply(msgspec.Struct, frozen=True, kw_only=True):
    """What the voter sent back: ``sent`` a MsgVoteResp at all, ``granted`` (not Reject)."""

    sent: BoolRef
    granted: BoolRef


@final
class VoteResponse(msgspec.Struct, frozen=True, kw_only=True):
    """MsgVoteResp as the candidate receives it."""

    term: ArithRef
    voter: int
    granted: BoolRef


@final
class AppendRequest(msgspec.Struct, frozen=True, kw_only=True):
    """MsgApp: ``entries`` is a log holding the entry terms at ``prev_index + 1`` on (the
    leader's own log, or the message's entries placed at their indexes) and ``last_sent`` is
    ``prev_index + len(entries)``."""

    term: ArithRef
    leader: int
    prev_index: ArithRef
    prev_term: ArithRef
    entries: LogView
    last_sent: ArithRef
    commit: ArithRef


@final
class AppendReply(msgspec.Struct, frozen=True, kw_only=True):
    """The MsgAppResp sent back: ``accepted`` (not Reject), its term and index."""

    sent: BoolRef
    accepted: BoolRef
    term: ArithRef
    index: ArithRef


@final
class AppendResponse(msgspec.Struct, frozen=True, kw_only=True):
    """MsgAppResp as the leader receives it."""

    term: ArithRef
    follower: int
    accepted: BoolRef
    index: ArithRef


def _same_volatile(before: NodeView, after: NodeView) -> Conjuncts:
    return (
        ("responses", equal_all(after.responses, before.responses)),
        ("match", equal_all(after.match, before.match)),
    )


def _volatile_reset(before: NodeView, after: NodeView, changed: BoolRef) -> Conjuncts:
    """etcd ``reset`` on a role change: the vote record and progress are cleared."""
    zeros = [IntVal(0)] * before.voters
    return (
        ("responses", equal_all(after.responses, [If(changed, 0, r) for r in before.responses])),
        (
            "match",
            equal_all(
                after.match, [If(changed, z, m) for z, m in zip(zeros, before.match, strict=True)]
            ),
        ),
    )


def on_vote_request(
    rules: Rules,
    before: NodeView,
    message: VoteRequest,
    after: NodeView,
    reply: VoteReply,
    *,
    in_lease: BoolRef,
) -> Conjuncts:
    """MsgVote arrives. ``in_lease`` is the (timing) choice to ignore a higher-term vote request
    while a leader is known: etcd does so when CheckQuorum is on and the election timeout has
    not elapsed since the leader was last heard."""
    start = control_of(before)
    candidate = IntVal(message.candidate)
    ignored = And(in_lease, message.term > before.term, before.lead != NONE)
    stale = message.term < before.term
    middle = observe_term(start, message.term, NONE, from_leader=False)
    up_to_date = rules.up_to_date(
        message.last_index, message.last_term, before.log.last_index, before.last_term
    )
    handled = And(Not(ignored), Not(stale))
    grant = And(handled, rules.can_vote(middle, candidate), up_to_date)
    expected = choose(
        handled,
        Control(
            term=middle.term,
            vote=If(grant, candidate, middle.vote),
            lead=middle.lead,
            role=middle.role,
        ),
        start,
    )
    return (
        *same_control(after, expected),
        *unchanged_log(before, after),
        *_volatile_reset(before, after, And(handled, message.term > before.term)),
        ("reply", And(reply.sent == handled, Or(Not(reply.sent), reply.granted == grant))),
    )


def _leader_log(before: NodeView, after: NodeView, won: BoolRef) -> BoolRef:
    """``becomeLeader`` appends an empty entry of the new term; otherwise the log is kept."""
    return If(
        won,
        appended_one(before, after, before.term),
        same_log(after.log, before.log.term_at, before.log.last_index),
    )


def _leader_match(before: NodeView, after: NodeView) -> BoolRef:
    """A new leader's progress: every follower's match is 0; its own is its last index."""
    expected = [
        after.log.last_index if node == before.node else IntVal(0)
        for node in range(1, before.voters + 1)
    ]
    return equal_all(after.match, expected)


def on_vote_response(
    rules: Rules,  # noqa: ARG001  (every handler takes the rules)
    before: NodeView,
    message: VoteResponse,
    after: NodeView,
) -> Conjuncts:
    """MsgVoteResp arrives: a candidate records it (first response per voter counts) and
    becomes leader on a quorum of grants, follower on a quorum of rejections."""
    start = control_of(before)
    middle = observe_term(start, message.term, NONE, from_leader=False)
    counted = And(message.term == before.term, before.role == CANDIDATE)
    position = message.voter - 1
    recorded = [
        If(
            And(counted, index == position, response == NO_RESPONSE),
            If(message.granted, GRANTED, REJECTED),
            response,
        )
        for index, response in enumerate(before.responses)
    ]
    voters = before.voters
    won = And(counted, majority_reached([r == GRANTED for r in recorded], voters))
    lost = And(counted, Not(won), majority_reached([r == REJECTED for r in recorded], voters))
    leader = Control(
        term=before.term, vote=before.vote, lead=IntVal(before.node), role=IntVal(LEADER)
    )
    expected = choose(won, leader, choose(lost, become_follower(start, before.term, NONE), middle))
    higher = message.term > before.term
    return (
        *same_control(after, expected),
        ("log", _leader_log(before, after, won)),
        ("commit", after.commit == before.commit),
        (
            "responses",
            equal_all(
                after.responses,
                [If(Or(higher, won, lost), 0, r) for r in recorded],
            ),
        ),
        (
            "match",
            If(
                won,
                _leader_match(before, after),
                equal_all(after.match, [If(higher, 0, m) for m in before.match]),
            ),
        ),
    )


def on_campaign(rules: Rules, before: NodeView, after: NodeView) -> Conjuncts:  # noqa: ARG001
    """The election timeout fires (MsgHup): ``becomeCandidate`` (term + 1, vote for self) and
    poll the own vote; a single voter wins at once. A leader ignores MsgHup."""
    node = IntVal(before.node)
    term = before.term + 1
    single = before.voters == 1
    role = LEADER if single else CANDIDATE
    lead = node if single else IntVal(NONE)
    own = [
        IntVal(GRANTED if index == before.node and not single else 0)
        for index in range(1, before.voters + 1)
    ]
    if single:
        log = appended_one(before, after, term)
        match = _leader_match(before, after)
    else:
        log = same_log(after.log, before.log.term_at, before.log.last_index)
        match = equal_all(after.match, [0] * before.voters)
    return (
        ("enabled", before.role != LEADER),
        *same_control(after, Control(term=term, vote=node, lead=lead, role=IntVal(role))),
        ("log", log),
        ("commit", after.commit == before.commit),
        ("responses", equal_all(after.responses, own)),
        ("match", match),
    )


def _append_effects(
    rules: Rules, before: NodeView, message: AppendRequest
) -> tuple[BoolRef, BoolRef, ArithRef, ArithRef]:
    """``handleAppendEntries`` on a node of the message's term: (below commit, accepted,
    expected last index, expected commit); the expected log is :func:`_appended_term_at`."""
    below_commit = message.prev_index < before.commit
    accepted = And(
        Not(below_commit), rules.match_term(before.log, message.prev_index, message.prev_term)
    )
    conflict = Or(_conflict(before.log, message), BoolVal(rules.truncate_without_conflict))
    last = If(conflict, message.last_sent, before.log.last_index)
    commit = If(
        And(accepted, _min(message.commit, message.last_sent) > before.commit),
        _min(message.commit, message.last_sent),
        before.commit,
    )
    return below_commit, accepted, If(accepted, last, before.log.last_index), commit


def _min(a: ArithRef, b: ArithRef) -> ArithRef:
    return If(a <= b, a, b)


def _conflict(log: LogView, message: AppendRequest) -> BoolRef:
    """``findConflict`` != 0: some sent entry differs from the log (or lies beyond its end)."""
    return Not(
        message.entries.for_all_positions(
            lambda i: Or(
                i <= message.prev_index,
                i > message.last_sent,
                log.term_at(i) == message.entries.term_at(i),
            )
        )
    )


def _appended_term_at(
    rules: Rules, log: LogView, message: AppendRequest, index: ArithRef
) -> ArithRef:
    """The term at ``index`` after ``maybeAppend`` accepted ``message``."""
    conflict = Or(_conflict(log, message), BoolVal(rules.truncate_without_conflict))
    return If(
        index <= message.prev_index,
        log.term_at(index),
        If(
            index <= message.last_sent,
            message.entries.term_at(index),
            If(conflict, IntVal(0), log.term_at(index)),
        ),
    )


def on_append_request(
    rules: Rules, before: NodeView, message: AppendRequest, after: NodeView, reply: AppendReply
) -> Conjuncts:
    """MsgApp arrives from the leader of ``message.term``."""
    start = control_of(before)
    stale = message.term < before.term
    follower = become_follower(start, message.term, message.leader)
    expected = choose(
        stale,
        start,
        choose(And(before.role == LEADER, message.term == before.term), start, follower),
    )
    handled = And(Not(stale), Or(before.role != LEADER, message.term > before.term))
    below_commit, accepted, last, commit = _append_effects(rules, before, message)
    log = If(
        And(handled, accepted),
        same_log(after.log, lambda i: _appended_term_at(rules, before.log, message, i), last),
        same_log(after.log, before.log.term_at, before.log.last_index),
    )
    reply_index = If(
        below_commit, before.commit, If(accepted, message.last_sent, message.prev_index)
    )
    return (
        *same_control(after, expected),
        ("log", log),
        ("commit", after.commit == If(handled, commit, before.commit)),
        *_volatile_reset(
            before, after, And(handled, Or(message.term > before.term, before.role != FOLLOWER))
        ),
        (
            "reply",
            And(
                reply.sent == Or(handled, stale),
                Or(
                    Not(reply.sent),
                    If(
                        stale,
                        reply.term == before.term,
                        And(
                            reply.term == message.term,
                            reply.accepted == Or(below_commit, accepted),
                            reply.index == reply_index,
                        ),
                    ),
                ),
            ),
        ),
    )


def quorum_index_is(node: NodeView, match: tuple[ArithRef, ...], index: ArithRef) -> BoolRef:
    """``index`` is the largest index that a quorum's match reaches (etcd ``Committed()``)."""
    voters = node.voters
    return And(
        majority_reached([m >= index for m in match], voters),
        Not(majority_reached([m >= index + 1 for m in match], voters)),
    )


def _commit_rule(rules: Rules, leader: NodeView, quorum_index: ArithRef) -> ArithRef:
    """``maybeCommit``: advance to the quorum index when the rule allows it."""
    return If(
        And(quorum_index > leader.commit, rules.may_commit(leader, quorum_index)),
        quorum_index,
        leader.commit,
    )


def on_append_response(
    rules: Rules,
    before: NodeView,
    message: AppendResponse,
    after: NodeView,
    *,
    quorum_index: ArithRef,
) -> Conjuncts:
    """MsgAppResp arrives at a leader: record the follower's match and maybe commit.
    ``quorum_index`` is a free variable that the conjunct ``match`` pins down."""
    start = control_of(before)
    higher = message.term > before.term
    counted = And(message.term == before.term, before.role == LEADER, message.accepted)
    position = message.follower - 1
    match = [
        If(And(counted, index == position, message.index > value), message.index, value)
        for index, value in enumerate(before.match)
    ]
    match_tuple = tuple(match)
    commit = If(counted, _commit_rule(rules, before, quorum_index), before.commit)
    return (
        *same_control(after, observe_term(start, message.term, NONE, from_leader=False)),
        ("log", same_log(after.log, before.log.term_at, before.log.last_index)),
        ("commit", after.commit == commit),
        ("responses", equal_all(after.responses, [If(higher, 0, r) for r in before.responses])),
        (
            "match",
            And(
                equal_all(after.match, [If(higher, 0, m) for m in match_tuple]),
                Or(Not(counted), quorum_index_is(before, match_tuple, quorum_index)),
            ),
        ),
    )


def on_propose(
    rules: Rules, before: NodeView, after: NodeView, *, quorum_index: ArithRef
) -> Conjuncts:
    """MsgProp at a leader: append an entry of its term, update its own match, maybe commit."""
    last = before.log.last_index + 1
    match = tuple(
        last if node == before.node else before.match[node - 1]
        for node in range(1, before.voters + 1)
    )
    return (
        ("enabled", before.role == LEADER),
        *same_control(after, control_of(before)),
        ("log", appended_one(before, after, before.term)),
        ("commit", after.commit == _commit_rule(rules, before, quorum_index)),
        ("responses", equal_all(after.responses, before.responses)),
        ("match", And(equal_all(after.match, match), quorum_index_is(before, match, quorum_index))),
    )


def on_restart(before: NodeView, after: NodeView) -> Conjuncts:
    """Crash and restart: term, vote, log and commit persist; the node is a follower with no
    known leader and empty volatile state."""
    expected = Control(term=before.term, vote=before.vote, lead=IntVal(NONE), role=IntVal(FOLLOWER))
    return (
        *same_control(after, expected),
        *unchanged_log(before, after),
        ("responses", equal_all(after.responses, [0] * before.voters)),
        ("match", equal_all(after.match, [0] * before.voters)),
    )


def on_check_quorum_lost(before: NodeView, after: NodeView) -> Conjuncts:
    """CheckQuorum: a leader that has not heard from a quorum steps down (same term)."""
    return (
        ("enabled", before.role == LEADER),
        *same_control(after, become_follower(control_of(before), before.term, NONE)),
        *unchanged_log(before, after),
        ("responses", equal_all(after.responses, [0] * before.voters)),
        ("match", equal_all(after.match, [0] * before.voters)),
    )


def conjoin(conjuncts: Conjuncts) -> BoolRef:
    """All the conjuncts of a relation as one formula."""
    return And([formula for _, formula in conjuncts])


@final
class Heartbeat(msgspec.Struct, frozen=True, kw_only=True):
    """MsgHeartbeat: the leader's term and ``commit`` (min of its commit and the match)."""

    term: ArithRef
    leader: int
    commit: ArithRef


def on_heartbeat(before: NodeView, message: Heartbeat, after: NodeView) -> Conjuncts:
    """MsgHeartbeat: follow the leader of its term, ``commitTo(m.Commit)``; the log is kept."""
    start = control_of(before)
    stale = message.term < before.term
    ignored = Or(stale, And(before.role == LEADER, message.term == before.term))
    follower = become_follower(start, message.term, message.leader)
    commit = If(message.commit > before.commit, message.commit, before.commit)
    changed = And(Not(ignored), Or(message.term > before.term, before.role != FOLLOWER))
    return (
        *same_control(after, choose(ignored, start, follower)),
        ("log", same_log(after.log, before.log.term_at, before.log.last_index)),
        ("commit", after.commit == If(ignored, before.commit, commit)),
        *_volatile_reset(before, after, changed),
    )


def on_other_response(before: NodeView, term: ArithRef, after: NodeView) -> Conjuncts:
    """A response the proofs do not model further (MsgHeartbeatResp): only its term counts."""
    higher = term > before.term
    return (
        *same_control(after, observe_term(control_of(before), term, NONE, from_leader=False)),
        *unchanged_log(before, after),
        ("responses", equal_all(after.responses, [If(higher, 0, r) for r in before.responses])),
        ("match", equal_all(after.match, [If(higher, 0, m) for m in before.match])),
    )
