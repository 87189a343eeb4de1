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
- ``heartbeat_commit``: a follower commits the index a heartbeat carries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, final

import msgspec

from proofs.raft.epr import Domain, Member, in_segment, index_lt, term_lt
from proofs.z3adapter import And, BoolRef, BoolVal, ExprRef, If, Implies, Not, Or

Conjuncts = tuple[tuple[str, BoolRef], ...]
EntryOf = Callable[[ExprRef, ExprRef], BoolRef]
QuorumChoice = Callable[[Callable[[Member], BoolRef]], BoolRef]
"""Applies a body to a quorum: the proofs pass one quorum constant, the tie "some quorum"."""


class NodeFields(Protocol):
    """One node's fields in one state."""

    def term_is(self, term: ExprRef) -> BoolRef: ...

    def left(self, term: ExprRef) -> BoolRef:
        """``term`` is below the current term."""
        ...

    @property
    def leader(self) -> BoolRef: ...

    @property
    def candidate(self) -> BoolRef: ...

    def voted_for(self, node: ExprRef) -> BoolRef: ...

    def entry(self, index: ExprRef, term: ExprRef) -> BoolRef: ...

    def used(self, index: ExprRef) -> BoolRef: ...

    def granted(self, node: ExprRef) -> BoolRef: ...

    def match(self, node: ExprRef, index: ExprRef) -> BoolRef: ...


def up_to_date_etcd(
    domain: Domain, last_index: ExprRef, last_term: ExprRef, own: ExprRef, own_term: ExprRef
) -> BoolRef:
    """etcd ``isUpToDate``: a later last term, or the same last term and a log as long."""
    return Or(
        term_lt(domain, own_term, last_term),
        And(last_term == own_term, domain.index_le(own, last_index)),
    )


def up_to_date_skipped(
    domain: Domain, last_index: ExprRef, last_term: ExprRef, own: ExprRef, own_term: ExprRef
) -> BoolRef:
    """Mutant: a vote is granted whatever the candidate's log."""
    del domain, last_index, last_term, own, own_term
    return BoolVal(True)


def may_commit_etcd(fields: NodeFields, index: ExprRef, term: ExprRef) -> BoolRef:
    """etcd ``maybeCommit``: the entry at the quorum index is of the leader's term."""
    return fields.entry(index, term)


def may_commit_by_counting(fields: NodeFields, index: ExprRef, term: ExprRef) -> BoolRef:
    """Mutant (Raft paper Figure 8): any entry held by a quorum is committed."""
    del term
    return fields.used(index)


def prev_matches_etcd(
    domain: Domain, fields: NodeFields, prev: ExprRef, prev_term: ExprRef
) -> BoolRef:
    """etcd ``matchTerm``: the log holds ``prev_term`` at ``prev`` (index 0 always matches)."""
    empty = And(prev == domain.index_zero, prev_term == domain.term_zero)
    return Or(empty, fields.entry(prev, prev_term))


def prev_match_skipped(
    domain: Domain, fields: NodeFields, prev: ExprRef, prev_term: ExprRef
) -> BoolRef:
    """Mutant: AppendEntries is accepted without the consistency check."""
    del prev_term
    return Or(prev == domain.index_zero, fields.used(prev))


@final
class Rules(msgspec.Struct, frozen=True, kw_only=True):
    """The decisions a mutant replaces."""

    up_to_date: Callable[[Domain, ExprRef, ExprRef, ExprRef, ExprRef], BoolRef] = up_to_date_etcd
    may_commit: Callable[[NodeFields, ExprRef, ExprRef], BoolRef] = may_commit_etcd
    prev_matches: Callable[[Domain, NodeFields, ExprRef, ExprRef], BoolRef] = prev_matches_etcd
    truncate_without_conflict: bool = False
    """Mutant: a follower truncates after the sent entries even when none conflicts."""


ETCD = Rules()

# ----------------------------------------------------------------------- field conjuncts


def is_last(domain: Domain, fields: NodeFields, last: ExprRef, last_term: ExprRef) -> BoolRef:
    """``last``/``last_term`` are the index and term of the last entry (zeros: empty log)."""
    empty = And(
        last == domain.index_zero,
        last_term == domain.term_zero,
        domain.all_indexes(lambda i: Not(fields.used(i))),
    )
    ends = And(
        fields.used(last),
        fields.entry(last, last_term),
        domain.all_indexes(lambda i: Implies(fields.used(i), domain.index_le(i, last))),
    )
    return Or(empty, ends)


def is_next(domain: Domain, fields: NodeFields, index: ExprRef) -> BoolRef:
    """``index`` is the last index + 1."""
    zero = domain.index_zero
    return And(
        index_lt(domain, zero, index),
        Not(fields.used(index)),
        domain.all_indexes(lambda i: Implies(index_lt(domain, i, index), Or(i == zero, fields.used(i)))),
    )


def _term(domain: Domain, after: NodeFields, before: NodeFields, term: ExprRef | None) -> BoolRef:
    """The term is ``term`` (None: unchanged)."""
    if term is None:
        return domain.all_terms(
            lambda t: And(after.term_is(t) == before.term_is(t), after.left(t) == before.left(t))
        )
    return domain.all_terms(
        lambda t: And(after.term_is(t) == (t == term), after.left(t) == term_lt(domain, t, term))
    )


def _role(after: NodeFields, *, leader: bool, candidate: bool) -> BoolRef:
    return And(after.leader == BoolVal(leader), after.candidate == BoolVal(candidate))


def _same_role(after: NodeFields, before: NodeFields) -> BoolRef:
    return And(after.leader == before.leader, after.candidate == before.candidate)


def _vote(domain: Domain, after: NodeFields, voted: Callable[[ExprRef], BoolRef]) -> BoolRef:
    return domain.all_nodes(lambda n: after.voted_for(n) == voted(n))


def _log(domain: Domain, after: NodeFields, entry: EntryOf, used: Callable[[ExprRef], BoolRef]) -> BoolRef:
    return domain.all_indexes(
        lambda i: And(after.used(i) == used(i), domain.all_terms(lambda t: after.entry(i, t) == entry(i, t)))
    )


def _same_log(domain: Domain, after: NodeFields, before: NodeFields) -> BoolRef:
    return _log(domain, after, before.entry, before.used)


def _appended(domain: Domain, after: NodeFields, before: NodeFields, index: ExprRef, term: ExprRef) -> BoolRef:
    return _log(
        domain,
        after,
        lambda i, t: Or(before.entry(i, t), And(i == index, t == term)),
        lambda i: Or(before.used(i), i == index),
    )


def _granted(domain: Domain, after: NodeFields, granted: Callable[[ExprRef], BoolRef]) -> BoolRef:
    return domain.all_nodes(lambda n: after.granted(n) == granted(n))


def _match(
    domain: Domain, after: NodeFields, match: Callable[[ExprRef, ExprRef], BoolRef]
) -> BoolRef:
    return domain.all_nodes(lambda n: domain.all_indexes(lambda i: after.match(n, i) == match(n, i)))


def _no_match(domain: Domain, after: NodeFields) -> BoolRef:
    return _match(domain, after, lambda n, i: i == domain.index_zero)


def _follower_volatile(domain: Domain, after: NodeFields) -> Conjuncts:
    return (
        ("granted", _granted(domain, after, lambda n: BoolVal(False))),
        ("match", _no_match(domain, after)),
    )


# ----------------------------------------------------------------------- elections


def campaign(
    domain: Domain,
    before: NodeFields,
    after: NodeFields,
    *,
    node: ExprRef,
    term: ExprRef,
    new_term: ExprRef,
) -> Conjuncts:
    """Election timeout (MsgHup): a later term, a vote for itself, candidate (etcd moves to
    term + 1; any later term is allowed here)."""
    return (
        ("enabled", And(before.term_is(term), Not(before.leader), term_lt(domain, term, new_term))),
        ("term", _term(domain, after, before, new_term)),
        ("role", _role(after, leader=False, candidate=True)),
        ("vote", _vote(domain, after, lambda n: n == node)),
        ("log", _same_log(domain, after, before)),
        ("granted", _granted(domain, after, lambda n: n == node)),
        ("match", _no_match(domain, after)),
    )


def observe_term(
    domain: Domain, before: NodeFields, after: NodeFields, *, term: ExprRef, new_term: ExprRef
) -> Conjuncts:
    """A message of a higher term: follower of that term, no vote (etcd ``becomeFollower``)."""
    return (
        ("enabled", And(before.term_is(term), term_lt(domain, term, new_term))),
        ("term", _term(domain, after, before, new_term)),
        ("role", _role(after, leader=False, candidate=False)),
        ("vote", _vote(domain, after, lambda n: BoolVal(False))),
        ("log", _same_log(domain, after, before)),
        *_follower_volatile(domain, after),
    )


def step_down(domain: Domain, before: NodeFields, after: NodeFields, *, term: ExprRef) -> Conjuncts:
    """Follower in the same term, keeping term, vote and log: CheckQuorum, a lost election,
    a restart (everything else is volatile), a pre-candidate, a candidate hearing the leader."""
    return (
        ("enabled", before.term_is(term)),
        ("term", _term(domain, after, before, None)),
        ("role", _role(after, leader=False, candidate=False)),
        ("vote", _vote(domain, after, before.voted_for)),
        ("log", _same_log(domain, after, before)),
        *_follower_volatile(domain, after),
    )


def unchanged(domain: Domain, before: NodeFields, after: NodeFields) -> Conjuncts:
    """No modelled field changes (a refused or ignored message, a tick, a pre-vote)."""
    return (
        ("term", _term(domain, after, before, None)),
        ("role", _same_role(after, before)),
        ("vote", _vote(domain, after, before.voted_for)),
        ("log", _same_log(domain, after, before)),
        ("granted", _granted(domain, after, before.granted)),
        ("match", _match(domain, after, before.match)),
    )


@final
class VoteRequest(msgspec.Struct, frozen=True, kw_only=True):
    """MsgVote as the voter sees it, with the voter's own last index and term."""

    term: ExprRef
    candidate: ExprRef
    last_index: ExprRef
    last_term: ExprRef
    own_last_index: ExprRef
    own_last_term: ExprRef


def grant_vote(
    domain: Domain, rules: Rules, before: NodeFields, after: NodeFields, request: VoteRequest
) -> Conjuncts:
    """A voter in the request's term grants it: no other vote in the term, and the
    candidate's log is at least as up to date (section 5.2, 5.4.1)."""
    free = domain.all_nodes(lambda n: Implies(before.voted_for(n), n == request.candidate))
    checked = rules.up_to_date(
        domain, request.last_index, request.last_term, request.own_last_index, request.own_last_term
    )
    return (
        (
            "enabled",
            And(
                before.term_is(request.term),
                is_last(domain, before, request.own_last_index, request.own_last_term),
            ),
        ),
        ("vote", And(free, checked, _vote(domain, after, lambda n: n == request.candidate))),
        ("term", _term(domain, after, before, None)),
        ("role", _same_role(after, before)),
        ("log", _same_log(domain, after, before)),
        ("granted", _granted(domain, after, before.granted)),
        ("match", _match(domain, after, before.match)),
    )


def record_grant(
    domain: Domain, before: NodeFields, after: NodeFields, *, term: ExprRef, voter: ExprRef
) -> Conjuncts:
    """A candidate records a granting MsgVoteResp of its term."""
    return (
        ("enabled", And(before.term_is(term), before.candidate)),
        ("granted", _granted(domain, after, lambda n: Or(before.granted(n), n == voter))),
        ("term", _term(domain, after, before, None)),
        ("role", _same_role(after, before)),
        ("vote", _vote(domain, after, before.voted_for)),
        ("log", _same_log(domain, after, before)),
        ("match", _match(domain, after, before.match)),
    )


def become_leader(
    domain: Domain,
    before: NodeFields,
    after: NodeFields,
    *,
    node: ExprRef,
    term: ExprRef,
    new_index: ExprRef,
    quorum: QuorumChoice,
) -> Conjuncts:
    """A candidate granted by a quorum becomes leader and appends an empty entry of its term;
    it knows only its own log (match) (etcd ``becomeLeader``)."""
    granted = quorum(lambda member: domain.all_nodes(lambda n: Implies(member(n), before.granted(n))))
    return (
        ("enabled", And(before.term_is(term), before.candidate, is_next(domain, before, new_index))),
        ("quorum", granted),
        ("role", _role(after, leader=True, candidate=False)),
        ("log", _appended(domain, after, before, new_index, term)),
        ("term", _term(domain, after, before, None)),
        ("vote", _vote(domain, after, before.voted_for)),
        ("granted", _granted(domain, after, lambda n: BoolVal(False))),
        (
            "match",
            _match(
                domain,
                after,
                lambda n, i: Or(i == domain.index_zero, And(n == node, Or(before.used(i), i == new_index))),
            ),
        ),
    )


# ----------------------------------------------------------------------- replication


def propose(
    domain: Domain,
    before: NodeFields,
    after: NodeFields,
    *,
    node: ExprRef,
    term: ExprRef,
    new_index: ExprRef,
) -> Conjuncts:
    """A leader appends an entry of its term and raises its own match index."""
    return (
        ("enabled", And(before.term_is(term), before.leader, is_next(domain, before, new_index))),
        ("log", _appended(domain, after, before, new_index, term)),
        ("match", _match(domain, after, lambda n, i: Or(before.match(n, i), And(n == node, i == new_index)))),
        ("term", _term(domain, after, before, None)),
        ("role", _same_role(after, before)),
        ("vote", _vote(domain, after, before.voted_for)),
        ("granted", _granted(domain, after, before.granted)),
    )


def record_ack(
    domain: Domain,
    before: NodeFields,
    after: NodeFields,
    *,
    term: ExprRef,
    follower: ExprRef,
    index: ExprRef,
) -> Conjuncts:
    """A leader handles an accepting MsgAppResp of its term: the follower's match rises."""
    raised = lambda n, i: Or(before.match(n, i), And(n == follower, domain.index_le(i, index)))  # noqa: E731
    return (
        ("enabled", And(before.term_is(term), before.leader)),
        ("match", _match(domain, after, raised)),
        ("term", _term(domain, after, before, None)),
        ("role", _same_role(after, before)),
        ("vote", _vote(domain, after, before.voted_for)),
        ("log", _same_log(domain, after, before)),
        ("granted", _granted(domain, after, before.granted)),
    )


@final
class Commit(msgspec.Struct, frozen=True, kw_only=True):
    """A commit index before and after a step."""

    before: ExprRef
    after: ExprRef


def leader_commit(
    domain: Domain,
    rules: Rules,
    before: NodeFields,
    after: NodeFields,
    *,
    term: ExprRef,
    index: ExprRef,
    commit: Commit,
    quorum: QuorumChoice,
) -> Conjuncts:
    """A leader commits ``index``: a quorum's match reaches it and (etcd) its entry is of the
    leader's term."""
    held = quorum(lambda member: domain.all_nodes(lambda n: Implies(member(n), before.match(n, index))))
    return (
        ("enabled", And(before.term_is(term), before.leader)),
        ("commit", And(index_lt(domain, commit.before, index), commit.after == index)),
        ("quorum", held),
        ("rule", rules.may_commit(before, index, term)),
        *unchanged(domain, before, after),
    )


@final
class Append(msgspec.Struct, frozen=True, kw_only=True):
    """MsgApp of ``term``: previous entry (``prev``, ``prev_term``), the entries after
    ``prev`` up to ``last_sent`` (``entry``), and the leader's commit index."""

    term: ExprRef
    prev: ExprRef
    prev_term: ExprRef
    last_sent: ExprRef
    entry: EntryOf
    commit: ExprRef


def _follower_in_term(domain: Domain, before: NodeFields, after: NodeFields, term: ExprRef) -> Conjuncts:
    return (
        ("term", _term(domain, after, before, None)),
        ("role", _role(after, leader=False, candidate=False)),
        ("vote", _vote(domain, after, before.voted_for)),
        *_follower_volatile(domain, after),
        ("in term", And(before.term_is(term), Not(before.leader))),
    )


def _append_commit(domain: Domain, message: Append, commit: Commit) -> BoolRef:
    """``commitTo(min(leaderCommit, last sent))``."""
    target = If(domain.index_le(message.commit, message.last_sent), message.commit, message.last_sent)
    return commit.after == If(index_lt(domain, commit.before, target), target, commit.before)


def _accepted(domain: Domain, rules: Rules, before: NodeFields, message: Append, commit: Commit) -> BoolRef:
    return And(
        domain.index_le(commit.before, message.prev),
        rules.prev_matches(domain, before, message.prev, message.prev_term),
    )


def append_keep(
    domain: Domain,
    rules: Rules,
    before: NodeFields,
    after: NodeFields,
    message: Append,
    commit: Commit,
) -> Conjuncts:
    """Accepted, and every sent entry is already in the log: the log is kept."""
    sent = lambda i: in_segment(domain, i, message.prev, message.last_sent)  # noqa: E731
    present = domain.all_indexes(
        lambda i: Implies(
            sent(i),
            And(before.used(i), domain.all_terms(lambda t: before.entry(i, t) == message.entry(i, t))),
        )
    )
    return (
        *_follower_in_term(domain, before, after, message.term),
        ("accepted", _accepted(domain, rules, before, message, commit)),
        ("log", And(BoolVal(not rules.truncate_without_conflict), present, _same_log(domain, after, before))),
        ("commit", _append_commit(domain, message, commit)),
    )


def append_truncate(
    domain: Domain,
    rules: Rules,
    before: NodeFields,
    after: NodeFields,
    message: Append,
    commit: Commit,
    *,
    conflict: ExprRef,
    conflict_term: ExprRef,
) -> Conjuncts:
    """Accepted, and the sent entry at ``conflict`` (of ``conflict_term``) is not in the log:
    the log is cut after ``prev`` and the sent entries appended (entries before the first
    conflict are equal, so this is etcd's truncation at the first conflict)."""
    sent = lambda i: in_segment(domain, i, message.prev, message.last_sent)  # noqa: E731
    differs = And(
        sent(conflict), message.entry(conflict, conflict_term), Not(before.entry(conflict, conflict_term))
    )
    kept = lambda i: domain.index_le(i, message.prev)  # noqa: E731
    log = _log(
        domain,
        after,
        lambda i, t: Or(And(kept(i), before.entry(i, t)), And(sent(i), message.entry(i, t))),
        lambda i: Or(And(kept(i), before.used(i)), sent(i)),
    )
    return (
        *_follower_in_term(domain, before, after, message.term),
        ("accepted", _accepted(domain, rules, before, message, commit)),
        ("log", And(Or(differs, BoolVal(rules.truncate_without_conflict)), log)),
        ("commit", _append_commit(domain, message, commit)),
    )


def append_below_commit(
    domain: Domain, before: NodeFields, after: NodeFields, message: Append, commit: Commit
) -> Conjuncts:
    """``prev`` is below the commit index: answered with the commit index, nothing stored."""
    return (
        *_follower_in_term(domain, before, after, message.term),
        ("below commit", index_lt(domain, message.prev, commit.before)),
        ("log", _same_log(domain, after, before)),
        ("commit", commit.after == commit.before),
    )


def heartbeat_commit(
    domain: Domain,
    before: NodeFields,
    after: NodeFields,
    *,
    term: ExprRef,
    carried: ExprRef,
    commit: Commit,
) -> Conjuncts:
    """MsgHeartbeat of the node's term: ``commitTo(m.Commit)``; the log is kept."""
    raised = If(index_lt(domain, commit.before, carried), carried, commit.before)
    return (
        *_follower_in_term(domain, before, after, term),
        ("log", _same_log(domain, after, before)),
        ("commit", commit.after == raised),
    )
