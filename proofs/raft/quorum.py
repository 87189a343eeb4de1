"""Quorum intersection for every configuration size: one configuration, single-server changes,
joint consensus.

etcd raft's quorum is a majority: a vote or a commit needs ``len(voters) // 2 + 1`` members
(``quorum/majority.go``), that is ``2 * count > size``. In a joint configuration (ConfChangeV2)
a decision needs a majority of the incoming AND of the outgoing voters (``quorum/joint.go``).

Sets are counted, not enumerated (a Venn diagram): for the sets a claim mentions (say C, C',
Q1, Q2) every combination of memberships gets a non-negative integer, the number of nodes in
exactly those sets, and a set's size is the sum over the combinations it belongs to. The claims
are then linear integer arithmetic, which z3 decides, for every size at once: there is no
bound on the number of nodes. A counterexample's counts are turned back into concrete sets
(node ids numbered region by region).

Consecutive configurations (paper section 6, Ongaro thesis section 4): a single-server change
adds or removes one voter, so any majority of the old configuration meets any majority of the
new one; joint consensus goes C_old -> C_old,new -> C_new, and a joint quorum meets every
majority of C_old, every majority of C_new and every other joint quorum.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import final

import msgspec

from proofs.catalog import Mutant, ProofCase
from proofs.z3adapter import (
    And,
    ArithRef,
    BoolRef,
    Int,
    IntVal,
    ModelRef,
    Proved,
    Sum,
    Verdict,
    check_valid,
    model_int,
)

QuorumRule = Callable[[ArithRef, ArithRef], BoolRef]


def majority(count: ArithRef, size: ArithRef) -> BoolRef:
    """etcd's rule: ``count >= size // 2 + 1``, i.e. strictly more than half."""
    return 2 * count > size


def minority_mutant(count: ArithRef, size: ArithRef) -> BoolRef:
    """Mutant: floor(n/2) members are taken as a quorum."""
    return 2 * count >= size - size % 2


@final
class Venn(msgspec.Struct, frozen=True, kw_only=True):
    """A count of nodes for each combination of memberships in ``names`` (subsets enforced
    by leaving out the impossible combinations)."""

    names: tuple[str, ...]
    regions: tuple[tuple[tuple[bool, ...], ArithRef], ...]

    def size(self, *required: str, excluded: Sequence[str] = ()) -> ArithRef:
        """How many nodes are in every set of ``required`` and in none of ``excluded``."""
        positions = [self.names.index(name) for name in required]
        outside = [self.names.index(name) for name in excluded]
        counts = [
            count
            for bits, count in self.regions
            if all(bits[p] for p in positions) and not any(bits[p] for p in outside)
        ]
        return Sum(counts) if counts else IntVal(0)

    def nonnegative(self) -> BoolRef:
        return And([count >= 0 for _, count in self.regions])

    def sets(self, model: ModelRef) -> dict[str, set[int]]:
        """Concrete sets with the model's counts (node ids numbered region by region)."""
        found: dict[str, set[int]] = {name: set() for name in self.names}
        ids = itertools.count(1)
        for bits, count in self.regions:
            for _ in range(model_int(model, count)):
                node = next(ids)
                for name, inside in zip(self.names, bits, strict=True):
                    if inside:
                        found[name].add(node)
        return found


def venn(names: Sequence[str], within: Sequence[tuple[str, str]] = ()) -> Venn:
    """Regions for ``names``; ``(a, b)`` in ``within`` means set a is a subset of set b."""
    regions = []
    for bits in itertools.product((False, True), repeat=len(names)):
        if not any(bits):
            continue  # nodes in no set play no part
        member = dict(zip(names, bits, strict=True))
        if any(member[a] and not member[b] for a, b in within):
            continue
        label = "".join(name for name, bit in zip(names, bits, strict=True) if bit)
        regions.append((bits, Int(f"nodes_in_{label}")))
    return Venn(names=tuple(names), regions=tuple(regions))


def _describe(diagram: Venn) -> Callable[[ModelRef], tuple[tuple[str, str], ...]]:
    def describe(model: ModelRef) -> tuple[tuple[str, str], ...]:
        sets = diagram.sets(model)
        return tuple(
            (name, "{" + ", ".join(str(n) for n in sorted(members)) + "}")
            for name, members in sets.items()
        )

    return describe


def majorities_intersect(rule: QuorumRule = majority) -> Verdict:
    """Any two quorums of one voter set share a member, for every size."""
    diagram = venn(("C", "Q1", "Q2"), within=(("Q1", "C"), ("Q2", "C")))
    size = diagram.size("C")
    return check_valid(
        diagram.size("Q1", "Q2") >= 1,
        assumptions=[
            diagram.nonnegative(),
            size >= 1,
            rule(diagram.size("Q1"), size),
            rule(diagram.size("Q2"), size),
        ],
        describe=_describe(diagram),
    )


def single_server_changes(max_changed: int = 1) -> Verdict:
    """A majority of C meets a majority of C' when at most ``max_changed`` voters differ
    (etcd refuses a simple change of more than one voter)."""
    diagram = venn(("C", "C'", "Q1", "Q2"), within=(("Q1", "C"), ("Q2", "C'")))
    old, new = diagram.size("C"), diagram.size("C'")
    changed = diagram.size("C", excluded=("C'",)) + diagram.size("C'", excluded=("C",))
    return check_valid(
        diagram.size("Q1", "Q2") >= 1,
        assumptions=[
            diagram.nonnegative(),
            old >= 1,
            new >= 1,
            changed <= max_changed,
            majority(diagram.size("Q1"), old),
            majority(diagram.size("Q2"), new),
        ],
        describe=_describe(diagram),
    )


def _joint(diagram: Venn, name: str, *, count_outgoing: bool) -> BoolRef:
    """``name`` is a quorum of the joint configuration (incoming, outgoing)."""
    incoming = majority(diagram.size(name, "incoming"), diagram.size("incoming"))
    outgoing = majority(diagram.size(name, "outgoing"), diagram.size("outgoing"))
    return And(incoming, outgoing) if count_outgoing else incoming


def _joint_check(*, count_outgoing: bool) -> Verdict:
    """Consecutive configurations of joint consensus: C_old (outgoing) -> joint -> C_new
    (incoming). A joint quorum Q1 meets another joint quorum Q2 and every majority M of
    either side."""
    names = ("incoming", "outgoing", "Q1", "Q2")
    joint_pair = venn(names)
    checks: list[Callable[[], Verdict]] = [
        lambda: check_valid(
            joint_pair.size("Q1", "Q2") >= 1,
            assumptions=[
                joint_pair.nonnegative(),
                joint_pair.size("incoming") >= 1,
                joint_pair.size("outgoing") >= 1,
                _joint(joint_pair, "Q1", count_outgoing=count_outgoing),
                _joint(joint_pair, "Q2", count_outgoing=count_outgoing),
            ],
            describe=_describe(joint_pair),
        )
    ]
    for side in ("outgoing", "incoming"):
        diagram = venn(("incoming", "outgoing", "Q1", "M"), within=(("M", side),))

        def side_check(diagram: Venn = diagram, side: str = side) -> Verdict:
            return check_valid(
                diagram.size("Q1", "M") >= 1,
                assumptions=[
                    diagram.nonnegative(),
                    diagram.size("incoming") >= 1,
                    diagram.size("outgoing") >= 1,
                    _joint(diagram, "Q1", count_outgoing=count_outgoing),
                    majority(diagram.size("M"), diagram.size(side)),
                ],
                describe=_describe(diagram),
            )

        checks.append(side_check)
    for check in checks:
        verdict = check()
        if not isinstance(verdict, Proved):
            return verdict
    return Proved()


def joint_quorums_intersect() -> Verdict:
    """Joint quorums meet each other and every majority of either side, for every size."""
    return _joint_check(count_outgoing=True)


ANY_SIZE = "no size bound: configurations of any number of voters (counted, not enumerated)"

PROOFS: tuple[ProofCase, ...] = (
    ProofCase(
        name="raft.quorum.majority",
        property_text="any two majorities of a voter set intersect",
        method="exhaustive",
        bound=ANY_SIZE,
        check=majorities_intersect,
        mutants=(
            Mutant(
                name="minority-quorum",
                description="floor(n/2) votes count as a quorum",
                check=lambda: majorities_intersect(minority_mutant),
            ),
        ),
    ),
    ProofCase(
        name="raft.quorum.single_server",
        property_text=(
            "consecutive configurations of single-server changes: a majority of the old voters "
            "meets a majority of the new ones"
        ),
        method="exhaustive",
        bound=ANY_SIZE,
        check=single_server_changes,
        mutants=(
            Mutant(
                name="two-voters-at-once",
                description="a simple (non-joint) change adds or removes two voters",
                check=lambda: single_server_changes(max_changed=2),
            ),
        ),
    ),
    ProofCase(
        name="raft.quorum.joint",
        property_text=(
            "consecutive configurations of joint consensus: a joint quorum (majority of the "
            "incoming and of the outgoing voters) meets every other joint quorum and every "
            "majority of either side"
        ),
        method="exhaustive",
        bound=ANY_SIZE,
        check=joint_quorums_intersect,
        mutants=(
            Mutant(
                name="joint-counts-only-new",
                description="a joint configuration counts only the incoming (new) voters",
                check=lambda: _joint_check(count_outgoing=False),
            ),
        ),
    ),
)
