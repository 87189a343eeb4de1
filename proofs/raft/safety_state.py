"""The state of the unbounded Raft model: every node's fields, the ghost history, as relations.

One :class:`SafetyState` is a copy of every relation (``pre`` and ``post`` in a transition).
Node fields (what ``impl.raft`` holds): ``current_term(N, T)`` and ``left(N, T)`` (T is below
N's term), ``leader(N)``, ``candidate(N)``, ``voted_for(N, C)``, ``entry(N, I, T)`` and
``used(N, I)`` (the log), ``granted(N, J)`` (a candidate's recorded grants), ``match(N, J, I)``
(a leader's match index for J reaches I), and ``commit(N, I, Tc, Q)``: N's commit index is I,
justified by the commit that the leader of term Tc made at index Q (the justification is ghost).

Ghost history, as in the Ivy/mypyvy Raft (Taube et al., PLDI 2018): ``votes(N, T, C)`` (N
granted C its vote for T: the MsgVoteResp exist), ``request(C, T, I, T')`` (C's MsgVote for T
carried last index I and last term T'), ``elected(C, T)``, ``started(T)``, ``leader_of(T)``,
``voting_quorum(T)``, the term logs ``term_entry(T, I, T')``/``term_used(T, I)`` (the log of
term T's leader, which only grows: every MsgApp of term T carries a piece of it),
``acked(N, T, I)`` (N accepted term T's log up to I: the MsgAppResp exist), the commits
``committed(T, I)`` (the leader of T committed I by counting a quorum, ``commit_quorum(T, I)``)
and ``leader_commit(T, I, Tc, Q)`` (the leader of T had commit index I justified by (Tc, Q):
a MsgApp or MsgHeartbeat of term T may carry I).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import final

from proofs.raft.epr import INDEX, NODE, QUORUM, TERM, Value
from proofs.z3adapter import BoolRef, BoolSort, ExprRef, FuncDeclRef, Function, If, SortRef

NODE_RELATIONS: dict[str, tuple[SortRef, ...]] = {
    "current_term": (NODE, TERM),
    "left": (NODE, TERM),
    "leader": (NODE,),
    "candidate": (NODE,),
    "voted_for": (NODE, NODE),
    "entry": (NODE, INDEX, TERM),
    "used": (NODE, INDEX),
    "granted": (NODE, NODE),
    "match": (NODE, NODE, INDEX),
    "commit": (NODE, INDEX, TERM, INDEX),
}
"""Relations whose first argument is the node that holds them."""

GHOST_RELATIONS: dict[str, tuple[SortRef, ...]] = {
    "votes": (NODE, TERM, NODE),
    "request": (NODE, TERM, INDEX, TERM),
    "elected": (NODE, TERM),
    "started": (TERM,),
    "term_entry": (TERM, INDEX, TERM),
    "term_used": (TERM, INDEX),
    "acked": (NODE, TERM, INDEX),
    "committed": (TERM, INDEX),
    "leader_commit": (TERM, INDEX, TERM, INDEX),
}

GHOST_FUNCTIONS: dict[str, tuple[tuple[SortRef, ...], SortRef]] = {
    "voting_quorum": ((TERM,), QUORUM),
    "commit_quorum": ((TERM, INDEX), QUORUM),
    "leader_of": ((TERM,), NODE),
}

RELATIONS = {**NODE_RELATIONS, **GHOST_RELATIONS}


class Relations(ABC):
    """A state's relations and functions, by name and through named accessors."""

    @abstractmethod
    def holds(self, name: str, *args: ExprRef) -> BoolRef:
        """The relation ``name`` at ``args``."""

    @abstractmethod
    def value(self, name: str, *args: ExprRef) -> ExprRef:
        """The function ``name`` at ``args``."""

    def fields(self, node: ExprRef) -> SymbolicFields:
        """Node ``node``'s fields in this state."""
        return SymbolicFields(self, node)

    def current_term(self, n: ExprRef, t: ExprRef) -> BoolRef:
        return self.holds("current_term", n, t)

    def left(self, n: ExprRef, t: ExprRef) -> BoolRef:
        return self.holds("left", n, t)

    def leader(self, n: ExprRef) -> BoolRef:
        return self.holds("leader", n)

    def candidate(self, n: ExprRef) -> BoolRef:
        return self.holds("candidate", n)

    def voted_for(self, n: ExprRef, c: ExprRef) -> BoolRef:
        return self.holds("voted_for", n, c)

    def entry(self, n: ExprRef, i: ExprRef, t: ExprRef) -> BoolRef:
        return self.holds("entry", n, i, t)

    def used(self, n: ExprRef, i: ExprRef) -> BoolRef:
        return self.holds("used", n, i)

    def granted(self, n: ExprRef, j: ExprRef) -> BoolRef:
        return self.holds("granted", n, j)

    def match(self, n: ExprRef, j: ExprRef, i: ExprRef) -> BoolRef:
        return self.holds("match", n, j, i)

    def commit(self, n: ExprRef, i: ExprRef, t: ExprRef, q: ExprRef) -> BoolRef:
        return self.holds("commit", n, i, t, q)

    def votes(self, n: ExprRef, t: ExprRef, c: ExprRef) -> BoolRef:
        return self.holds("votes", n, t, c)

    def request(self, c: ExprRef, t: ExprRef, i: ExprRef, y: ExprRef) -> BoolRef:
        return self.holds("request", c, t, i, y)

    def elected(self, n: ExprRef, t: ExprRef) -> BoolRef:
        return self.holds("elected", n, t)

    def started(self, t: ExprRef) -> BoolRef:
        return self.holds("started", t)

    def term_entry(self, u: ExprRef, i: ExprRef, t: ExprRef) -> BoolRef:
        return self.holds("term_entry", u, i, t)

    def term_used(self, u: ExprRef, i: ExprRef) -> BoolRef:
        return self.holds("term_used", u, i)

    def acked(self, n: ExprRef, t: ExprRef, i: ExprRef) -> BoolRef:
        return self.holds("acked", n, t, i)

    def committed(self, t: ExprRef, i: ExprRef) -> BoolRef:
        return self.holds("committed", t, i)

    def leader_commit(self, u: ExprRef, i: ExprRef, t: ExprRef, q: ExprRef) -> BoolRef:
        return self.holds("leader_commit", u, i, t, q)

    def voting_quorum(self, t: ExprRef) -> ExprRef:
        return self.value("voting_quorum", t)

    def commit_quorum(self, t: ExprRef, i: ExprRef) -> ExprRef:
        return self.value("commit_quorum", t, i)

    def leader_of(self, t: ExprRef) -> ExprRef:
        return self.value("leader_of", t)


@final
class SafetyState(Relations):
    """One copy of every relation and function, named ``<prefix>.<name>``."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.symbols: dict[str, FuncDeclRef] = {
            name: Function(f"{prefix}.{name}", *sorts, BoolSort())
            for name, sorts in RELATIONS.items()
        }
        for name, (arguments, result) in GHOST_FUNCTIONS.items():
            self.symbols[name] = Function(f"{prefix}.{name}", *arguments, result)

    def holds(self, name: str, *args: ExprRef) -> BoolRef:
        """The relation ``name`` at ``args``."""
        value = self.symbols[name](*args)
        assert isinstance(value, BoolRef), name
        return value

    def value(self, name: str, *args: ExprRef) -> ExprRef:
        """The function ``name`` at ``args``."""
        return self.symbols[name](*args)


@final
class SymbolicFields:
    """:class:`~proofs.raft.node_relations.NodeFields` of one node of a symbolic state."""

    def __init__(self, state: Relations, node: ExprRef) -> None:
        self._state = state
        self._node = node

    def _holds(self, name: str, *args: Value) -> BoolRef:
        return self._state.holds(name, self._node, *(_expr(arg) for arg in args))

    def term_is(self, term: Value) -> BoolRef:
        return self._holds("current_term", term)

    def left(self, term: Value) -> BoolRef:
        return self._holds("left", term)

    @property
    def leader(self) -> BoolRef:
        return self._holds("leader")

    @property
    def candidate(self) -> BoolRef:
        return self._holds("candidate")

    def voted_for(self, node: Value) -> BoolRef:
        return self._holds("voted_for", node)

    def entry(self, index: Value, term: Value) -> BoolRef:
        return self._holds("entry", index, term)

    def used(self, index: Value) -> BoolRef:
        return self._holds("used", index)

    def granted(self, node: Value) -> BoolRef:
        return self._holds("granted", node)

    def match(self, node: Value, index: Value) -> BoolRef:
        return self._holds("match", node, index)


def _expr(value: Value) -> ExprRef:
    assert isinstance(value, ExprRef), value
    return value


Override = Callable[..., ExprRef]


@final
class PostState(Relations):
    """The state after one node's step, defined from the state before.

    The acting node's rows of the node relations are fresh functions (which the step's node
    relation constrains); every other node's rows are the pre-state's. A ghost relation or
    function is the pre-state's unless the step overrides it with a definition. Defining the
    post-state this way, rather than by fresh symbols and frame conditions, leaves z3 fewer
    quantifiers to instantiate.
    """

    def __init__(self, pre: Relations, actor: ExprRef, prefix: str) -> None:
        self.pre = pre
        self.actor = actor
        self.prefix = prefix
        self.rows: dict[str, FuncDeclRef] = {
            name: Function(f"{prefix}.{name}", *sorts[1:], BoolSort())
            for name, sorts in NODE_RELATIONS.items()
        }
        self.overrides: dict[str, Override] = {}

    def override(self, name: str, definition: Override) -> None:
        """Define relation or function ``name`` (for a node relation: the actor's row)."""
        self.overrides[name] = definition

    def _row(self, name: str, *args: ExprRef) -> BoolRef:
        value = self.overrides[name](*args) if name in self.overrides else self.rows[name](*args)
        assert isinstance(value, BoolRef), name
        return value

    def holds(self, name: str, *args: ExprRef) -> BoolRef:
        if name in NODE_RELATIONS:
            node, rest = args[0], args[1:]
            if node.eq(self.actor):
                return self._row(name, *rest)
            return If(node == self.actor, self._row(name, *rest), self.pre.holds(name, *args))
        if name in self.overrides:
            value = self.overrides[name](*args)
            assert isinstance(value, BoolRef), name
            return value
        return self.pre.holds(name, *args)

    def value(self, name: str, *args: ExprRef) -> ExprRef:
        if name in self.overrides:
            return self.overrides[name](*args)
        return self.pre.value(name, *args)
