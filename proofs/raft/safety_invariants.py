"""The inductive invariants of the unbounded Raft model: the shape, the ``election`` and
``log`` layers (the ``commit`` layer is :mod:`proofs.raft.commit_invariants`).

Each layer is inductive given itself and the layers before it (its check assumes them in the
pre-state). Notation in the texts: N nodes, T terms, I and J indexes; "the term log of T" is
the log of T's leader (ghost ``term_entry``), which only grows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import final

import msgspec

from proofs.raft.epr import INDEX, NODE, TERM, SymbolicDomain, quorum_members, term_lt
from proofs.raft.node_relations import is_last
from proofs.raft.safety_state import Relations
from proofs.z3adapter import And, BoolRef, ExprRef, ForAll, Implies, Not, Or, SortRef

Build = Callable[[SymbolicDomain, Relations], BoolRef]
LAYERS = ("election", "log", "commit")
Log = tuple[Callable[[ExprRef, ExprRef], BoolRef], Callable[[ExprRef], BoolRef]]
"""A log as (entry at index of term, index within the log)."""


@final
class Invariant(msgspec.Struct, frozen=True, kw_only=True):
    """A named invariant: its layer, what it means, and its formula."""

    name: str
    layer: str
    text: str
    build: Build


def forall(d: SymbolicDomain, sorts: tuple[SortRef, ...], body: Callable[..., BoolRef]) -> BoolRef:
    """``body`` for all values of ``sorts`` (fresh bound variables)."""
    variables = [d.fresh(sort, sort.name()[0]) for sort in sorts]
    return ForAll(variables, body(*variables))


@final
class View(Relations):
    """A state's relations with the domain's orders: what an invariant's body reads."""

    def __init__(self, domain: SymbolicDomain, state: Relations) -> None:
        self.d = domain
        self.state = state
        self.term_zero = domain.term_zero
        self.index_zero = domain.index_zero

    def holds(self, name: str, *args: ExprRef) -> BoolRef:
        return self.state.holds(name, *args)

    def value(self, name: str, *args: ExprRef) -> ExprRef:
        return self.state.value(name, *args)

    def term_le(self, a: ExprRef, b: ExprRef) -> BoolRef:
        return self.d.term_le(a, b)

    def index_le(self, a: ExprRef, b: ExprRef) -> BoolRef:
        return self.d.index_le(a, b)

    def term_lt(self, a: ExprRef, b: ExprRef) -> BoolRef:
        formula = term_lt(self.d, a, b)
        assert isinstance(formula, BoolRef)
        return formula

    def node_log(self, n: ExprRef) -> Log:
        """Node ``n``'s log."""
        return (lambda i, t: self.entry(n, i, t), lambda i: self.used(n, i))

    def term_log(self, t: ExprRef) -> Log:
        """The log of term ``t``'s leader."""
        return (lambda i, y: self.term_entry(t, i, y), lambda i: self.term_used(t, i))

    def agree(self, first: Log, second: Log, upto: ExprRef) -> BoolRef:
        """Two logs hold the same entries at every index up to ``upto``."""
        return forall(
            self.d,
            (INDEX, TERM),
            lambda j, t: Implies(
                self.index_le(j, upto),
                And(first[0](j, t) == second[0](j, t), first[1](j) == second[1](j)),
            ),
        )

    def is_last(self, n: ExprRef, last: ExprRef, last_term: ExprRef) -> BoolRef:
        formula = is_last(self.d, self.fields(n), last, last_term)
        assert isinstance(formula, BoolRef)
        return formula


def invariant(
    name: str, layer: str, text: str, sorts: tuple[SortRef, ...], body: Callable[..., BoolRef]
) -> Invariant:
    """``body(view, *xs)`` for all ``xs`` of ``sorts``."""
    return Invariant(
        name=name,
        layer=layer,
        text=text,
        build=lambda d, s: forall(d, sorts, lambda *xs: body(View(d, s), *xs)),
    )


E, L = "election", "log"

ELECTION: tuple[Invariant, ...] = (
    invariant(
        "one current term",
        E,
        "A node has at most one current term.",
        (NODE, TERM, TERM),
        lambda v, n, a, b: Implies(And(v.current_term(n, a), v.current_term(n, b)), a == b),
    ),
    invariant(
        "left terms are the earlier terms",
        E,
        "A node has left exactly the terms below its current term.",
        (NODE, TERM, TERM),
        lambda v, n, a, t: Implies(v.current_term(n, a), v.left(n, t) == v.term_lt(t, a)),
    ),
    invariant(
        "a leader is not a candidate",
        E,
        "No node is both leader and candidate.",
        (NODE,),
        lambda v, n: Not(And(v.leader(n), v.candidate(n))),
    ),
    invariant(
        "one vote per term",
        E,
        "A node votes for at most one candidate per term (paper Figure 2, votedFor).",
        (NODE, TERM, NODE, NODE),
        lambda v, n, t, a, b: Implies(And(v.votes(n, t, a), v.votes(n, t, b)), a == b),
    ),
    invariant(
        "no vote in a future term",
        E,
        "A node's votes are for its term or earlier ones.",
        (NODE, TERM, NODE, TERM),
        lambda v, n, t, c, a: Implies(And(v.votes(n, t, c), v.current_term(n, a)), v.term_le(t, a)),
    ),
    invariant(
        "voters left the earlier terms",
        E,
        "A node that voted in T has left every term below T.",
        (NODE, TERM, NODE, TERM),
        lambda v, n, t, c, u: Implies(And(v.votes(n, t, c), v.term_lt(u, t)), v.left(n, u)),
    ),
    invariant(
        "the vote field is the vote of the current term",
        E,
        "voted_for is the vote recorded for the node's current term.",
        (NODE, TERM, NODE),
        lambda v, n, t, c: Implies(v.current_term(n, t), v.voted_for(n, c) == v.votes(n, t, c)),
    ),
    invariant(
        "no votes in term zero",
        E,
        "Votes are cast in terms above 0.",
        (NODE, TERM, NODE),
        lambda v, n, t, c: Implies(v.votes(n, t, c), t != v.term_zero),
    ),
    invariant(
        "votes go to candidates",
        E,
        "A vote for C in T means C campaigned in T (it voted for itself).",
        (NODE, TERM, NODE),
        lambda v, n, t, c: Implies(v.votes(n, t, c), v.votes(c, t, c)),
    ),
    invariant(
        "candidates and leaders voted for themselves",
        E,
        "A candidate or leader voted for itself in its term.",
        (NODE, TERM),
        lambda v, n, t: Implies(
            And(Or(v.candidate(n), v.leader(n)), v.current_term(n, t)), v.votes(n, t, n)
        ),
    ),
    invariant(
        "recorded grants are votes",
        E,
        "A candidate's recorded grants are votes for it in its term.",
        (NODE, TERM, NODE),
        lambda v, n, t, j: Implies(
            And(v.candidate(n), v.current_term(n, t), v.granted(n, j)), v.votes(j, t, n)
        ),
    ),
    invariant(
        "a candidate was not elected in its term",
        E,
        "A candidate has not won its term.",
        (NODE, TERM),
        lambda v, n, t: Implies(And(v.candidate(n), v.current_term(n, t)), Not(v.elected(n, t))),
    ),
    invariant(
        "a leader was elected in its term",
        E,
        "A leader won its current term.",
        (NODE, TERM),
        lambda v, n, t: Implies(And(v.leader(n), v.current_term(n, t)), v.elected(n, t)),
    ),
    invariant(
        "the elected hold a quorum of votes",
        E,
        "Every member of T's voting quorum voted for T's leader.",
        (NODE, TERM, NODE),
        lambda v, c, t, j: Implies(
            And(v.elected(c, t), quorum_members(v.voting_quorum(t))(j)), v.votes(j, t, c)
        ),
    ),
    invariant(
        "elected terms are started",
        E,
        "A term with a leader is started.",
        (NODE, TERM),
        lambda v, n, t: Implies(v.elected(n, t), v.started(t)),
    ),
    invariant(
        "started terms have a leader",
        E,
        "A started term's leader (ghost leader_of) was elected in it.",
        (TERM,),
        lambda v, t: Implies(v.started(t), v.elected(v.leader_of(t), t)),
    ),
    invariant(
        "no leader of a future term",
        E,
        "A node was elected only in its term or earlier ones.",
        (NODE, TERM, TERM),
        lambda v, n, t, a: Implies(And(v.elected(n, t), v.current_term(n, a)), v.term_le(t, a)),
    ),
    invariant(
        "election safety",
        E,
        "At most one leader is elected in a term (paper Figure 3).",
        (NODE, NODE, TERM),
        lambda v, a, b, t: Implies(And(v.elected(a, t), v.elected(b, t)), a == b),
    ),
    invariant(
        "vote requests come from candidates",
        E,
        "A MsgVote of C for T exists only if C voted for itself in T.",
        (NODE, TERM, INDEX, TERM),
        lambda v, c, t, i, y: Implies(v.request(c, t, i, y), v.votes(c, t, c)),
    ),
    invariant(
        "one vote request per term",
        E,
        "A candidate's MsgVotes of one term carry one last index and term.",
        (NODE, TERM, INDEX, TERM, INDEX, TERM),
        lambda v, c, t, i, y, j, z: Implies(
            And(v.request(c, t, i, y), v.request(c, t, j, z)), And(i == j, y == z)
        ),
    ),
    invariant(
        "votes and logs agree on terms",
        E,
        "While its term has no leader, a candidate's MsgVote carries its log's last index and "
        "term (what the voters' up-to-date check compared).",
        (NODE, TERM, INDEX, TERM),
        lambda v, c, t, i, y: Implies(
            And(v.request(c, t, i, y), v.current_term(c, t), Not(v.started(t))),
            v.is_last(c, i, y),
        ),
    ),
)


def _log_shape(
    what: str, entry: Callable[..., BoolRef], used: Callable[..., BoolRef], owner: SortRef
) -> tuple[Invariant, ...]:
    """``entry(view, owner, index, term)`` and ``used(view, owner, index)``: one kind of log."""
    return (
        invariant(
            f"{what}: one term per index",
            L,
            f"A {what} holds one entry per index.",
            (owner, INDEX, TERM, TERM),
            lambda v, o, i, a, b: Implies(And(entry(v, o, i, a), entry(v, o, i, b)), a == b),
        ),
        invariant(
            f"{what}: entries are within the log",
            L,
            f"A {what}'s entries are at indexes it reaches, of terms above 0.",
            (owner, INDEX, TERM),
            lambda v, o, i, t: Implies(entry(v, o, i, t), And(used(v, o, i), t != v.term_zero)),
        ),
        invariant(
            f"{what}: no gaps",
            L,
            f"A {what} reaches every index from 1 to its last.",
            (owner, INDEX, INDEX),
            lambda v, o, i, j: Implies(
                And(used(v, o, i), v.index_le(j, i), j != v.index_zero), used(v, o, j)
            ),
        ),
        invariant(
            f"{what}: index 0 is no entry",
            L,
            f"A {what} starts at index 1.",
            (owner,),
            lambda v, o: Not(used(v, o, v.index_zero)),
        ),
    )


LOG: tuple[Invariant, ...] = (
    *_log_shape("node log", Relations.entry, Relations.used, NODE),
    *_log_shape("term log", Relations.term_entry, Relations.term_used, TERM),
    invariant(
        "term logs belong to started terms",
        L,
        "Only a term with a leader has a term log.",
        (TERM, INDEX),
        lambda v, t, i: Implies(v.term_used(t, i), v.started(t)),
    ),
    invariant(
        "entries with the same index and term are preceded by identical prefixes",
        L,
        "An entry (I, T) of a node log, with every entry before it, is exactly term T's log up "
        "to I; Log Matching rests on this.",
        (NODE, INDEX, TERM),
        lambda v, n, i, t: Implies(v.entry(n, i, t), v.agree(v.node_log(n), v.term_log(t), i)),
    ),
    invariant(
        "term logs agree with the term logs of their entries",
        L,
        "An entry (I, T) of term U's log, with its prefix, is term T's log up to I.",
        (TERM, INDEX, TERM),
        lambda v, u, i, t: Implies(v.term_entry(u, i, t), v.agree(v.term_log(u), v.term_log(t), i)),
    ),
    invariant(
        "term logs hold no later terms",
        L,
        "Term U's log holds entries of terms up to U.",
        (TERM, INDEX, TERM),
        lambda v, u, i, t: Implies(v.term_entry(u, i, t), v.term_le(t, u)),
    ),
    invariant(
        "node logs hold no future terms",
        L,
        "A node's entries are of its term or earlier ones.",
        (NODE, INDEX, TERM, TERM),
        lambda v, n, i, t, a: Implies(And(v.entry(n, i, t), v.current_term(n, a)), v.term_le(t, a)),
    ),
    invariant(
        "terms do not decrease along a term log",
        L,
        "In a term log, a later index never holds an earlier term.",
        (TERM, INDEX, TERM, INDEX, TERM),
        lambda v, u, i, a, j, b: Implies(
            And(v.term_entry(u, i, a), v.term_entry(u, j, b), v.index_le(i, j)), v.term_le(a, b)
        ),
    ),
    invariant(
        "a leader's log is its term's log",
        L,
        "A leader's log is its term's log (Leader Append-Only: the term log only grows).",
        (NODE, TERM, INDEX, TERM),
        lambda v, n, t, i, y: Implies(
            And(v.leader(n), v.current_term(n, t)),
            And(v.entry(n, i, y) == v.term_entry(t, i, y), v.used(n, i) == v.term_used(t, i)),
        ),
    ),
)
