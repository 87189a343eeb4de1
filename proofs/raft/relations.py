"""The transition relations of etcd raft's message handlers, written once over z3 terms.

Each handler relation takes a node's state before (:class:`NodeView`), the message, the state
after and the handler's response, and returns named conjuncts (one per state field), so that:

- the proofs use them symbolically (terms are unbounded integers; a log is a bounded tuple of
  terms or an unbounded array, see :class:`LogView`), and
- the tie-to-impl tests evaluate the very same conjuncts on the concrete values of a step of
  ``impl.raft`` (every term an ``IntVal``), and a failing conjunct names the field.

The rules are those of etcd raft 3.4 (``raft/raft.go``, ``raft/log.go``), with CheckQuorum on
and PreVote off, as the etcd 3.4 server configures them:

- ``Step``: a message with a higher term makes the node a follower of that term (``lead`` is
  the sender for MsgApp/MsgHeartbeat, none otherwise; the vote is cleared only when the term
  changes). A MsgVote with a higher term may be ignored while the node is in a leader lease.
  A message with a lower term is ignored (MsgApp/MsgHeartbeat get an empty MsgAppResp).
- Vote granting: ``canVote = vote == from || (vote == None && lead == None)``, and the
  candidate's log must be at least as up to date (last term, then last index).
- ``campaign``: term + 1, vote for self; a single voter becomes leader at once.
- ``becomeLeader`` appends an empty entry of the new term.
- ``handleAppendEntries``: below the commit index, reply with the commit index; otherwise accept
  iff the log has ``prevTerm`` at ``prevIndex``; truncate at the first conflicting entry and
  append the rest; commit ``min(leaderCommit, prevIndex + len(entries))`` if higher.
- ``maybeCommit``: commit the largest index replicated on a quorum only if its entry has the
  leader's current term (Raft paper section 5.4.2, Figure 8).

:class:`Rules` bundles the decision points; mutants replace one of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, final

import msgspec

from proofs.z3adapter import (
    And,
    ArithRef,
    Array,
    ArrayRef,
    BoolRef,
    BoolVal,
    ForAll,
    If,
    Int,
    IntSort,
    IntVal,
    Lambda,
    Or,
    Sum,
    select_int,
)

NONE = 0
"""etcd's ``None`` node id: no vote, no known leader."""

FOLLOWER, CANDIDATE, LEADER = 0, 1, 2
"""Role codes (etcd ``StateFollower``, ``StateCandidate``, ``StateLeader``)."""

ROLE_NAMES = {FOLLOWER: "follower", CANDIDATE: "candidate", LEADER: "leader"}

NO_RESPONSE, GRANTED, REJECTED = 0, 1, 2
"""A candidate's record of one voter's response (etcd's ``votes`` map)."""

Term = ArithRef | int
Conjuncts = tuple[tuple[str, BoolRef], ...]


def as_term(value: Term) -> ArithRef:
    """An integer or a z3 integer term, as a z3 integer term."""
    return IntVal(value) if isinstance(value, int) else value


class LogView(Protocol):
    """A log: the term of each entry, 0 at index 0 and beyond the last index."""

    @property
    def last_index(self) -> ArithRef: ...

    def term_at(self, index: Term) -> ArithRef: ...

    def for_all_positions(self, predicate: Callable[[ArithRef], BoolRef]) -> BoolRef:
        """``predicate`` holds at every index from 1 on (as far as this domain represents)."""
        ...


@final
class BoundedLog(msgspec.Struct, frozen=True, kw_only=True):
    """A log of at most ``len(terms)`` entries: one integer term per index, 0 beyond the end."""

    terms: tuple[ArithRef, ...]
    last: ArithRef

    @property
    def last_index(self) -> ArithRef:
        return self.last

    def term_at(self, index: Term) -> ArithRef:
        if isinstance(index, int):
            return self.terms[index - 1] if 1 <= index <= len(self.terms) else IntVal(0)
        result: ArithRef = IntVal(0)
        for position in range(len(self.terms), 0, -1):
            result = If(index == position, self.terms[position - 1], result)
        return result

    def for_all_positions(self, predicate: Callable[[ArithRef], BoolRef]) -> BoolRef:
        return And([predicate(IntVal(position)) for position in range(1, len(self.terms) + 1)])


@final
class ArrayLog(msgspec.Struct, frozen=True, kw_only=True):
    """An unbounded log: a z3 array from index to term (0 below 1 and beyond the last index,
    which the proofs state as an invariant), with the last index."""

    array: ArrayRef
    last: ArithRef

    @property
    def last_index(self) -> ArithRef:
        return self.last

    def term_at(self, index: Term) -> ArithRef:
        return select_int(self.array, as_term(index))

    def for_all_positions(self, predicate: Callable[[ArithRef], BoolRef]) -> BoolRef:
        position = Int("position")
        return ForAll([position], predicate(position))


@final
class HavocLog(msgspec.Struct, frozen=True, kw_only=True):
    """A log of which only the last index and the terms the relations read are known: every
    constraint on its content holds vacuously. Models that do not depend on log contents
    (elections) use it, which over-approximates what a handler may do to the log."""

    array: ArrayRef
    last: ArithRef

    @property
    def last_index(self) -> ArithRef:
        return self.last

    def term_at(self, index: Term) -> ArithRef:
        return select_int(self.array, as_term(index))

    def for_all_positions(self, predicate: Callable[[ArithRef], BoolRef]) -> BoolRef:  # noqa: ARG002
        return BoolVal(True)


def bounded_log(terms: Sequence[int], capacity: int) -> BoundedLog:
    """A concrete log (terms of indexes 1..len) padded with zeros to ``capacity`` entries."""
    assert len(terms) <= capacity
    padded = [*terms, *([0] * (capacity - len(terms)))]
    return BoundedLog(terms=tuple(IntVal(term) for term in padded), last=IntVal(len(terms)))


def array_log(name: str) -> ArrayLog:
    """A fresh unbounded symbolic log."""
    return ArrayLog(array=Array(f"{name}.log", IntSort(), IntSort()), last=Int(f"{name}.last"))


def havoc_log(name: str) -> HavocLog:
    """A fresh log whose content no relation constrains."""
    return HavocLog(array=Array(f"{name}.log", IntSort(), IntSort()), last=Int(f"{name}.last"))


@final
class NodeView(msgspec.Struct, frozen=True, kw_only=True):
    """One node's state as the relations see it (z3 terms, symbolic or concrete).

    ``responses[j - 1]`` is the candidate's record of voter j's response, ``match[j - 1]`` the
    leader's match index for follower j (etcd's Progress.Match); both are volatile.
    """

    node: int
    term: ArithRef
    vote: ArithRef
    lead: ArithRef
    role: ArithRef
    commit: ArithRef
    log: LogView
    responses: tuple[ArithRef, ...]
    match: tuple[ArithRef, ...]

    @property
    def voters(self) -> int:
        return len(self.responses)

    @property
    def last_term(self) -> ArithRef:
        return self.log.term_at(self.log.last_index)


def unchanged_fields(after: NodeView, before: NodeView) -> list[BoolRef]:
    """Frame conditions: every field of a node a step does not touch keeps its value, except the
    log's contents, which each model represents in its own way."""
    pairs = [
        (after.term, before.term),
        (after.vote, before.vote),
        (after.lead, before.lead),
        (after.role, before.role),
        (after.commit, before.commit),
        (after.log.last_index, before.log.last_index),
        *zip(after.responses, before.responses, strict=True),
        *zip(after.match, before.match, strict=True),
    ]
    return [a == b for a, b in pairs]


@final
class Control(msgspec.Struct, frozen=True, kw_only=True):
    """The fields that ``Step``'s term handling and role changes decide."""

    term: ArithRef
    vote: ArithRef
    lead: ArithRef
    role: ArithRef


def control_of(node: NodeView) -> Control:
    """The control fields of a node."""
    return Control(term=node.term, vote=node.vote, lead=node.lead, role=node.role)


def choose(condition: BoolRef, then: Control, otherwise: Control) -> Control:
    """Field-wise ``If``."""
    return Control(
        term=If(condition, then.term, otherwise.term),
        vote=If(condition, then.vote, otherwise.vote),
        lead=If(condition, then.lead, otherwise.lead),
        role=If(condition, then.role, otherwise.role),
    )


def become_follower(before: Control, term: ArithRef, lead: Term) -> Control:
    """etcd ``becomeFollower(term, lead)``: ``reset`` clears the vote only on a new term."""
    return Control(
        term=term,
        vote=If(term == before.term, before.vote, IntVal(NONE)),
        lead=as_term(lead),
        role=IntVal(FOLLOWER),
    )


def majority_reached(flags: Sequence[BoolRef], voters: int) -> BoolRef:
    """``count >= voters // 2 + 1``: etcd's majority quorum."""
    return 2 * Sum([If(flag, 1, 0) for flag in flags]) > voters


def can_vote_etcd(before: Control, candidate: ArithRef) -> BoolRef:
    """etcd: ``r.Vote == m.From || (r.Vote == None && r.lead == None)``."""
    return Or(before.vote == candidate, And(before.vote == NONE, before.lead == NONE))


def can_vote_twice(before: Control, candidate: ArithRef) -> BoolRef:  # noqa: ARG001
    """Mutant: a node grants its vote whatever it already voted for in this term."""
    return BoolVal(True)


def commit_current_term_only(leader: NodeView, index: ArithRef) -> BoolRef:
    """etcd ``maybeCommit``: only an entry of the leader's current term is committed by counting."""
    return leader.log.term_at(index) == leader.term


def commit_by_counting(leader: NodeView, index: ArithRef) -> BoolRef:  # noqa: ARG001
    """Mutant (Raft paper Figure 8): any entry stored on a quorum counts as committed."""
    return BoolVal(True)


def match_term_etcd(log: LogView, index: ArithRef, term: ArithRef) -> BoolRef:
    """etcd ``matchTerm``: the log has ``term`` at ``index`` (0 beyond the last index)."""
    return log.term_at(index) == term


def match_term_skipped(log: LogView, index: ArithRef, term: ArithRef) -> BoolRef:  # noqa: ARG001
    """Mutant: a follower accepts AppendEntries without the consistency check."""
    return index <= log.last_index


def up_to_date_etcd(
    last_index: ArithRef, last_term: ArithRef, own_index: ArithRef, own_term: ArithRef
) -> BoolRef:
    """etcd ``isUpToDate``: a later last term, or the same last term and a log as long."""
    return Or(last_term > own_term, And(last_term == own_term, last_index >= own_index))


def up_to_date_skipped(
    last_index: ArithRef, last_term: ArithRef, own_index: ArithRef, own_term: ArithRef
) -> BoolRef:
    """Mutant: a vote is granted whatever the candidate's log."""
    del last_index, last_term, own_index, own_term
    return BoolVal(True)


@final
class Rules(msgspec.Struct, frozen=True, kw_only=True):
    """The decision points of the protocol; a mutant replaces one."""

    can_vote: Callable[[Control, ArithRef], BoolRef] = can_vote_etcd
    may_commit: Callable[[NodeView, ArithRef], BoolRef] = commit_current_term_only
    match_term: Callable[[LogView, ArithRef, ArithRef], BoolRef] = match_term_etcd
    up_to_date: Callable[[ArithRef, ArithRef, ArithRef, ArithRef], BoolRef] = up_to_date_etcd
    truncate_without_conflict: bool = False
    """Mutant: a follower cuts its log after the sent entries even when none conflicts."""


ETCD_RULES = Rules()


def observe_term(
    before: Control, message_term: ArithRef, sender: Term, *, from_leader: bool
) -> Control:
    """``Step``'s prologue for a message whose term is higher than the node's."""
    after = become_follower(before, message_term, sender if from_leader else NONE)
    return choose(message_term > before.term, after, before)


def same_control(after: NodeView, expected: Control) -> Conjuncts:
    """Conjuncts saying the node's control fields are ``expected``."""
    return (
        ("term", after.term == expected.term),
        ("vote", after.vote == expected.vote),
        ("lead", after.lead == expected.lead),
        ("role", after.role == expected.role),
    )


def same_log(after: LogView, expected: Callable[[ArithRef], ArithRef], last: ArithRef) -> BoolRef:
    """``after`` has ``expected(i)`` at every index and ends at ``last``."""
    if isinstance(after, ArrayLog):
        # Array equality with a lambda: z3 decides it without instantiating a quantifier.
        position = Int("position")
        return And(after.last_index == last, after.array == Lambda([position], expected(position)))
    return And(
        after.last_index == last,
        after.for_all_positions(lambda i: after.term_at(i) == expected(i)),
    )


def unchanged_log(before: NodeView, after: NodeView) -> Conjuncts:
    """The log and the commit index are untouched."""
    return (
        ("log", same_log(after.log, before.log.term_at, before.log.last_index)),
        ("commit", after.commit == before.commit),
    )


def appended_one(before: NodeView, after: NodeView, term: ArithRef) -> BoolRef:
    """``after``'s log is ``before``'s with one entry of ``term`` appended."""
    last = before.log.last_index + 1
    return same_log(after.log, lambda i: If(i == last, term, before.log.term_at(i)), last)


def equal_all(after: Sequence[ArithRef], expected: Sequence[ArithRef | int]) -> BoolRef:
    """Element-wise equality of two tuples of the same length."""
    return And([a == e for a, e in zip(after, expected, strict=True)])
