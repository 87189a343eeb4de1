"""The ``commit`` layer of invariants: acknowledgements, commits, commit indexes.

"T1 is choosable at I" means: some quorum's members each acknowledged term T1's log up to I or
are still at term T1 or below, so that a commit of I in T1 may still happen (Ivy/mypyvy
``choosable``). What is choosable reaches every later leader; commits are choosable; every
node's log agrees with a committed term log up to its commit index.
"""

from __future__ import annotations

from proofs.raft.epr import INDEX, NODE, TERM, Value, quorum_members
from proofs.raft.safety_invariants import Invariant, View, invariant
from proofs.z3adapter import And, BoolRef, ExprRef, Implies, Not, Or

C = "commit"


def _expr(value: Value) -> ExprRef:
    assert isinstance(value, ExprRef), value
    return value


def choosable(v: View, term: ExprRef, index: ExprRef) -> BoolRef:
    """Some quorum: each member acknowledged ``term``'s log up to ``index`` or has not left
    ``term``."""

    def member_ok(n: Value) -> BoolRef:
        node = _expr(n)
        return Or(v.acked(node, term, index), Not(v.left(node, term)))

    formula = v.d.some_quorum(
        lambda member: v.d.all_nodes(lambda n: Implies(member(n), member_ok(n)))
    )
    assert isinstance(formula, BoolRef)
    return formula


def _choosable_entry(v: View, t: ExprRef, i: ExprRef) -> BoolRef:
    """(I, T) is an entry of term T's own log, and T is choosable at I."""
    return And(v.term_entry(t, i, t), choosable(v, t, i))


ACKNOWLEDGEMENTS: tuple[Invariant, ...] = (
    invariant(
        "index 0 is acknowledged",
        C,
        "Every node acknowledges the empty prefix of every term.",
        (NODE, TERM),
        lambda v, n, t: v.acked(n, t, v.index_zero),
    ),
    invariant(
        "acknowledgements are prefixes",
        C,
        "Acknowledging term T's log up to I acknowledges it up to every J <= I.",
        (NODE, TERM, INDEX, INDEX),
        lambda v, n, t, i, j: Implies(And(v.acked(n, t, i), v.index_le(j, i)), v.acked(n, t, j)),
    ),
    invariant(
        "acknowledged entries are in the term log",
        C,
        "An acknowledged index is in T's log.",
        (NODE, TERM, INDEX),
        lambda v, n, t, i: Implies(And(v.acked(n, t, i), i != v.index_zero), v.term_used(t, i)),
    ),
    invariant(
        "no acknowledgement in a future term",
        C,
        "A node acknowledges only in its current term or earlier ones.",
        (NODE, TERM, INDEX, TERM),
        lambda v, n, t, i, a: Implies(
            And(v.acked(n, t, i), i != v.index_zero, v.current_term(n, a)), v.term_le(t, a)
        ),
    ),
    invariant(
        "an acknowledged prefix stays while the term lasts",
        C,
        "A node still in term T holds T's log up to what it acknowledged in T.",
        (NODE, TERM, INDEX),
        lambda v, n, t, i: Implies(
            And(v.acked(n, t, i), v.current_term(n, t)), v.agree(v.node_log(n), v.term_log(t), i)
        ),
    ),
    invariant(
        "a leader acknowledges its own log",
        C,
        "A leader's own log counts as acknowledged.",
        (NODE, TERM, INDEX),
        lambda v, n, t, i: Implies(
            And(v.leader(n), v.current_term(n, t), v.used(n, i)), v.acked(n, t, i)
        ),
    ),
    invariant(
        "match indexes are acknowledged",
        C,
        "A leader's match index for J is an index J acknowledged in the leader's term.",
        (NODE, TERM, NODE, INDEX),
        lambda v, n, t, j, i: Implies(
            And(v.leader(n), v.current_term(n, t), v.match(n, j, i)), v.acked(j, t, i)
        ),
    ),
)

CHOOSABLE: tuple[Invariant, ...] = (
    invariant(
        "commits are counted on a quorum, in the leader's term",
        C,
        "A commit of I by the leader of T is of an entry of term T that every member of its "
        "quorum acknowledged (paper section 5.4.2).",
        (TERM, INDEX, NODE),
        lambda v, t, i, n: Implies(
            And(v.committed(t, i), i != v.index_zero),
            And(
                v.term_entry(t, i, t),
                Implies(quorum_members(v.commit_quorum(t, i))(n), v.acked(n, t, i)),
            ),
        ),
    ),
    invariant(
        "choosable entries stay with who acknowledged them",
        C,
        "If T1 is choosable at I, whoever acknowledged (I, T1) in T1 still holds it.",
        (TERM, INDEX, NODE),
        lambda v, t, i, n: Implies(
            And(_choosable_entry(v, t, i), v.acked(n, t, i)), v.entry(n, i, t)
        ),
    ),
    invariant(
        "choosable entries reach the candidates voted for",
        C,
        "If T1 is choosable at I, a candidate of a later term without a leader yet, voted for by "
        "a node that acknowledged (I, T1), holds it.",
        (TERM, INDEX, NODE, TERM, NODE),
        lambda v, t, i, n, u, c: Implies(
            And(
                _choosable_entry(v, t, i),
                v.acked(n, t, i),
                v.votes(n, u, c),
                v.term_lt(t, u),
                Not(v.started(u)),
                v.current_term(c, u),
            ),
            v.entry(c, i, t),
        ),
    ),
    invariant(
        "every committed entry is in every later leader's log",
        C,
        "If T1 is choosable at I, the log of every started later term holds (I, T1) "
        "(Ivy/mypyvy choosable_future_term_log).",
        (TERM, INDEX, TERM),
        lambda v, t, i, u: Implies(
            And(_choosable_entry(v, t, i), v.started(u), v.term_lt(t, u)),
            v.term_entry(u, i, t),
        ),
    ),
)

COMMIT_INDEXES: tuple[Invariant, ...] = (
    invariant(
        "one commit index",
        C,
        "A node has one commit index and justification.",
        (NODE, INDEX, TERM, INDEX, INDEX, TERM, INDEX),
        lambda v, n, i, t, q, j, u, r: Implies(
            And(v.commit(n, i, t, q), v.commit(n, j, u, r)), And(i == j, t == u, q == r)
        ),
    ),
    invariant(
        "commit indexes are justified by commits",
        C,
        "A node's commit index is at most a commit made by the leader of a term no later than "
        "the node'v.",
        (NODE, INDEX, TERM, INDEX, TERM),
        lambda v, n, i, t, q, a: Implies(
            v.commit(n, i, t, q),
            And(
                v.committed(t, q),
                v.index_le(i, q),
                Implies(v.current_term(n, a), v.term_le(t, a)),
            ),
        ),
    ),
    invariant(
        "a node's log reaches its commit index",
        C,
        "The commit index is within the log.",
        (NODE, INDEX, TERM, INDEX),
        lambda v, n, i, t, q: Implies(And(v.commit(n, i, t, q), i != v.index_zero), v.used(n, i)),
    ),
    invariant(
        "committed prefixes are committed term logs",
        C,
        "A node's log up to its commit index is the justifying term's log.",
        (NODE, INDEX, TERM, INDEX),
        lambda v, n, i, t, q: Implies(
            v.commit(n, i, t, q), v.agree(v.node_log(n), v.term_log(t), i)
        ),
    ),
    invariant(
        "leader commit indexes are justified",
        C,
        "A commit index the leader of U had is justified by a commit of a term no later than U.",
        (TERM, INDEX, TERM, INDEX),
        lambda v, u, i, t, q: Implies(
            v.leader_commit(u, i, t, q),
            And(
                v.committed(t, q),
                v.index_le(i, q),
                v.term_le(t, u),
                Or(i == v.index_zero, v.term_used(u, i)),
            ),
        ),
    ),
    invariant(
        "leader commit indexes cover their term logs",
        C,
        "Term U's log up to a commit index its leader had is the justifying term's log.",
        (TERM, INDEX, TERM, INDEX),
        lambda v, u, i, t, q: Implies(
            v.leader_commit(u, i, t, q), v.agree(v.term_log(u), v.term_log(t), i)
        ),
    ),
    invariant(
        "a leader's commit index is recorded",
        C,
        "A leader's current commit index is one its term's MsgApps may carry.",
        (NODE, TERM, INDEX, TERM, INDEX),
        lambda v, n, u, i, t, q: Implies(
            And(v.leader(n), v.current_term(n, u), v.commit(n, i, t, q)),
            v.leader_commit(u, i, t, q),
        ),
    ),
)

COMMIT: tuple[Invariant, ...] = (*ACKNOWLEDGEMENTS, *CHOOSABLE, *COMMIT_INDEXES)
