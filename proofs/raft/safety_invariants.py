"""The inductive invariants of the unbounded Raft model, in four layers, and its properties.

Each layer is inductive given itself and the layers before it (its check assumes them in the
pre-state): ``election`` (votes and leaders), ``log`` (entries agree with term logs, hence Log
Matching), ``commit`` (what a quorum acknowledged reaches every later leader, hence Leader
Completeness) and ``apply`` (commit indexes, hence State Machine Safety). The properties
(:data:`PROPERTIES`) are then checked as implications of the invariants.

Notation in the texts: ``N`` nodes; ``T`` terms; ``I``, ``J`` indexes; "the term log of T" is
the log of T's leader (ghost ``term_entry``); "T1 is choosable at I" means some quorum's
members each acknowledged term T1's log up to I or are still at term T1 or below, so that a
commit of I in T1 may still happen (Ivy/mypyvy ``choosable``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import final

import msgspec

from proofs.raft.epr import INDEX, NODE, TERM, SymbolicDomain, quorum_members, term_lt
from proofs.raft.node_relations import is_last
from proofs.raft.safety_state import StateView
from proofs.z3adapter import And, BoolRef, ExprRef, ForAll, Implies, Not, Or, SortRef

Build = Callable[[SymbolicDomain, StateView], BoolRef]
LAYERS = ("election", "log", "commit")


@final
class Invariant(msgspec.Struct, frozen=True, kw_only=True):
    """A named invariant: its layer, what it means, and its formula."""

    name: str
    layer: str
    text: str
    build: Build


def _all(d: SymbolicDomain, sorts: tuple[SortRef, ...], body: Callable[..., BoolRef]) -> BoolRef:
    xs = [d.fresh(sort, sort.name()[0]) for sort in sorts]
    return ForAll(xs, body(*xs))


def _agree(
    d: SymbolicDomain,
    first: tuple[Callable[[ExprRef, ExprRef], BoolRef], Callable[[ExprRef], BoolRef]],
    second: tuple[Callable[[ExprRef, ExprRef], BoolRef], Callable[[ExprRef], BoolRef]],
    upto: ExprRef,
) -> BoolRef:
    """Two logs (entry, used) agree at every index up to ``upto``."""
    return _all(
        d,
        (INDEX, TERM),
        lambda j, t: Implies(
            d.index_le(j, upto), And(first[0](j, t) == second[0](j, t), first[1](j) == second[1](j))
        ),
    )


def _node_log(
    s: StateView, n: ExprRef
) -> tuple[Callable[[ExprRef, ExprRef], BoolRef], Callable[[ExprRef], BoolRef]]:
    return (lambda i, t: s.holds("entry", n, i, t), lambda i: s.holds("used", n, i))


def _term_log(
    s: StateView, t: ExprRef
) -> tuple[Callable[[ExprRef, ExprRef], BoolRef], Callable[[ExprRef], BoolRef]]:
    return (lambda i, y: s.holds("term_entry", t, i, y), lambda i: s.holds("term_used", t, i))


def choosable(d: SymbolicDomain, s: StateView, term: ExprRef, index: ExprRef) -> BoolRef:
    """Some quorum: each member acknowledged ``term``'s log up to ``index`` or has not left
    ``term`` (Ivy/mypyvy ``choosable``: a commit of ``index`` in ``term`` is still possible)."""
    return d.some_quorum(
        lambda member: d.all_nodes(
            lambda n: Implies(
                member(n), Or(s.holds("acked", n, term, index), Not(s.holds("left", n, term)))
            )
        )
    )


def _inv(name: str, layer: str, text: str, build: Build) -> Invariant:
    return Invariant(name=name, layer=layer, text=text, build=build)


def _election() -> list[Invariant]:
    e = "election"
    return [
        _inv(
            "one current term",
            e,
            "A node has at most one current term.",
            lambda d, s: _all(
                d,
                (NODE, TERM, TERM),
                lambda n, a, b: Implies(
                    And(s.holds("current_term", n, a), s.holds("current_term", n, b)), a == b
                ),
            ),
        ),
        _inv(
            "left terms are the earlier terms",
            e,
            "A node has left exactly the terms below its current term.",
            lambda d, s: _all(
                d,
                (NODE, TERM, TERM),
                lambda n, a, t: Implies(
                    s.holds("current_term", n, a), s.holds("left", n, t) == term_lt(d, t, a)
                ),
            ),
        ),
        _inv(
            "a leader is not a candidate",
            e,
            "No node is both leader and candidate.",
            lambda d, s: _all(
                d, (NODE,), lambda n: Not(And(s.holds("leader", n), s.holds("candidate", n)))
            ),
        ),
        _inv(
            "one vote per term",
            e,
            "A node votes for at most one candidate per term (paper Figure 2, votedFor).",
            lambda d, s: _all(
                d,
                (NODE, TERM, NODE, NODE),
                lambda n, t, a, b: Implies(
                    And(s.holds("votes", n, t, a), s.holds("votes", n, t, b)), a == b
                ),
            ),
        ),
        _inv(
            "no vote in a future term",
            e,
            "A node's votes are for its current term or earlier ones.",
            lambda d, s: _all(
                d,
                (NODE, TERM, NODE, TERM),
                lambda n, t, c, a: Implies(
                    And(s.holds("votes", n, t, c), s.holds("current_term", n, a)), d.term_le(t, a)
                ),
            ),
        ),
        _inv(
            "voters left the earlier terms",
            e,
            "A node that voted in T has left every term below T.",
            lambda d, s: _all(
                d,
                (NODE, TERM, NODE, TERM),
                lambda n, t, c, u: Implies(
                    And(s.holds("votes", n, t, c), term_lt(d, u, t)), s.holds("left", n, u)
                ),
            ),
        ),
        _inv(
            "the vote field is the vote of the current term",
            e,
            "voted_for is the vote recorded for the node's current term.",
            lambda d, s: _all(
                d,
                (NODE, TERM, NODE),
                lambda n, t, c: Implies(
                    s.holds("current_term", n, t),
                    s.holds("voted_for", n, c) == s.holds("votes", n, t, c),
                ),
            ),
        ),
        _inv(
            "no votes in term zero",
            e,
            "Votes are cast in terms above 0.",
            lambda d, s: _all(
                d,
                (NODE, TERM, NODE),
                lambda n, t, c: Implies(s.holds("votes", n, t, c), t != d.term_zero),
            ),
        ),
        _inv(
            "votes go to candidates",
            e,
            "A vote for C in T means C campaigned in T (voted for itself).",
            lambda d, s: _all(
                d,
                (NODE, TERM, NODE),
                lambda n, t, c: Implies(s.holds("votes", n, t, c), s.holds("votes", c, t, c)),
            ),
        ),
        _inv(
            "candidates and leaders voted for themselves",
            e,
            "A candidate or leader voted for itself in its term.",
            lambda d, s: _all(
                d,
                (NODE, TERM),
                lambda n, t: Implies(
                    And(
                        Or(s.holds("candidate", n), s.holds("leader", n)),
                        s.holds("current_term", n, t),
                    ),
                    s.holds("votes", n, t, n),
                ),
            ),
        ),
        _inv(
            "recorded grants are votes",
            e,
            "A candidate's recorded grants are votes for it in its term.",
            lambda d, s: _all(
                d,
                (NODE, TERM, NODE),
                lambda n, t, j: Implies(
                    And(
                        s.holds("candidate", n),
                        s.holds("current_term", n, t),
                        s.holds("granted", n, j),
                    ),
                    s.holds("votes", j, t, n),
                ),
            ),
        ),
        _inv(
            "a candidate was not elected in its term",
            e,
            "A candidate has not won its current term.",
            lambda d, s: _all(
                d,
                (NODE, TERM),
                lambda n, t: Implies(
                    And(s.holds("candidate", n), s.holds("current_term", n, t)),
                    Not(s.holds("elected", n, t)),
                ),
            ),
        ),
        _inv(
            "a leader was elected in its term",
            e,
            "A leader won its current term.",
            lambda d, s: _all(
                d,
                (NODE, TERM),
                lambda n, t: Implies(
                    And(s.holds("leader", n), s.holds("current_term", n, t)),
                    s.holds("elected", n, t),
                ),
            ),
        ),
        _inv(
            "the elected hold a quorum of votes",
            e,
            "Every member of the voting quorum of T voted for T's leader.",
            lambda d, s: _all(
                d,
                (NODE, TERM, NODE),
                lambda c, t, j: Implies(
                    And(s.holds("elected", c, t), quorum_members(s.value("voting_quorum", t))(j)),
                    s.holds("votes", j, t, c),
                ),
            ),
        ),
        _inv(
            "elected terms are started",
            e,
            "A term with a leader is started.",
            lambda d, s: _all(
                d,
                (NODE, TERM),
                lambda n, t: Implies(s.holds("elected", n, t), s.holds("started", t)),
            ),
        ),
        _inv(
            "started terms have a leader",
            e,
            "A started term's leader (ghost leader_of) was elected in it.",
            lambda d, s: _all(
                d,
                (TERM,),
                lambda t: Implies(
                    s.holds("started", t), s.holds("elected", s.value("leader_of", t), t)
                ),
            ),
        ),
        _inv(
            "no leader of a future term",
            e,
            "A node was elected only in its current term or earlier ones.",
            lambda d, s: _all(
                d,
                (NODE, TERM, TERM),
                lambda n, t, a: Implies(
                    And(s.holds("elected", n, t), s.holds("current_term", n, a)), d.term_le(t, a)
                ),
            ),
        ),
        _inv(
            "election safety",
            e,
            "At most one leader is elected in a term (paper Figure 3).",
            lambda d, s: _all(
                d,
                (NODE, NODE, TERM),
                lambda a, b, t: Implies(
                    And(s.holds("elected", a, t), s.holds("elected", b, t)), a == b
                ),
            ),
        ),
        _inv(
            "vote requests come from candidates",
            e,
            "A MsgVote of C for T exists only if C voted for itself in T.",
            lambda d, s: _all(
                d,
                (NODE, TERM, INDEX, TERM),
                lambda c, t, i, y: Implies(
                    s.holds("request", c, t, i, y), s.holds("votes", c, t, c)
                ),
            ),
        ),
        _inv(
            "one vote request per term",
            e,
            "A candidate's MsgVotes of one term carry one last index and term.",
            lambda d, s: _all(
                d,
                (NODE, TERM, INDEX, TERM, INDEX, TERM),
                lambda c, t, i, y, j, z: Implies(
                    And(s.holds("request", c, t, i, y), s.holds("request", c, t, j, z)),
                    And(i == j, y == z),
                ),
            ),
        ),
        _inv(
            "votes and logs agree on terms",
            e,
            "While its term has no leader, a candidate's MsgVote carries its log's last index and term.",
            lambda d, s: _all(
                d,
                (NODE, TERM, INDEX, TERM),
                lambda c, t, i, y: Implies(
                    And(
                        s.holds("request", c, t, i, y),
                        s.holds("current_term", c, t),
                        Not(s.holds("started", t)),
                    ),
                    is_last(d, s.fields(c), i, y),
                ),
            ),
        ),
    ]


def _log_shape(entry: str, used: str, owner: SortRef, what: str) -> list[Invariant]:
    g = "log"
    return [
        _inv(
            f"{what}: one term per index",
            g,
            f"A {what} holds one entry per index.",
            lambda d, s: _all(
                d,
                (owner, INDEX, TERM, TERM),
                lambda o, i, a, b: Implies(
                    And(s.holds(entry, o, i, a), s.holds(entry, o, i, b)), a == b
                ),
            ),
        ),
        _inv(
            f"{what}: entries are within the log",
            g,
            f"A {what}'s entries are at indexes it reaches, of terms above 0.",
            lambda d, s: _all(
                d,
                (owner, INDEX, TERM),
                lambda o, i, t: Implies(
                    s.holds(entry, o, i, t), And(s.holds(used, o, i), t != d.term_zero)
                ),
            ),
        ),
        _inv(
            f"{what}: no gaps",
            g,
            f"A {what} reaches every index from 1 to its last.",
            lambda d, s: _all(
                d,
                (owner, INDEX, INDEX),
                lambda o, i, j: Implies(
                    And(s.holds(used, o, i), d.index_le(j, i), j != d.index_zero),
                    s.holds(used, o, j),
                ),
            ),
        ),
        _inv(
            f"{what}: index 0 is no entry",
            g,
            f"A {what} starts at index 1.",
            lambda d, s: _all(d, (owner,), lambda o: Not(s.holds(used, o, d.index_zero))),
        ),
    ]


def _log() -> list[Invariant]:
    g = "log"
    found = [
        *_log_shape("entry", "used", NODE, "node log"),
        *_log_shape("term_entry", "term_used", TERM, "term log"),
    ]
    found += [
        _inv(
            "term logs belong to started terms",
            g,
            "Only a term with a leader has a term log.",
            lambda d, s: _all(
                d,
                (TERM, INDEX),
                lambda t, i: Implies(s.holds("term_used", t, i), s.holds("started", t)),
            ),
        ),
        _inv(
            "entries with the same index and term are preceded by identical prefixes",
            g,
            "An entry (I, T) of a node log, with every entry before it, is exactly term T's log up to I; this is what Log Matching rests on.",
            lambda d, s: _all(
                d,
                (NODE, INDEX, TERM),
                lambda n, i, t: Implies(
                    s.holds("entry", n, i, t), _agree(d, _node_log(s, n), _term_log(s, t), i)
                ),
            ),
        ),
        _inv(
            "term logs agree with the term logs of their entries",
            g,
            "An entry (I, T) of term T0's log, with its prefix, is term T's log up to I.",
            lambda d, s: _all(
                d,
                (TERM, INDEX, TERM),
                lambda u, i, t: Implies(
                    s.holds("term_entry", u, i, t), _agree(d, _term_log(s, u), _term_log(s, t), i)
                ),
            ),
        ),
        _inv(
            "term logs hold no later terms",
            g,
            "Term T's log holds entries of terms up to T.",
            lambda d, s: _all(
                d,
                (TERM, INDEX, TERM),
                lambda u, i, t: Implies(s.holds("term_entry", u, i, t), d.term_le(t, u)),
            ),
        ),
        _inv(
            "node logs hold no future terms",
            g,
            "A node's entries are of its current term or earlier ones.",
            lambda d, s: _all(
                d,
                (NODE, INDEX, TERM, TERM),
                lambda n, i, t, a: Implies(
                    And(s.holds("entry", n, i, t), s.holds("current_term", n, a)), d.term_le(t, a)
                ),
            ),
        ),
        _inv(
            "terms do not decrease along a term log",
            g,
            "In a term log, a later index never holds an earlier term.",
            lambda d, s: _all(
                d,
                (TERM, INDEX, TERM, INDEX, TERM),
                lambda u, i, a, j, b: Implies(
                    And(
                        s.holds("term_entry", u, i, a),
                        s.holds("term_entry", u, j, b),
                        d.index_le(i, j),
                    ),
                    d.term_le(a, b),
                ),
            ),
        ),
        _inv(
            "a leader's log is its term's log",
            g,
            "A leader's log is its term's log (Leader Append-Only: the term log only grows).",
            lambda d, s: _all(
                d,
                (NODE, TERM),
                lambda n, t: Implies(
                    And(s.holds("leader", n), s.holds("current_term", n, t)),
                    _all(
                        d,
                        (INDEX, TERM),
                        lambda i, y: And(
                            s.holds("entry", n, i, y) == s.holds("term_entry", t, i, y),
                            s.holds("used", n, i) == s.holds("term_used", t, i),
                        ),
                    ),
                ),
            ),
        ),
    ]
    return found


def _commit() -> list[Invariant]:
    g = "commit"
    return [
        _inv(
            "index 0 is acknowledged",
            g,
            "Every node acknowledges the empty prefix of every term.",
            lambda d, s: _all(d, (NODE, TERM), lambda n, t: s.holds("acked", n, t, d.index_zero)),
        ),
        _inv(
            "acknowledgements are prefixes",
            g,
            "Acknowledging term T's log up to I acknowledges it up to every J <= I.",
            lambda d, s: _all(
                d,
                (NODE, TERM, INDEX, INDEX),
                lambda n, t, i, j: Implies(
                    And(s.holds("acked", n, t, i), d.index_le(j, i)), s.holds("acked", n, t, j)
                ),
            ),
        ),
        _inv(
            "acknowledged entries are in the term log",
            g,
            "An acknowledged index is in the term's log.",
            lambda d, s: _all(
                d,
                (NODE, TERM, INDEX),
                lambda n, t, i: Implies(
                    And(s.holds("acked", n, t, i), i != d.index_zero), s.holds("term_used", t, i)
                ),
            ),
        ),
        _inv(
            "no acknowledgement in a future term",
            g,
            "A node acknowledges only in its current term or earlier ones.",
            lambda d, s: _all(
                d,
                (NODE, TERM, INDEX, TERM),
                lambda n, t, i, a: Implies(
                    And(
                        s.holds("acked", n, t, i), i != d.index_zero, s.holds("current_term", n, a)
                    ),
                    d.term_le(t, a),
                ),
            ),
        ),
        _inv(
            "an acknowledged prefix stays while the term lasts",
            g,
            "A node still in term T holds T's log up to what it acknowledged in T.",
            lambda d, s: _all(
                d,
                (NODE, TERM, INDEX),
                lambda n, t, i: Implies(
                    And(s.holds("acked", n, t, i), s.holds("current_term", n, t)),
                    _agree(d, _node_log(s, n), _term_log(s, t), i),
                ),
            ),
        ),
        _inv(
            "a leader acknowledges its own log",
            g,
            "A leader's own log counts as acknowledged in its term.",
            lambda d, s: _all(
                d,
                (NODE, TERM, INDEX),
                lambda n, t, i: Implies(
                    And(s.holds("leader", n), s.holds("current_term", n, t), s.holds("used", n, i)),
                    s.holds("acked", n, t, i),
                ),
            ),
        ),
        _inv(
            "match indexes are acknowledged",
            g,
            "A leader's match index for J is an index J acknowledged in the leader's term.",
            lambda d, s: _all(
                d,
                (NODE, TERM, NODE, INDEX),
                lambda n, t, j, i: Implies(
                    And(
                        s.holds("leader", n),
                        s.holds("current_term", n, t),
                        s.holds("match", n, j, i),
                    ),
                    s.holds("acked", j, t, i),
                ),
            ),
        ),
        _inv(
            "commits are counted on a quorum, in the leader's term",
            g,
            "A commit of I by the leader of T is of an entry of term T that every member of its quorum acknowledged (paper 5.4.2).",
            lambda d, s: _all(
                d,
                (TERM, INDEX, NODE),
                lambda t, i, n: Implies(
                    And(s.holds("committed", t, i), i != d.index_zero),
                    And(
                        s.holds("term_entry", t, i, t),
                        Implies(
                            quorum_members(s.value("commit_quorum", t, i))(n),
                            s.holds("acked", n, t, i),
                        ),
                    ),
                ),
            ),
        ),
        _inv(
            "choosable entries stay with who acknowledged them",
            g,
            "If term T1 is choosable at I, whoever acknowledged (I, T1) in T1 still holds it.",
            lambda d, s: _all(
                d,
                (TERM, INDEX, NODE),
                lambda t, i, n: Implies(
                    And(
                        s.holds("term_entry", t, i, t),
                        choosable(d, s, t, i),
                        s.holds("acked", n, t, i),
                    ),
                    s.holds("entry", n, i, t),
                ),
            ),
        ),
        _inv(
            "choosable entries reach the candidates voted for",
            g,
            "If T1 is choosable at I, a candidate of an unstarted later term that got the vote of a node which acknowledged (I, T1) holds it.",
            lambda d, s: _all(
                d,
                (TERM, INDEX, NODE, TERM, NODE),
                lambda t, i, n, u, c: Implies(
                    And(
                        s.holds("term_entry", t, i, t),
                        choosable(d, s, t, i),
                        s.holds("acked", n, t, i),
                        s.holds("votes", n, u, c),
                        term_lt(d, t, u),
                        Not(s.holds("started", u)),
                        s.holds("current_term", c, u),
                    ),
                    s.holds("entry", c, i, t),
                ),
            ),
        ),
        _inv(
            "every committed entry is in every later leader's log",
            g,
            "If T1 is choosable at I, the log of every started later term holds (I, T1) (Ivy/mypyvy choosable_future_term_log).",
            lambda d, s: _all(
                d,
                (TERM, INDEX, TERM),
                lambda t, i, u: Implies(
                    And(
                        s.holds("term_entry", t, i, t),
                        choosable(d, s, t, i),
                        s.holds("started", u),
                        term_lt(d, t, u),
                    ),
                    s.holds("term_entry", u, i, t),
                ),
            ),
        ),
    ]


def _apply() -> list[Invariant]:
    g = "commit"
    justified = lambda s, n, i, t, q: s.holds("commit", n, i, t, q)  # noqa: E731
    return [
        _inv(
            "one commit index",
            g,
            "A node has one commit index and justification.",
            lambda d, s: _all(
                d,
                (NODE, INDEX, TERM, INDEX, INDEX, TERM, INDEX),
                lambda n, i, t, q, j, u, r: Implies(
                    And(justified(s, n, i, t, q), justified(s, n, j, u, r)),
                    And(i == j, t == u, q == r),
                ),
            ),
        ),
        _inv(
            "commit indexes are justified by commits",
            g,
            "A node's commit index is at most a commit made by the leader of a term no later than its own.",
            lambda d, s: _all(
                d,
                (NODE, INDEX, TERM, INDEX, TERM),
                lambda n, i, t, q, a: Implies(
                    justified(s, n, i, t, q),
                    And(
                        s.holds("committed", t, q),
                        d.index_le(i, q),
                        Implies(s.holds("current_term", n, a), d.term_le(t, a)),
                    ),
                ),
            ),
        ),
        _inv(
            "a node's log reaches its commit index",
            g,
            "The commit index is within the log.",
            lambda d, s: _all(
                d,
                (NODE, INDEX, TERM, INDEX),
                lambda n, i, t, q: Implies(
                    And(justified(s, n, i, t, q), i != d.index_zero), s.holds("used", n, i)
                ),
            ),
        ),
        _inv(
            "committed prefixes are committed term logs",
            g,
            "A node's log up to its commit index is the justifying term's log.",
            lambda d, s: _all(
                d,
                (NODE, INDEX, TERM, INDEX),
                lambda n, i, t, q: Implies(
                    justified(s, n, i, t, q), _agree(d, _node_log(s, n), _term_log(s, t), i)
                ),
            ),
        ),
        _inv(
            "leader commit indexes are justified",
            g,
            "The commit index a leader of T had is justified by a commit of a term no later than T.",
            lambda d, s: _all(
                d,
                (TERM, INDEX, TERM, INDEX),
                lambda u, i, t, q: Implies(
                    s.holds("leader_commit", u, i, t, q),
                    And(
                        s.holds("committed", t, q),
                        d.index_le(i, q),
                        d.term_le(t, u),
                        Or(i == d.index_zero, s.holds("term_used", u, i)),
                    ),
                ),
            ),
        ),
        _inv(
            "leader commit indexes cover their term logs",
            g,
            "Term U's log up to a commit index its leader had is the justifying term's log.",
            lambda d, s: _all(
                d,
                (TERM, INDEX, TERM, INDEX),
                lambda u, i, t, q: Implies(
                    s.holds("leader_commit", u, i, t, q),
                    _agree(d, _term_log(s, u), _term_log(s, t), i),
                ),
            ),
        ),
        _inv(
            "a leader's commit index is recorded",
            g,
            "A leader's current commit index is one its term's MsgApps may carry.",
            lambda d, s: _all(
                d,
                (NODE, TERM, INDEX, TERM, INDEX),
                lambda n, u, i, t, q: Implies(
                    And(
                        s.holds("leader", n),
                        s.holds("current_term", n, u),
                        justified(s, n, i, t, q),
                    ),
                    s.holds("leader_commit", u, i, t, q),
                ),
            ),
        ),
    ]


INVARIANTS: tuple[Invariant, ...] = (*_election(), *_log(), *_commit(), *_apply())


@final
class SafetyProperty(msgspec.Struct, frozen=True, kw_only=True):
    """A property the invariants imply: its parts (each checked alone) and the layers whose
    invariants imply it."""

    name: str
    text: str
    layers: tuple[str, ...]
    parts: tuple[Build, ...]


def _log_matching(d: SymbolicDomain, s: StateView) -> BoolRef:
    return _all(
        d,
        (NODE, NODE, INDEX, TERM),
        lambda a, b, i, t: Implies(
            And(s.holds("entry", a, i, t), s.holds("entry", b, i, t)),
            _agree(d, _node_log(s, a), _node_log(s, b), i),
        ),
    )


def _leader_completeness(d: SymbolicDomain, s: StateView) -> BoolRef:
    return _all(
        d,
        (TERM, INDEX, INDEX, TERM, NODE, TERM),
        lambda c, q, i, y, n, u: Implies(
            And(
                s.holds("committed", c, q),
                d.index_le(i, q),
                i != d.index_zero,
                s.holds("term_entry", c, i, y),
                s.holds("leader", n),
                s.holds("current_term", n, u),
                term_lt(d, c, u),
            ),
            s.holds("entry", n, i, y),
        ),
    )


def _applied_prefixes_agree(d: SymbolicDomain, s: StateView) -> BoolRef:
    return _all(
        d,
        (NODE, NODE, INDEX, INDEX, TERM, TERM, TERM, TERM, INDEX, INDEX, INDEX),
        lambda a, b, i, j, y, z, t, u, q, r, k: Implies(
            And(
                s.holds("commit", a, i, t, q),
                s.holds("commit", b, j, u, r),
                d.index_le(k, i),
                d.index_le(k, j),
                s.holds("entry", a, k, y),
                s.holds("entry", b, k, z),
            ),
            y == z,
        ),
    )


def _committed_entries_agree(d: SymbolicDomain, s: StateView) -> BoolRef:
    return _all(
        d,
        (TERM, INDEX, TERM, INDEX, INDEX, TERM, TERM),
        lambda t, q, u, r, k, y, z: Implies(
            And(
                s.holds("committed", t, q),
                s.holds("committed", u, r),
                d.index_le(k, q),
                d.index_le(k, r),
                s.holds("term_entry", t, k, y),
                s.holds("term_entry", u, k, z),
            ),
            y == z,
        ),
    )


def _election_safety(d: SymbolicDomain, s: StateView) -> BoolRef:
    return _all(
        d,
        (NODE, NODE, TERM),
        lambda a, b, t: Implies(And(s.holds("elected", a, t), s.holds("elected", b, t)), a == b),
    )


ELECTION_SAFETY = SafetyProperty(
    name="election safety",
    text="At most one leader is elected in a term (paper Figure 3).",
    layers=("election",),
    parts=(_election_safety,),
)
LOG_MATCHING = SafetyProperty(
    name="log matching",
    text="Two logs with an entry of the same index and term are equal up to it (paper Figure 3).",
    layers=("election", "log"),
    parts=(_log_matching,),
)
LEADER_COMPLETENESS = SafetyProperty(
    name="leader completeness",
    text="An entry committed in term T (at or below an index the leader of T committed) is in the log of every leader of a later term (paper Figure 3).",
    layers=LAYERS,
    parts=(_leader_completeness,),
)
STATE_MACHINE_SAFETY = SafetyProperty(
    name="state machine safety",
    text=(
        "Any two nodes' logs agree up to both their commit indexes, and any two commits agree on "
        "every index both cover; since a commit is never undone, no two nodes ever apply different "
        "entries at one index (paper Figure 3)."
    ),
    layers=LAYERS,
    parts=(_applied_prefixes_agree, _committed_entries_agree),
)
PROPERTIES = (ELECTION_SAFETY, LOG_MATCHING, LEADER_COMPLETENESS, STATE_MACHINE_SAFETY)


def layer_invariants(layer: str) -> tuple[Invariant, ...]:
    """The invariants of one layer."""
    return tuple(inv for inv in INVARIANTS if inv.layer == layer)
