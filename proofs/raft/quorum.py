"""Quorum intersection, exhaustive over voter sets of 1..9 members.

etcd raft's quorum is a majority: a vote or a commit needs ``len(voters) // 2 + 1`` members
(``quorum/majority.go``), that is ``2 * count > size``. In a joint configuration (ConfChangeV2)
a decision needs a majority of the incoming AND of the outgoing voters (``quorum/joint.go``); an
empty outgoing side (not joint) imposes nothing, as etcd's empty majority config wins every vote.

For each size the members of two sets are free booleans, so z3 covers every subset at once:
the check is exhaustive over the stated bound.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from proofs.catalog import Mutant, ProofCase
from proofs.z3adapter import (
    And,
    ArithRef,
    Bool,
    BoolRef,
    If,
    ModelRef,
    Not,
    Or,
    Proved,
    Sum,
    Verdict,
    check_valid,
    is_true,
)

MAX_VOTERS = 9

QuorumRule = Callable[[ArithRef, int], BoolRef]


def majority(count: ArithRef, size: ArithRef | int) -> BoolRef:
    """etcd's rule: ``count >= size // 2 + 1``, i.e. strictly more than half."""
    return 2 * count > size


def minority_mutant(count: ArithRef, size: int) -> BoolRef:
    """Mutant: floor(n/2) members are taken as a quorum."""
    return count >= size // 2


def _count(members: Sequence[BoolRef]) -> ArithRef:
    return Sum([If(member, 1, 0) for member in members])


def _members(name: str, size: int) -> list[BoolRef]:
    return [Bool(f"{name}_{index}") for index in range(1, size + 1)]


def _describe_sets(
    names: Sequence[str], size: int
) -> Callable[[ModelRef], tuple[tuple[str, str], ...]]:
    def describe(model: ModelRef) -> tuple[tuple[str, str], ...]:
        pairs = [("voters", f"{{1..{size}}}")]
        for name in names:
            chosen = [
                str(index)
                for index in range(1, size + 1)
                if is_true(model.eval(Bool(f"{name}_{index}"), model_completion=True))
            ]
            pairs.append((name, "{" + ", ".join(chosen) + "}"))
        return tuple(pairs)

    return describe


def _first_failure(verdicts: Sequence[Callable[[], Verdict]]) -> Verdict:
    for check in verdicts:
        verdict = check()
        if not isinstance(verdict, Proved):
            return verdict
    return Proved()


def majorities_intersect(rule: QuorumRule = majority) -> Verdict:
    """For every voter-set size 1..9, any two quorums under ``rule`` share a member."""

    def check_size(size: int) -> Callable[[], Verdict]:
        def check() -> Verdict:
            first, second = _members("Q1", size), _members("Q2", size)
            return check_valid(
                Or([And(a, b) for a, b in zip(first, second, strict=True)]),
                assumptions=[rule(_count(first), size), rule(_count(second), size)],
                describe=_describe_sets(("Q1", "Q2"), size),
            )

        return check

    return _first_failure([check_size(size) for size in range(1, MAX_VOTERS + 1)])


def _joint_quorum(
    chosen: Sequence[BoolRef],
    incoming: Sequence[BoolRef],
    outgoing: Sequence[BoolRef],
    *,
    count_outgoing: bool,
) -> BoolRef:
    """``chosen`` holds a majority of the incoming voters and (when joint) of the outgoing."""
    incoming_part = majority(
        _count([And(c, i) for c, i in zip(chosen, incoming, strict=True)]), _count(incoming)
    )
    outgoing_size = _count(outgoing)
    outgoing_part = Or(
        outgoing_size == 0,
        majority(_count([And(c, o) for c, o in zip(chosen, outgoing, strict=True)]), outgoing_size),
    )
    return And(incoming_part, outgoing_part) if count_outgoing else incoming_part


def _joint_check(*, count_outgoing: bool) -> Verdict:
    """Over a universe of 9 nodes and every incoming/outgoing membership: two joint quorums
    intersect, and a joint quorum meets every majority of each side."""
    size = MAX_VOTERS
    incoming, outgoing = _members("incoming", size), _members("outgoing", size)
    first, second = _members("Q1", size), _members("Q2", size)
    side = _members("M", size)
    nonempty = _count(incoming) >= 1
    names = ("incoming", "outgoing", "Q1", "Q2", "M")

    def meets(a: Sequence[BoolRef], b: Sequence[BoolRef]) -> BoolRef:
        return Or([And(x, y) for x, y in zip(a, b, strict=True)])

    def within(a: Sequence[BoolRef], config: Sequence[BoolRef]) -> BoolRef:
        return And([Not(And(x, Not(c))) for x, c in zip(a, config, strict=True)])

    def side_majority(config: Sequence[BoolRef]) -> list[BoolRef]:
        return [within(side, config), _count(config) >= 1, majority(_count(side), _count(config))]

    def joint(chosen: Sequence[BoolRef]) -> BoolRef:
        return _joint_quorum(chosen, incoming, outgoing, count_outgoing=count_outgoing)

    describe = _describe_sets(names, size)
    checks: list[Callable[[], Verdict]] = [
        lambda: check_valid(
            meets(first, second),
            assumptions=[nonempty, joint(first), joint(second)],
            describe=_describe_sets(names[:4], size),
        ),
        lambda: check_valid(
            meets(first, side),
            assumptions=[nonempty, joint(first), *side_majority(incoming)],
            describe=describe,
        ),
        lambda: check_valid(
            meets(first, side),
            assumptions=[nonempty, joint(first), *side_majority(outgoing)],
            describe=describe,
        ),
    ]
    return _first_failure(checks)


def joint_quorums_intersect() -> Verdict:
    """Joint quorums (majority of incoming AND of outgoing) meet each other and each side."""
    return _joint_check(count_outgoing=True)


PROOFS: tuple[ProofCase, ...] = (
    ProofCase(
        name="raft.quorum.majority",
        property_text="any two majorities of a voter set intersect",
        method="exhaustive",
        bound=f"every voter set of 1..{MAX_VOTERS} members, every pair of subsets",
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
        name="raft.quorum.joint",
        property_text=(
            "joint quorums (majority of incoming and of outgoing voters) intersect each other "
            "and every majority of either side"
        ),
        method="exhaustive",
        bound=f"every incoming/outgoing configuration over {MAX_VOTERS} nodes",
        check=joint_quorums_intersect,
        mutants=(
            Mutant(
                name="joint-counts-one-side",
                description="a joint configuration counts only the incoming voters",
                check=lambda: _joint_check(count_outgoing=False),
            ),
        ),
    ),
)
