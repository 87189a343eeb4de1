"""Ties the unbounded proofs to ``impl.raft``: every concrete step satisfies their relations.

A node state of ``impl.raft`` becomes :class:`Fields` (its term, role, vote, log terms,
commit index, a candidate's grants and a leader's match indexes), read through
:class:`ConcreteFields` as the relations of :mod:`proofs.raft.node_relations` read a node;
:class:`ConcreteDomain` gives them integer nodes, terms and indexes and quantifiers over the
finitely many values a step involves (every index up to one past the longest log, every term up
to one past the highest, every node of the configuration, every majority as a quorum).

:func:`check_step` maps an event to the relations the proofs' transitions use, in the order
etcd applies them: a message of a higher term is ``observe_term`` and then the handling in that
term; a granted vote that completes a quorum is ``record_grant`` and then ``become_leader``; an
accepted MsgAppResp is ``record_ack`` and then, if the commit index moved, ``leader_commit``.
The intermediate states are computed from the state before; the last relation must lead to the
state ``impl.raft`` produced. Where the relations leave a choice open (grant or not, which
quorum, which conflicting index), the outcome ``impl.raft`` chose selects the relation and z3
checks that it is allowed. A failure names the relation and the conjuncts (fields) that fail.

The relations are the very functions the proofs build z3 formulas with; here they run on
integers and Python truth values (:class:`ConcreteDomain`), so a step is checked without a
solver.

Snapshots, compaction and membership changes are not modelled: a step that compacts the log or
applies a configuration change is rejected by :func:`fields_of` and :func:`check_step`.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import final

import msgspec

from models.raft import (
    Event,
    MessageReceived,
    MsgApp,
    MsgAppResp,
    MsgHeartbeat,
    MsgHeartbeatResp,
    MsgPreVote,
    MsgPreVoteResp,
    MsgVote,
    MsgVoteResp,
    Propose,
    RaftNodeState,
)
from proofs.raft import node_relations as rel
from proofs.raft.epr import Formula, Member, Value
from proofs.raft.node_relations import Append, Commit, Conjuncts, Rules, VoteRequest


@final
@dataclass(frozen=True, slots=True)
class Fields:
    """One node's modelled fields, as plain values."""

    node: int
    term: int
    vote: int
    role: str
    """``leader``, ``candidate`` or ``follower`` (a pre-candidate counts as a follower)."""
    log: tuple[int, ...]
    """The term of each entry, index 1 first."""
    commit: int
    granted: frozenset[int] = frozenset()
    match: tuple[tuple[int, int], ...] = ()
    """A leader's (node, match index) pairs."""


def fields_of(state: RaftNodeState) -> Fields:
    """The modelled fields of a concrete node state (a compacted log is not modelled)."""
    persisted = state.persisted
    assert persisted.snapshot.metadata.index == 0, "compacted logs are not modelled"
    role = state.role if state.role in ("leader", "candidate") else "follower"
    granted = frozenset(vote.node_id for vote in state.votes if vote.granted)
    match = tuple(sorted((p.node_id, p.match_index) for p in state.progress))
    return Fields(
        node=state.node_id,
        term=persisted.term,
        vote=persisted.vote,
        role=role,
        log=tuple(entry.term for entry in persisted.log),
        commit=persisted.commit_index,
        granted=granted if role == "candidate" else frozenset(),
        match=match if role == "leader" else (),
    )


def _int(value: Value) -> int:
    assert isinstance(value, int), value
    return value


def _truth(formula: Formula) -> bool:
    assert isinstance(formula, bool), formula
    return formula


@final
class ConcreteFields:
    """:class:`~proofs.raft.node_relations.NodeFields` of :class:`Fields`: Python truth values."""

    def __init__(self, fields: Fields) -> None:
        self.fields = fields
        self._matches = dict(fields.match)

    def term_is(self, term: Value) -> bool:
        return _int(term) == self.fields.term

    def left(self, term: Value) -> bool:
        return _int(term) < self.fields.term

    @property
    def leader(self) -> bool:
        return self.fields.role == "leader"

    @property
    def candidate(self) -> bool:
        return self.fields.role == "candidate"

    def voted_for(self, node: Value) -> bool:
        return self.fields.vote != 0 and _int(node) == self.fields.vote

    def entry(self, index: Value, term: Value) -> bool:
        i = _int(index)
        return 1 <= i <= len(self.fields.log) and self.fields.log[i - 1] == _int(term)

    def used(self, index: Value) -> bool:
        return 1 <= _int(index) <= len(self.fields.log)

    def granted(self, node: Value) -> bool:
        return _int(node) in self.fields.granted

    def match(self, node: Value, index: Value) -> bool:
        return _int(index) == 0 or _int(index) <= self._matches.get(_int(node), 0)


@final
class ConcreteDomain:
    """Integers, with quantifiers over the values a step involves; formulas are Python bools."""

    def __init__(self, nodes: Sequence[int], max_term: int, max_index: int) -> None:
        self.nodes = tuple(nodes)
        self.terms = range(max_term + 2)
        self.indexes = range(max_index + 2)

    @property
    def term_zero(self) -> int:
        return 0

    @property
    def index_zero(self) -> int:
        return 0

    def term_le(self, a: Value, b: Value) -> bool:
        return _int(a) <= _int(b)

    def index_le(self, a: Value, b: Value) -> bool:
        return _int(a) <= _int(b)

    def eq(self, a: Value, b: Value) -> bool:
        return _int(a) == _int(b)

    def truth(self, value: bool) -> bool:
        return value

    def and_(self, *parts: Formula) -> bool:
        return all(_truth(part) for part in parts)

    def or_(self, *parts: Formula) -> bool:
        return any(_truth(part) for part in parts)

    def not_(self, part: Formula) -> bool:
        return not _truth(part)

    def implies(self, a: Formula, b: Formula) -> bool:
        return not _truth(a) or _truth(b)

    def iff(self, a: Formula, b: Formula) -> bool:
        return _truth(a) == _truth(b)

    def ite(self, condition: Formula, then: Value, otherwise: Value) -> int:
        return _int(then) if _truth(condition) else _int(otherwise)

    def all_nodes(self, body: Callable[[Value], Formula]) -> bool:
        return all(_truth(body(node)) for node in self.nodes)

    def all_terms(self, body: Callable[[Value], Formula]) -> bool:
        return all(_truth(body(term)) for term in self.terms)

    def all_indexes(self, body: Callable[[Value], Formula]) -> bool:
        return all(_truth(body(index)) for index in self.indexes)

    def some_quorum(self, body: Callable[[Member], Formula]) -> bool:
        """Some majority of the nodes (etcd's quorum for one configuration)."""
        size = len(self.nodes) // 2 + 1
        for quorum in itertools.combinations(self.nodes, size):
            members = frozenset(quorum)

            def member(node: Value, members: frozenset[int] = members) -> bool:
                return _int(node) in members

            if _truth(body(member)):
                return True
        return False


@final
class StepCheck(msgspec.Struct, frozen=True, kw_only=True):
    """The relations a step was checked against and the conjuncts that failed."""

    relations: tuple[str, ...]
    failed: tuple[str, ...]

    @property
    def holds(self) -> bool:
        return not self.failed


Stage = tuple[str, Conjuncts]


@final
class _Builder:
    """The relations of one step, from ``before`` through intermediate states to ``after``."""

    def __init__(self, domain: ConcreteDomain, rules: Rules, before: Fields, after: Fields) -> None:
        self.domain = domain
        self.rules = rules
        self.current = before
        self.after = after
        self.stages: list[Stage] = []

    def node(self) -> int:
        return self.current.node

    def to(
        self,
        name: str,
        target: Fields,
        relation: Callable[[ConcreteFields, ConcreteFields, Commit], Conjuncts],
    ) -> None:
        """Add ``relation`` from the current state to ``target``; commit unchanged unless the
        relation says how it moves."""
        commit = Commit(before=self.current.commit, after=target.commit)
        conjuncts = relation(ConcreteFields(self.current), ConcreteFields(target), commit)
        if not any(label == "commit" for label, _ in conjuncts):
            conjuncts = (*conjuncts, ("commit", (target.commit == self.current.commit)))
        self.stages.append((name, conjuncts))
        self.current = target

    def finish(
        self, name: str, relation: Callable[[ConcreteFields, ConcreteFields, Commit], Conjuncts]
    ) -> None:
        self.to(name, self.after, relation)

    def observe(self, term: int) -> None:
        """A higher term first makes the node a follower of it (etcd ``Step``)."""
        if term <= self.current.term:
            return
        bumped = dataclasses.replace(
            self.current, term=term, vote=0, role="follower", granted=frozenset(), match=()
        )
        d = self.domain
        self.to(
            "observe_term",
            bumped,
            lambda b, a, _c: rel.observe_term(d, b, a, term=self.current.term, new_term=term),
        )


def _unchanged(
    domain: ConcreteDomain,
) -> Callable[[ConcreteFields, ConcreteFields, Commit], Conjuncts]:
    return lambda b, a, _c: rel.unchanged(domain, b, a)


def _step_down(
    domain: ConcreteDomain, term: int
) -> Callable[[ConcreteFields, ConcreteFields, Commit], Conjuncts]:
    return lambda b, a, _c: rel.step_down(domain, b, a, term=term)


Relation = Callable[[ConcreteFields, ConcreteFields, Commit], Conjuncts]


def _replies(commands: Sequence[object], kind: type) -> list[object]:
    from models.raft import SendMessage

    return [
        c.message for c in commands if isinstance(c, SendMessage) and isinstance(c.message, kind)
    ]


def _granted_reply(commands: Sequence[object]) -> bool:
    replies = [r for r in _replies(commands, MsgVoteResp) if isinstance(r, MsgVoteResp)]
    return bool(replies) and not replies[0].reject


def _accepted_reply(commands: Sequence[object]) -> bool:
    replies = [r for r in _replies(commands, MsgAppResp) if isinstance(r, MsgAppResp)]
    return bool(replies) and not replies[0].reject


def _last(fields: Fields) -> tuple[int, int]:
    return len(fields.log), (fields.log[-1] if fields.log else 0)


def _on_vote(b: _Builder, message: MsgVote, commands: Sequence[object]) -> None:
    d, start = b.domain, b.current
    if message.term < start.term or (message.term > start.term and b.after.term < message.term):
        b.finish("unchanged (stale, or ignored in a leader lease)", _unchanged(d))
        return
    b.observe(message.term)
    if not _granted_reply(commands):
        b.finish("unchanged (refused)", _unchanged(d))
        return
    own, own_term = _last(b.current)
    request = VoteRequest(
        term=message.term,
        candidate=message.from_id,
        last_index=message.last_log_index,
        last_term=message.last_log_term,
        own_last_index=own,
        own_last_term=own_term,
    )
    b.finish("grant_vote", lambda x, y, _c: rel.grant_vote(d, b.rules, x, y, request))


def _become_leader(b: _Builder) -> Relation:
    d, node, term = b.domain, b.node(), (b.current.term)
    new_index = len(b.current.log) + 1
    return lambda x, y, _c: rel.become_leader(
        d, x, y, node=node, term=term, new_index=new_index, quorum=d.some_quorum
    )


def _on_vote_response(b: _Builder, message: MsgVoteResp) -> None:
    d, start = b.domain, b.current
    if message.term > start.term:
        b.observe(message.term)
        b.finish("unchanged", _unchanged(d))
        return
    if message.term < start.term or start.role != "candidate":
        b.finish("unchanged", _unchanged(d))
        return
    if message.reject:
        lost = b.after.role != "candidate"
        b.finish(
            "step_down (lost)" if lost else "unchanged",
            _step_down(d, start.term) if lost else _unchanged(d),
        )
        return
    voter, term = (message.from_id), (start.term)
    recorded = dataclasses.replace(start, granted=start.granted | {message.from_id})
    b.to(
        "record_grant", recorded, lambda x, y, _c: rel.record_grant(d, x, y, term=term, voter=voter)
    )
    if b.after.role == "leader":
        b.finish("become_leader", _become_leader(b))
    else:
        b.finish("unchanged", _unchanged(d))


def _message_entries(message: MsgApp) -> Callable[[Value, Value], Formula]:
    terms = {entry.index: entry.term for entry in message.entries}

    def entry(index: Value, term: Value) -> bool:
        return terms.get(_int(index)) == _int(term)

    return entry


def _conflict(fields: Fields, message: MsgApp) -> tuple[int, int]:
    """etcd ``findConflict``: the first sent entry the log lacks, with its term (0, 0: none)."""
    for entry in message.entries:
        if entry.index > len(fields.log) or fields.log[entry.index - 1] != entry.term:
            return entry.index, entry.term
    return 0, 0


def _on_append(b: _Builder, message: MsgApp, commands: Sequence[object]) -> None:
    d, start = b.domain, b.current
    if message.term < start.term:
        b.finish("unchanged (stale)", _unchanged(d))
        return
    b.observe(message.term)
    if b.current.role == "candidate":
        follower = dataclasses.replace(b.current, role="follower", granted=frozenset())
        b.to("step_down (a leader of the term)", follower, _step_down(d, message.term))
    request = Append(
        term=message.term,
        prev=message.prev_log_index,
        prev_term=message.prev_log_term,
        last_sent=message.prev_log_index + len(message.entries),
        entry=_message_entries(message),
        commit=message.commit_index,
    )
    if message.prev_log_index < b.current.commit:
        b.finish(
            "append_below_commit", lambda x, y, c: rel.append_below_commit(d, x, y, request, c)
        )
    elif not _accepted_reply(commands):
        b.finish("step_down (rejected MsgApp)", _step_down(d, message.term))
    elif b.after.log == b.current.log:
        b.finish("append_keep", lambda x, y, c: rel.append_keep(d, b.rules, x, y, request, c))
    else:
        index, term = _conflict(b.current, message)
        conflict = (index, term)
        b.finish(
            "append_truncate",
            lambda x, y, c: rel.append_truncate(
                d, b.rules, x, y, request, c, conflict=conflict[0], conflict_term=conflict[1]
            ),
        )


def _commit_or_unchanged(b: _Builder) -> None:
    d, term = b.domain, (b.current.term)
    if b.after.commit == b.current.commit:
        b.finish("unchanged", _unchanged(d))
        return
    index = b.after.commit
    b.finish(
        "leader_commit",
        lambda x, y, c: rel.leader_commit(
            d, b.rules, x, y, term=term, index=index, commit=c, quorum=d.some_quorum
        ),
    )


def _on_append_response(b: _Builder, message: MsgAppResp) -> None:
    d, start = b.domain, b.current
    if message.term > start.term:
        b.observe(message.term)
        b.finish("unchanged", _unchanged(d))
        return
    if message.term < start.term or start.role != "leader" or message.reject:
        b.finish("unchanged", _unchanged(d))
        return
    matches = dict(start.match)
    matches[message.from_id] = max(matches.get(message.from_id, 0), message.index)
    acked = dataclasses.replace(start, match=tuple(sorted(matches.items())))
    follower, index, term = (message.from_id), (message.index), (start.term)
    b.to(
        "record_ack",
        acked,
        lambda x, y, _c: rel.record_ack(d, x, y, term=term, follower=follower, index=index),
    )
    _commit_or_unchanged(b)


def _on_heartbeat(b: _Builder, message: MsgHeartbeat) -> None:
    d = b.domain
    if message.term < b.current.term:
        b.finish("unchanged (stale)", _unchanged(d))
        return
    b.observe(message.term)
    term, carried = (message.term), (message.commit_index)
    b.finish(
        "heartbeat_commit",
        lambda x, y, c: rel.heartbeat_commit(d, x, y, term=term, carried=carried, commit=c),
    )


def _on_propose(b: _Builder) -> None:
    d, start = b.domain, b.current
    if start.role != "leader":
        b.finish("unchanged", _unchanged(d))
        return
    appended = dataclasses.replace(
        start,
        log=(*start.log, start.term),
        match=tuple(sorted({**dict(start.match), start.node: len(start.log) + 1}.items())),
    )
    node, term, index = b.node(), start.term, len(start.log) + 1
    b.to(
        "propose",
        appended,
        lambda x, y, _c: rel.propose(d, x, y, node=node, term=term, new_index=index),
    )
    _commit_or_unchanged(b)


def _on_timer(b: _Builder) -> None:
    """A tick, a random draw or anything else without a message: a campaign, a CheckQuorum
    step-down, or no modelled change."""
    d, start, after = b.domain, b.current, b.after
    if after.term > start.term:
        node, term, new_term = b.node(), (start.term), (after.term)
        candidate = Fields(
            node=start.node,
            term=after.term,
            vote=start.node,
            role="candidate",
            log=start.log,
            commit=start.commit,
            granted=frozenset({start.node}),
        )

        def campaign(x: ConcreteFields, y: ConcreteFields, _c: Commit) -> Conjuncts:
            return rel.campaign(d, x, y, node=node, term=term, new_term=new_term)

        if after.role == "leader":
            b.to("campaign", candidate, campaign)
            b.finish("become_leader", _become_leader(b))
        else:
            b.finish("campaign", campaign)
    elif start.role == "leader" and after.role != "leader":
        b.finish("step_down (CheckQuorum)", _step_down(d, start.term))
    elif start.role == "candidate" and after.role != "candidate":
        b.finish("step_down (pre-candidate again, or lost)", _step_down(d, start.term))
    else:
        b.finish("unchanged", _unchanged(d))


def _dispatch(b: _Builder, event: Event, commands: Sequence[object]) -> None:
    match event:
        case MessageReceived(message=MsgVote() as message):
            _on_vote(b, message, commands)
        case MessageReceived(message=MsgVoteResp() as message):
            _on_vote_response(b, message)
        case MessageReceived(message=MsgApp() as message):
            _on_append(b, message, commands)
        case MessageReceived(message=MsgAppResp() as message):
            _on_append_response(b, message)
        case MessageReceived(message=MsgHeartbeat() as message):
            _on_heartbeat(b, message)
        case MessageReceived(message=MsgHeartbeatResp() as message):
            b.observe(message.term)
            b.finish("unchanged", _unchanged(b.domain))
        case MessageReceived(message=MsgPreVoteResp() as message) if message.reject:
            # A refusal carries the voter's term; a grant carries the pre-candidate's next term
            # and never changes its term (etcd ``Step``).
            b.observe(message.term)
            _on_timer(b)
        case MessageReceived(message=MsgPreVote()):
            b.finish("unchanged (pre-vote)", _unchanged(b.domain))
        case Propose():
            _on_propose(b)
        case _:
            _on_timer(b)


def _domain(voters: Sequence[int], fields: Sequence[Fields], event: Event) -> ConcreteDomain:
    terms = [f.term for f in fields]
    indexes = [max(len(f.log), f.commit) for f in fields]
    if isinstance(event, MessageReceived):
        terms.append(event.message.term)
        if isinstance(event.message, MsgApp):
            indexes.append(event.message.prev_log_index + len(event.message.entries))
            indexes.append(event.message.commit_index)
        if isinstance(event.message, MsgAppResp | MsgHeartbeat):
            indexes.append(
                getattr(event.message, "index", 0) or getattr(event.message, "commit_index", 0)
            )
    return ConcreteDomain(voters, max(terms), max(indexes))


def _evaluate(stages: Sequence[Stage]) -> StepCheck:
    failed = tuple(
        f"{name}: {label}"
        for name, conjuncts in stages
        for label, formula in conjuncts
        if not _truth(formula)
    )
    return StepCheck(relations=tuple(name for name, _ in stages), failed=failed)


def check_step(
    voters: Sequence[int],
    before: RaftNodeState,
    event: Event,
    after: RaftNodeState,
    commands: Sequence[object],
    rules: Rules = rel.ETCD,
) -> StepCheck:
    """Does ``impl.raft``'s step satisfy the relations the unbounded proofs use for it?"""
    start, end = fields_of(before), fields_of(after)
    builder = _Builder(_domain(voters, (start, end), event), rules, start, end)
    _dispatch(builder, event, commands)
    return _evaluate(builder.stages)


def check_restart(voters: Sequence[int], before: RaftNodeState, after: RaftNodeState) -> StepCheck:
    """A crash and restart (``impl.raft.init`` from the persisted state) is ``step_down``."""
    start, end = fields_of(before), fields_of(after)
    domain = _domain(voters, (start, end), Propose(data=b""))
    builder = _Builder(domain, rel.ETCD, start, end)
    builder.finish("step_down (restart)", _step_down(domain, start.term))
    return _evaluate(builder.stages)
