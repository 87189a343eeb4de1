"""Quorum intersection: the proofs hold and the counterexamples to the mutants are real ones."""

from proofs.raft import quorum
from proofs.z3adapter import Counterexample, Proved


def _members(text: str) -> set[int]:
    inner = text.strip("{}")
    return {int(part) for part in inner.split(",")} if inner else set()


def test_majorities_of_every_size_intersect() -> None:
    assert quorum.majorities_intersect() == Proved()


def test_the_minority_mutant_yields_two_disjoint_floor_half_sets() -> None:
    verdict = quorum.majorities_intersect(quorum.minority_mutant)
    assert isinstance(verdict, Counterexample)
    pairs = dict(verdict.assignment)
    size = int(pairs["voters"].removeprefix("{1..").rstrip("}"))
    first, second = _members(pairs["Q1"]), _members(pairs["Q2"])
    # floor(n/2) members are accepted, and the two sets share no member.
    assert len(first) >= size // 2
    assert len(second) >= size // 2
    assert not first & second
    assert first | second <= set(range(1, size + 1))


def test_joint_quorums_intersect() -> None:
    assert quorum.joint_quorums_intersect() == Proved()


def test_counting_only_the_incoming_side_misses_an_outgoing_majority() -> None:
    verdict = quorum._joint_check(count_outgoing=False)
    assert isinstance(verdict, Counterexample)
    pairs = dict(verdict.assignment)
    incoming, outgoing = _members(pairs["incoming"]), _members(pairs["outgoing"])
    chosen = _members(pairs["Q1"])
    # Q1 is a majority of the incoming voters but not of the outgoing ones.
    assert 2 * len(chosen & incoming) > len(incoming)
    assert outgoing
    assert 2 * len(chosen & outgoing) <= len(outgoing)
