"""A counterexample to induction of the unbounded model, for people.

z3's model has finitely many nodes, terms and indexes; terms and indexes are printed by their
rank in the order (``T0`` is term 0, ``I0`` index 0), nodes as ``n1``, ``n2``... For each state:
every node's term, role, vote, log and commit index, and the log of every started term.
"""

from __future__ import annotations

from proofs.raft.epr import INDEX, INDEX_LE, NODE, TERM, TERM_LE
from proofs.raft.safety_state import Relations
from proofs.z3adapter import ExprRef, FuncDeclRef, ModelRef, SortRef, is_true

MAX_NODES = 6
"""Nodes printed per state (z3 may invent many that play no part)."""


def _universe(model: ModelRef, sort: SortRef) -> list[ExprRef]:
    found = model.get_universe(sort)
    return list(found) if found is not None else []


def _ranked(model: ModelRef, sort: SortRef, order: FuncDeclRef, label: str) -> dict[str, str]:
    elements = _universe(model, sort)

    def rank(element: ExprRef) -> int:
        return sum(
            1
            for other in elements
            if is_true(model.eval(order(other, element), model_completion=True))
        )

    ordered = sorted(elements, key=rank)
    return {str(element): f"{label}{number}" for number, element in enumerate(ordered)}


def _holds(model: ModelRef, state: Relations, name: str, *args: ExprRef) -> bool:
    return is_true(model.eval(state.holds(name, *args), model_completion=True))


def describe_cti(
    model: ModelRef, pre: Relations, post: Relations | None
) -> tuple[tuple[str, str], ...]:
    """``(label, text)`` pairs: each state's nodes and started term logs."""
    names = {
        **_ranked(model, TERM, TERM_LE, "T"),
        **_ranked(model, INDEX, INDEX_LE, "I"),
    }
    nodes = _universe(model, NODE)[:MAX_NODES]
    names.update({str(node): f"n{number}" for number, node in enumerate(nodes, 1)})
    terms = sorted(_universe(model, TERM), key=lambda t: names[str(t)])
    indexes = sorted(_universe(model, INDEX), key=lambda i: int(names[str(i)][1:]))

    def name(element: ExprRef) -> str:
        return names.get(str(model.eval(element, model_completion=True)), "?")

    def log(entries: list[tuple[ExprRef, ExprRef]]) -> str:
        return "[" + " ".join(f"{name(i)}:{name(t)}" for i, t in entries) + "]"

    pairs: list[tuple[str, str]] = []
    for label, state in (("before", pre), ("after", post)):
        if state is None:
            continue
        for node in nodes:
            current = [name(t) for t in terms if _holds(model, state, "current_term", node, t)]
            role = (
                "leader"
                if _holds(model, state, "leader", node)
                else ("candidate" if _holds(model, state, "candidate", node) else "follower")
            )
            vote = [name(c) for c in nodes if _holds(model, state, "voted_for", node, c)]
            entries = [
                (i, t) for i in indexes for t in terms if _holds(model, state, "entry", node, i, t)
            ]
            commit = [
                name(i)
                for i in indexes
                for t in terms
                for q in indexes
                if _holds(model, state, "commit", node, i, t, q)
            ]
            pairs.append(
                (
                    f"{label} {name(node)}",
                    f"{role} term {','.join(current) or '-'} vote {','.join(vote) or '-'} "
                    f"log {log(entries)} commit {','.join(sorted(set(commit))) or '-'}",
                )
            )
        for term in terms:
            if _holds(model, state, "started", term):
                entries = [
                    (i, t)
                    for i in indexes
                    for t in terms
                    if _holds(model, state, "term_entry", term, i, t)
                ]
                pairs.append((f"{label} log of term {name(term)}", log(entries)))
    return tuple(pairs)
