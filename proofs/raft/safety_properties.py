"""Raft's safety properties over the unbounded model, and every invariant by layer.

Each property is checked as an implication of the invariants of its layers (which are
inductive: :mod:`proofs.raft.safety_check`). A property may have several parts, each checked
alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import final

import msgspec

from proofs.raft.commit_invariants import COMMIT
from proofs.raft.epr import INDEX, NODE, TERM, SymbolicDomain, term_lt
from proofs.raft.safety_invariants import ELECTION, LAYERS, LOG, Invariant, View, forall
from proofs.raft.safety_state import Relations
from proofs.z3adapter import And, BoolRef, Implies

INVARIANTS: tuple[Invariant, ...] = (*ELECTION, *LOG, *COMMIT)
Part = Callable[[SymbolicDomain, Relations], BoolRef]


@final
class SafetyProperty(msgspec.Struct, frozen=True, kw_only=True):
    """A property the invariants imply: its parts and the layers whose invariants imply it."""

    name: str
    text: str
    layers: tuple[str, ...]
    parts: tuple[Part, ...]


def _election_safety(d: SymbolicDomain, s: Relations) -> BoolRef:
    return forall(
        d,
        (NODE, NODE, TERM),
        lambda a, b, t: Implies(And(s.elected(a, t), s.elected(b, t)), a == b),
    )


def _log_matching(d: SymbolicDomain, s: Relations) -> BoolRef:
    return forall(
        d,
        (NODE, NODE, INDEX, TERM),
        lambda a, b, i, t: Implies(
            And(s.entry(a, i, t), s.entry(b, i, t)),
            View(d, s).agree(View(d, s).node_log(a), View(d, s).node_log(b), i),
        ),
    )


def _leader_completeness(d: SymbolicDomain, s: Relations) -> BoolRef:
    return forall(
        d,
        (TERM, INDEX, INDEX, TERM, NODE, TERM),
        lambda c, q, i, y, n, u: Implies(
            And(
                s.committed(c, q),
                d.index_le(i, q),
                i != d.index_zero,
                s.term_entry(c, i, y),
                s.leader(n),
                s.current_term(n, u),
                term_lt(d, c, u),
            ),
            s.entry(n, i, y),
        ),
    )


def _applied_prefixes_agree(d: SymbolicDomain, s: Relations) -> BoolRef:
    sorts = (NODE, NODE, INDEX, INDEX, TERM, TERM, TERM, TERM, INDEX, INDEX, INDEX)
    return forall(
        d,
        sorts,
        lambda a, b, i, j, y, z, t, u, q, r, k: Implies(
            And(
                s.commit(a, i, t, q),
                s.commit(b, j, u, r),
                d.index_le(k, i),
                d.index_le(k, j),
                s.entry(a, k, y),
                s.entry(b, k, z),
            ),
            y == z,
        ),
    )


def _committed_entries_agree(d: SymbolicDomain, s: Relations) -> BoolRef:
    return forall(
        d,
        (TERM, INDEX, TERM, INDEX, INDEX, TERM, TERM),
        lambda t, q, u, r, k, y, z: Implies(
            And(
                s.committed(t, q),
                s.committed(u, r),
                d.index_le(k, q),
                d.index_le(k, r),
                s.term_entry(t, k, y),
                s.term_entry(u, k, z),
            ),
            y == z,
        ),
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
    text=(
        "An entry committed in term T (at or below an index the leader of T committed) is in "
        "the log of every leader of a later term (paper Figure 3)."
    ),
    layers=LAYERS,
    parts=(_leader_completeness,),
)
STATE_MACHINE_SAFETY = SafetyProperty(
    name="state machine safety",
    text=(
        "Any two nodes' logs agree up to both their commit indexes, and any two commits agree on "
        "every index both cover; since a commit is never undone, no two nodes ever apply "
        "different entries at one index (paper Figure 3)."
    ),
    layers=LAYERS,
    parts=(_applied_prefixes_agree, _committed_entries_agree),
)
