"""The decidable vocabulary of the unbounded Raft proofs: sorts, orders, quorums, domains.

Nodes, quorums, terms and log indexes are uninterpreted sorts, so a proof holds for every
number of nodes, terms and entries. Terms and indexes are totally ordered by relations with a
least element (``term_zero``: no term yet; ``index_zero``: the empty prefix), as in the Ivy and
mypyvy Raft models; a quorum is a set of nodes (``member``) and any two quorums share a node.
Every state component is a relation or a function from an earlier to a later sort in the
order term, index, quorum, node: the only quantifier alternations (the quorum axiom,
and "some quorum of the nodes ... " in invariant hypotheses) go from quorums, terms and
indexes to nodes. With no cycle among the sorts, every query is in the effectively
propositional fragment (EPR), which z3 decides: no check can answer ``unknown`` for
incompleteness, only for a timeout.

A :class:`Domain` gives the relations of :mod:`proofs.raft.node_relations` their quantifiers
and orders. The proofs use :class:`SymbolicDomain` (the sorts above); the tie to ``impl.raft``
uses a concrete domain whose nodes, terms and indexes are integers and whose quantifiers range
over the finitely many values a concrete step involves (``proofs/raft/safety_tie.py``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Protocol, final

from proofs.z3adapter import (
    And,
    BoolRef,
    BoolSort,
    BoolVal,
    Const,
    DeclareSort,
    Exists,
    ExprRef,
    ForAll,
    Function,
    If,
    Implies,
    Not,
    Or,
    SortRef,
)

NODE = DeclareSort("Node")
QUORUM = DeclareSort("Quorum")
TERM = DeclareSort("Term")
INDEX = DeclareSort("Index")

TERM_LE = Function("term_le", TERM, TERM, BoolSort())
INDEX_LE = Function("index_le", INDEX, INDEX, BoolSort())
MEMBER = Function("member", NODE, QUORUM, BoolSort())
TERM_ZERO = Const("term_zero", TERM)
INDEX_ZERO = Const("index_zero", INDEX)

Formula = BoolRef | bool
"""A truth value: a z3 formula (proofs) or a Python bool (concrete steps)."""
Value = ExprRef | int
"""A node, term or index: a z3 term (proofs) or a Python int (concrete steps)."""
Body = Callable[[Value], Formula]
Member = Callable[[Value], Formula]


class Domain(Protocol):
    """Connectives, orders, zeros and quantifiers over nodes, terms, indexes and quorums."""

    @property
    def term_zero(self) -> Value: ...

    @property
    def index_zero(self) -> Value: ...

    def term_le(self, a: Value, b: Value) -> Formula: ...

    def index_le(self, a: Value, b: Value) -> Formula: ...

    def eq(self, a: Value, b: Value) -> Formula: ...

    def truth(self, value: bool) -> Formula: ...

    def and_(self, *parts: Formula) -> Formula: ...

    def or_(self, *parts: Formula) -> Formula: ...

    def not_(self, part: Formula) -> Formula: ...

    def implies(self, a: Formula, b: Formula) -> Formula: ...

    def iff(self, a: Formula, b: Formula) -> Formula: ...

    def ite(self, condition: Formula, then: Value, otherwise: Value) -> Value: ...

    def all_nodes(self, body: Body) -> Formula: ...

    def all_terms(self, body: Body) -> Formula: ...

    def all_indexes(self, body: Body) -> Formula: ...

    def some_quorum(self, body: Callable[[Member], Formula]) -> Formula:
        """Some quorum Q satisfies ``body(member of Q)``."""
        ...


def term_lt(domain: Domain, a: Value, b: Value) -> Formula:
    """``a < b`` in the term order."""
    return domain.and_(domain.term_le(a, b), domain.not_(domain.term_le(b, a)))


def index_lt(domain: Domain, a: Value, b: Value) -> Formula:
    """``a < b`` in the index order."""
    return domain.and_(domain.index_le(a, b), domain.not_(domain.index_le(b, a)))


def in_segment(domain: Domain, index: Value, after: Value, upto: Value) -> Formula:
    """``after < index <= upto``."""
    return domain.and_(index_lt(domain, after, index), domain.index_le(index, upto))


def _expr(value: Value) -> ExprRef:
    assert isinstance(value, ExprRef), value
    return value


@final
class SymbolicDomain:
    """The uninterpreted sorts; every quantifier binds a fresh constant."""

    def __init__(self) -> None:
        self._numbers = itertools.count()

    @property
    def term_zero(self) -> ExprRef:
        return TERM_ZERO

    @property
    def index_zero(self) -> ExprRef:
        return INDEX_ZERO

    def term_le(self, a: Value, b: Value) -> BoolRef:
        return _apply(TERM_LE, _expr(a), _expr(b))

    def index_le(self, a: Value, b: Value) -> BoolRef:
        return _apply(INDEX_LE, _expr(a), _expr(b))

    def eq(self, a: Value, b: Value) -> BoolRef:
        return _expr(a) == _expr(b)

    def truth(self, value: bool) -> BoolRef:
        return BoolVal(value)

    def and_(self, *parts: Formula) -> BoolRef:
        return And(*parts)

    def or_(self, *parts: Formula) -> BoolRef:
        return Or(*parts)

    def not_(self, part: Formula) -> BoolRef:
        return Not(part)

    def implies(self, a: Formula, b: Formula) -> BoolRef:
        return Implies(a, b)

    def iff(self, a: Formula, b: Formula) -> BoolRef:
        return BoolVal(a) == b if isinstance(a, bool) else a == b

    def ite(self, condition: Formula, then: Value, otherwise: Value) -> ExprRef:
        return If(condition, _expr(then), _expr(otherwise))

    def fresh(self, sort: SortRef, hint: str) -> ExprRef:
        """A constant no other formula of this domain uses (for binding)."""
        return Const(f"{hint}!{next(self._numbers)}", sort)

    def _forall(self, sort: SortRef, hint: str, body: Body) -> BoolRef:
        variable = self.fresh(sort, hint)
        return ForAll([variable], body(variable))

    def all_nodes(self, body: Body) -> BoolRef:
        return self._forall(NODE, "N", body)

    def all_terms(self, body: Body) -> BoolRef:
        return self._forall(TERM, "T", body)

    def all_indexes(self, body: Body) -> BoolRef:
        return self._forall(INDEX, "I", body)

    def some_quorum(self, body: Callable[[Member], Formula]) -> BoolRef:
        quorum = self.fresh(QUORUM, "Q")
        return Exists([quorum], body(lambda node: _apply(MEMBER, _expr(node), quorum)))


def _apply(relation: object, *args: ExprRef) -> BoolRef:
    from proofs.z3adapter import FuncDeclRef

    assert isinstance(relation, FuncDeclRef)
    value = relation(*args)
    assert isinstance(value, BoolRef)
    return value


def quorum_members(quorum: ExprRef) -> Callable[[Value], BoolRef]:
    """Membership in a given quorum (a constant or a function value of sort Quorum)."""
    return lambda node: _apply(MEMBER, _expr(node), quorum)


def order_axioms() -> list[BoolRef]:
    """Terms and indexes are total orders with least elements ``term_zero``/``index_zero``."""
    axioms: list[BoolRef] = []
    for sort, relation, zero in ((TERM, TERM_LE, TERM_ZERO), (INDEX, INDEX_LE, INDEX_ZERO)):
        a, b, c = (Const(f"{sort.name()}_{name}", sort) for name in "abc")

        def le(x: ExprRef, y: ExprRef, relation: object = relation) -> BoolRef:
            return _apply(relation, x, y)

        axioms += [
            ForAll([a], le(a, a)),
            ForAll([a, b, c], Implies(And(le(a, b), le(b, c)), le(a, c))),
            ForAll([a, b], Implies(And(le(a, b), le(b, a)), a == b)),
            ForAll([a, b], Or(le(a, b), le(b, a))),
            ForAll([a], le(zero, a)),
        ]
    return axioms


def quorum_axiom() -> BoolRef:
    """Any two quorums share a node (majorities of one configuration do: ``raft.quorum.*``)."""
    first, second = Const("Q_first", QUORUM), Const("Q_second", QUORUM)
    node = Const("N_shared", NODE)
    return ForAll(
        [first, second],
        Exists([node], And(_apply(MEMBER, node, first), _apply(MEMBER, node, second))),
    )


def axioms() -> list[BoolRef]:
    """Everything the symbolic proofs assume about the sorts."""
    return [*order_axioms(), quorum_axiom()]
