"""One node's steps, as relations between its fields before and after: the protocol of the
unbounded Raft proofs, and what every step of ``impl.raft`` must satisfy.

A node's fields (:class:`NodeFields`) are relations over the sorts of :mod:`proofs.raft.epr`:
its current term (and the terms it has left), its role, its vote, its log (``entry(i, t)``:
index i holds an entry of term t; ``used(i)``: the log reaches index i), a candidate's
recorded grants and a leader's match indexes (``match(j, i)``: j is known to hold the
leader's log up to i). The commit index is an index value passed alongside.

Each relation returns named conjuncts, one per field, and constrains every field, so that:

- the proofs (:mod:`proofs.raft.safety_model`) build their transitions from them, adding only
  ghost state and the network (which messages may exist);
- the tie (``proofs/raft/safety_tie.py``) evaluates them on the two states of a concrete
  ``impl.raft`` step, and a failing conjunct names the field.

The relations are those of etcd raft 3.4 (``raft.go``, ``log.go``), written so that every
choice the proofs do not depend on stays open (which is why, for example, granting a vote is
allowed but never required: a refused or ignored request changes nothing, like a lost one):

- ``campaign``: a non-leader moves to a higher term, votes for itself, becomes candidate;
- ``observe_term``: a message of a higher term makes the node a follower of that term, with
  no vote; ``step_down``: a leader or candidate becomes follower in its term (CheckQuorum, a
  lost election, a restart, a pre-candidate or follower noting a leader);
- ``grant_vote``: at most one vote per term, and only for a candidate whose last log term and
  index are at least as up to date (section 5.4.1);
- ``record_grant``, ``become_leader``: a candidate with a quorum of grants becomes leader and
  appends an empty entry of its term (etcd ``becomeLeader``);
- ``propose``: a leader appends an entry of its term; ``record_ack``: a leader raises a
  follower's match index; ``leader_commit``: it commits an index held by a quorum, only if the
  entry there is of its term (section 5.4.2, Figure 8);
- ``append_keep`` / ``append_truncate``: a follower whose log has the message's previous entry
  keeps its log when every sent entry is already there, and otherwise truncates at the first
  conflicting entry and appends the sent ones (etcd ``findConflict``); it commits
  ``min(leaderCommit, last sent)``; ``append_below_commit``: a message whose previous index is
  below the commit index is answered with the commit index;
- ``heartbeat_commit``: a follower raises its commit index, at most to what a heartbeat carries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, final

import msgspec

from proofs.raft.epr import Domain, Formula, Member, Value, in_segment, index_lt, term_lt

Conjuncts = tuple[tuple[str, Formula], ...]
EntryOf = Callable[[Value, Value], Formula]
QuorumChoice = Callable[[Callable[[Member], Formula]], Formula]
"""Applies a body to a quorum: the proofs pass one quorum constant, the tie "some quorum"."""


class NodeFields(Protocol):
    """One node's fields in one state."""

    def term_is(self, term: Value) -> Formula: ...

    def left(self, term: Value) -> Formula:
        """``term`` is below the current term."""
        ...

    @property
    def leader(self) -> Formula: ...

    @property
    def candidate(self) -> Formula: ...

    def voted_for(self, node: Value) -> Formula: ...

    def entry(self, index: Value, term: Value) -> Formula: ...

    def used(self, index: Value) -> Formula: ...

    def granted(self, node: Value) -> Formula: ...

    def match(self, node: Value, index: Value) -> Formula: ...


def up_to_date_etcd(
    d: Domain, last: Value, last_term: Value, own: Value, own_term: Value
) -> Formula:
    """etcd ``isUpToDate``: a later last term, or the same last term and a log as long."""
    return d.or_(
        term_lt(d, own_term, last_term), d.and_(d.eq(last_term, own_term), d.index_le(own, last))
    )


def up_to_date_skipped(
    d: Domain, last: Value, last_term: Value, own: Value, own_term: Value
) -> Formula:
    """Mutant: a vote is granted whatever the candidate's log."""
    del last, last_term, own, own_term
    return d.truth(True)


def may_commit_etcd(fields: NodeFields, index: Value, term: Value) -> Formula:
    """etcd ``maybeCommit``: the entry at the quorum index is of the leader's term."""
    return fields.entry(index, term)


def may_commit_by_counting(fields: NodeFields, index: Value, term: Value) -> Formula:
    """Mutant (Raft paper Figure 8): any entry held by a quorum is committed."""
    del term
    return fields.used(index)


def prev_matches_etcd(d: Domain, fields: NodeFields, prev: Value, prev_term: Value) -> Formula:
    """etcd ``matchTerm``: the log holds ``prev_term`` at ``prev`` (index 0 always matches)."""
    empty = d.and_(d.eq(prev, d.index_zero), d.eq(prev_term, d.term_zero))
    return d.or_(empty, fields.entry(prev, prev_term))


def prev_match_skipped(d: Domain, fields: NodeFields, prev: Value, prev_term: Value) -> Formula:
    """Mutant: AppendEntries is accepted without the consistency check."""
    del prev_term
    return d.or_(d.eq(prev, d.index_zero), fields.used(prev))


@final
class Rules(msgspec.Struct, frozen=True, kw_only=True):
    """The decisions a mutant replaces."""

    up_to_date: Callable[[Domain, Value, Value, Value, Value], Formula] = up_to_date_etcd
    may_commit: Callable[[NodeFields, Value, Value], Formula] = may_commit_etcd
    prev_matches: Callable[[Domain, NodeFields, Value, Value], Formula] = prev_matches_etcd
    truncate_without_conflict: bool = False
    """Mutant: a follower truncates after the sent entries even when none conflicts."""
    vote_twice: bool = False
    """Mutant: a voter grants whatever it voted for earlier in the term."""


ETCD = Rules()

# ----------------------------------------------------------------------- field conjuncts


def is_last(d: Domain, fields: NodeFields, last: Value, last_term: Value) -> Formula:
    """``last``/``last_term`` are the index and term of the last entry (zeros: empty log)."""
    empty = d.and_(
        d.eq(last, d.index_zero),
        d.eq(last_term, d.term_zero),
        d.all_indexes(lambda i: d.not_(fields.used(i))),
    )
    ends = d.and_(
        fields.used(last),
        fields.entry(last, last_term),
        d.all_indexes(lambda i: d.implies(fields.used(i), d.index_le(i, last))),
    )
    return d.or_(empty, ends)


def is_next(d: Domain, fields: NodeFields, index: Value) -> Formula:
    """``index`` is the last index + 1."""
    zero = d.index_zero
    return d.and_(
        index_lt(d, zero, index),
        d.not_(fields.used(index)),
        d.all_indexes(
            lambda i: d.implies(index_lt(d, i, index), d.or_(d.eq(i, zero), fields.used(i)))
        ),
    )


def _term(d: Domain, after: NodeFields, before: NodeFields, term: Value | None) -> Formula:
    """The term is ``term`` (None: unchanged)."""
    if term is None:
        return d.all_terms(
            lambda t: d.and_(
                d.iff(after.term_is(t), before.term_is(t)), d.iff(after.left(t), before.left(t))
            )
        )
    new = term
    return d.all_terms(
        lambda t: d.and_(
            d.iff(after.term_is(t), d.eq(t, new)), d.iff(after.left(t), term_lt(d, t, new))
        )
    )


def _role(d: Domain, after: NodeFields, *, leader: bool, candidate: bool) -> Formula:
    return d.and_(d.iff(after.leader, d.truth(leader)), d.iff(after.candidate, d.truth(candidate)))


def _same_role(d: Domain, after: NodeFields, before: NodeFields) -> Formula:
    return d.and_(d.iff(after.leader, before.leader), d.iff(after.candidate, before.candidate))


def _vote(d: Domain, after: NodeFields, voted: Callable[[Value], Formula]) -> Formula:
    return d.all_nodes(lambda n: d.iff(after.voted_for(n), voted(n)))


def _log(d: Domain, after: NodeFields, entry: EntryOf, used: Callable[[Value], Formula]) -> Formula:
    return d.all_indexes(
        lambda i: d.and_(
            d.iff(after.used(i), used(i)),
            d.all_terms(lambda t: d.iff(after.entry(i, t), entry(i, t))),
        )
    )


def _same_log(d: Domain, after: NodeFields, before: NodeFields) -> Formula:
    return _log(d, after, before.entry, before.used)


def _appended(
    d: Domain, after: NodeFields, before: NodeFields, index: Value, term: Value
) -> Formula:
    return _log(
        d,
        after,
        lambda i, t: d.or_(before.entry(i, t), d.and_(d.eq(i, index), d.eq(t, term))),
        lambda i: d.or_(before.used(i), d.eq(i, index)),
    )


def _granted(d: Domain, after: NodeFields, granted: Callable[[Value], Formula]) -> Formula:
    return d.all_nodes(lambda n: d.iff(after.granted(n), granted(n)))


def _match(d: Domain, after: NodeFields, match: Callable[[Value, Value], Formula]) -> Formula:
    return d.all_nodes(lambda n: d.all_indexes(lambda i: d.iff(after.match(n, i), match(n, i))))


def _no_match(d: Domain, after: NodeFields) -> Formula:
    return _match(d, after, lambda _n, i: d.eq(i, d.index_zero))


def _follower_volatile(d: Domain, after: NodeFields) -> Conjuncts:
    return (
        ("granted", _granted(d, after, lambda _n: d.truth(False))),
        ("match", _no_match(d, after)),
    )


# ----------------------------------------------------------------------- elections


def campaign(
    d: Domain, before: NodeFields, after: NodeFields, *, node: Value, term: Value, new_term: Value
) -> Conjuncts:
    """Election timeout (MsgHup): a later term, a vote for itself, candidate (etcd moves to
    term + 1; any later term is allowed here)."""
    return (
        (
            "enabled",
            d.and_(before.term_is(term), d.not_(before.leader), term_lt(d, term, new_term)),
        ),
        ("term", _term(d, after, before, new_term)),
        ("role", _role(d, after, leader=False, candidate=True)),
        ("vote", _vote(d, after, lambda n: d.eq(n, node))),
        ("log", _same_log(d, after, before)),
        ("granted", _granted(d, after, lambda n: d.eq(n, node))),
        ("match", _no_match(d, after)),
    )


def observe_term(
    d: Domain, before: NodeFields, after: NodeFields, *, term: Value, new_term: Value
) -> Conjuncts:
    """A message of a higher term: follower of that term, no vote (etcd ``becomeFollower``)."""
    return (
        ("enabled", d.and_(before.term_is(term), term_lt(d, term, new_term))),
        ("term", _term(d, after, before, new_term)),
        ("role", _role(d, after, leader=False, candidate=False)),
        ("vote", _vote(d, after, lambda _n: d.truth(False))),
        ("log", _same_log(d, after, before)),
        *_follower_volatile(d, after),
    )


def step_down(d: Domain, before: NodeFields, after: NodeFields, *, term: Value) -> Conjuncts:
    """Follower in the same term, keeping term, vote and log: CheckQuorum, a lost election,
    a restart (everything else is volatile), a candidate hearing the leader."""
    return (
        ("enabled", before.term_is(term)),
        ("term", _term(d, after, before, None)),
        ("role", _role(d, after, leader=False, candidate=False)),
        ("vote", _vote(d, after, before.voted_for)),
        ("log", _same_log(d, after, before)),
        *_follower_volatile(d, after),
    )


def unchanged(d: Domain, before: NodeFields, after: NodeFields) -> Conjuncts:
    """No modelled field changes (a refused or ignored message, a tick, a pre-vote)."""
    return (
        ("term", _term(d, after, before, None)),
        ("role", _same_role(d, after, before)),
        ("vote", _vote(d, after, before.voted_for)),
        ("log", _same_log(d, after, before)),
        ("granted", _granted(d, after, before.granted)),
        ("match", _match(d, after, before.match)),
    )


@final
class VoteRequest(msgspec.Struct, frozen=True, kw_only=True):
    """MsgVote as the voter sees it, with the voter's own last index and term."""

    term: Value
    candidate: Value
    last_index: Value
    last_term: Value
    own_last_index: Value
    own_last_term: Value


def grant_vote(
    d: Domain, rules: Rules, before: NodeFields, after: NodeFields, request: VoteRequest
) -> Conjuncts:
    """A voter in the request's term grants it: no other vote in the term, and the
    candidate's log is at least as up to date (section 5.2, 5.4.1)."""
    free = d.all_nodes(lambda n: d.implies(before.voted_for(n), d.eq(n, request.candidate)))
    if rules.vote_twice:
        free = d.truth(True)
    checked = rules.up_to_date(
        d, request.last_index, request.last_term, request.own_last_index, request.own_last_term
    )
    return (
        (
            "enabled",
            d.and_(
                before.term_is(request.term),
                is_last(d, before, request.own_last_index, request.own_last_term),
            ),
        ),
        ("vote", d.and_(free, checked, _vote(d, after, lambda n: d.eq(n, request.candidate)))),
        ("term", _term(d, after, before, None)),
        ("role", _same_role(d, after, before)),
        ("log", _same_log(d, after, before)),
        ("granted", _granted(d, after, before.granted)),
        ("match", _match(d, after, before.match)),
    )


def record_grant(
    d: Domain, before: NodeFields, after: NodeFields, *, term: Value, voter: Value
) -> Conjuncts:
    """A candidate records a granting MsgVoteResp of its term."""
    return (
        ("enabled", d.and_(before.term_is(term), before.candidate)),
        ("granted", _granted(d, after, lambda n: d.or_(before.granted(n), d.eq(n, voter)))),
        ("term", _term(d, after, before, None)),
        ("role", _same_role(d, after, before)),
        ("vote", _vote(d, after, before.voted_for)),
        ("log", _same_log(d, after, before)),
        ("match", _match(d, after, before.match)),
    )


def become_leader(
    d: Domain,
    before: NodeFields,
    after: NodeFields,
    *,
    node: Value,
    term: Value,
    new_index: Value,
    quorum: QuorumChoice,
) -> Conjuncts:
    """A candidate granted by a quorum becomes leader and appends an empty entry of its term;
    it knows only its own log (match) (etcd ``becomeLeader``)."""
    granted = quorum(lambda member: d.all_nodes(lambda n: d.implies(member(n), before.granted(n))))

    def own(n: Value, i: Value) -> Formula:
        return d.or_(
            d.eq(i, d.index_zero), d.and_(d.eq(n, node), d.or_(before.used(i), d.eq(i, new_index)))
        )

    return (
        ("enabled", d.and_(before.term_is(term), before.candidate, is_next(d, before, new_index))),
        ("quorum", granted),
        ("role", _role(d, after, leader=True, candidate=False)),
        ("log", _appended(d, after, before, new_index, term)),
        ("term", _term(d, after, before, None)),
        ("vote", _vote(d, after, before.voted_for)),
        ("granted", _granted(d, after, lambda _n: d.truth(False))),
        ("match", _match(d, after, own)),
    )


# ----------------------------------------------------------------------- replication


def propose(
    d: Domain, before: NodeFields, after: NodeFields, *, node: Value, term: Value, new_index: Value
) -> Conjuncts:
    """A leader appends an entry of its term and raises its own match index."""

    def raised(n: Value, i: Value) -> Formula:
        return d.or_(before.match(n, i), d.and_(d.eq(n, node), d.eq(i, new_index)))

    return (
        ("enabled", d.and_(before.term_is(term), before.leader, is_next(d, before, new_index))),
        ("log", _appended(d, after, before, new_index, term)),
        ("match", _match(d, after, raised)),
        ("term", _term(d, after, before, None)),
        ("role", _same_role(d, after, before)),
        ("vote", _vote(d, after, before.voted_for)),
        ("granted", _granted(d, after, before.granted)),
    )


def record_ack(
    d: Domain, before: NodeFields, after: NodeFields, *, term: Value, follower: Value, index: Value
) -> Conjuncts:
    """A leader handles an accepting MsgAppResp of its term: the follower's match rises."""

    def raised(n: Value, i: Value) -> Formula:
        return d.or_(before.match(n, i), d.and_(d.eq(n, follower), d.index_le(i, index)))

    return (
        ("enabled", d.and_(before.term_is(term), before.leader)),
        ("match", _match(d, after, raised)),
        ("term", _term(d, after, before, None)),
        ("role", _same_role(d, after, before)),
        ("vote", _vote(d, after, before.voted_for)),
        ("log", _same_log(d, after, before)),
        ("granted", _granted(d, after, before.granted)),
    )


@final
class Commit(msgspec.Struct, frozen=True, kw_only=True):
    """A commit index before and after a step."""

    before: Value
    after: Value


def leader_commit(
    d: Domain,
    rules: Rules,
    before: NodeFields,
    after: NodeFields,
    *,
    term: Value,
    index: Value,
    commit: Commit,
    quorum: QuorumChoice,
) -> Conjuncts:
    """A leader commits ``index``: a quorum's match reaches it and (etcd) its entry is of the
    leader's term."""
    held = quorum(
        lambda member: d.all_nodes(lambda n: d.implies(member(n), before.match(n, index)))
    )
    return (
        ("enabled", d.and_(before.term_is(term), before.leader)),
        ("commit", d.and_(index_lt(d, commit.before, index), d.eq(commit.after, index))),
        ("quorum", held),
        ("rule", rules.may_commit(before, index, term)),
        *unchanged(d, before, after),
    )


@final
class Append(msgspec.Struct, frozen=True, kw_only=True):
    """MsgApp of ``term``: previous entry (``prev``, ``prev_term``), the entries after
    ``prev`` up to ``last_sent`` (``entry``), and the leader's commit index."""

    term: Value
    prev: Value
    prev_term: Value
    last_sent: Value
    entry: EntryOf
    commit: Value


def _follower_in_term(d: Domain, before: NodeFields, after: NodeFields, term: Value) -> Conjuncts:
    return (
        ("term", _term(d, after, before, None)),
        ("role", _role(d, after, leader=False, candidate=False)),
        ("vote", _vote(d, after, before.voted_for)),
        *_follower_volatile(d, after),
        ("in term", d.and_(before.term_is(term), d.not_(before.leader))),
    )


def _append_commit(d: Domain, message: Append, commit: Commit) -> Formula:
    """``commitTo(min(leaderCommit, last sent))``."""
    target = d.ite(d.index_le(message.commit, message.last_sent), message.commit, message.last_sent)
    return d.eq(commit.after, d.ite(index_lt(d, commit.before, target), target, commit.before))


def _accepted(
    d: Domain, rules: Rules, before: NodeFields, message: Append, commit: Commit
) -> Formula:
    return d.and_(
        d.index_le(commit.before, message.prev),
        rules.prev_matches(d, before, message.prev, message.prev_term),
    )


def append_keep(
    d: Domain, rules: Rules, before: NodeFields, after: NodeFields, message: Append, commit: Commit
) -> Conjuncts:
    """Accepted, and every sent entry is already in the log: the log is kept."""

    def sent(i: Value) -> Formula:
        return in_segment(d, i, message.prev, message.last_sent)

    present = d.all_indexes(
        lambda i: d.implies(
            sent(i),
            d.and_(
                before.used(i),
                d.all_terms(lambda t: d.iff(before.entry(i, t), message.entry(i, t))),
            ),
        )
    )
    return (
        *_follower_in_term(d, before, after, message.term),
        ("accepted", _accepted(d, rules, before, message, commit)),
        (
            "log",
            d.and_(
                d.truth(not rules.truncate_without_conflict), present, _same_log(d, after, before)
            ),
        ),
        ("commit", _append_commit(d, message, commit)),
    )


def append_truncate(
    d: Domain,
    rules: Rules,
    before: NodeFields,
    after: NodeFields,
    message: Append,
    commit: Commit,
    *,
    conflict: Value,
    conflict_term: Value,
) -> Conjuncts:
    """Accepted, and the sent entry at ``conflict`` (of ``conflict_term``) is not in the log:
    the log is cut after ``prev`` and the sent entries appended (entries before the first
    conflict are equal, so this is etcd's truncation at the first conflict)."""

    def sent(i: Value) -> Formula:
        return in_segment(d, i, message.prev, message.last_sent)

    differs = d.and_(
        sent(conflict),
        message.entry(conflict, conflict_term),
        d.not_(before.entry(conflict, conflict_term)),
    )

    def kept(i: Value) -> Formula:
        return d.index_le(i, message.prev)

    log = _log(
        d,
        after,
        lambda i, t: d.or_(
            d.and_(kept(i), before.entry(i, t)), d.and_(sent(i), message.entry(i, t))
        ),
        lambda i: d.or_(d.and_(kept(i), before.used(i)), sent(i)),
    )
    return (
        *_follower_in_term(d, before, after, message.term),
        ("accepted", _accepted(d, rules, before, message, commit)),
        ("log", d.and_(d.or_(differs, d.truth(rules.truncate_without_conflict)), log)),
        ("commit", _append_commit(d, message, commit)),
    )


def append_below_commit(
    d: Domain, before: NodeFields, after: NodeFields, message: Append, commit: Commit
) -> Conjuncts:
    """``prev`` is below the commit index: answered with the commit index, nothing stored."""
    return (
        *_follower_in_term(d, before, after, message.term),
        ("below commit", index_lt(d, message.prev, commit.before)),
        ("log", _same_log(d, after, before)),
        ("commit", d.eq(commit.after, commit.before)),
    )


def heartbeat_commit(
    d: Domain, before: NodeFields, after: NodeFields, *, term: Value, carried: Value, commit: Commit
) -> Conjuncts:
    """MsgHeartbeat of the node's term: the commit index may rise, at most to the index the
    heartbeat carries (etcd ``commitTo(m.Commit)``; ``impl.raft`` also caps it at the last
    index); the log is kept."""
    raised = d.and_(index_lt(d, commit.before, commit.after), d.index_le(commit.after, carried))
    return (
        *_follower_in_term(d, before, after, term),
        ("log", _same_log(d, after, before)),
        ("commit", d.or_(d.eq(commit.after, commit.before), raised)),
    )
