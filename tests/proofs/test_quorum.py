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
    voters = _members(pairs["C"])
    first, second = _members(pairs["Q1"]), _members(pairs["Q2"])
    # floor(n/2) members are accepted, and the two sets share no member.
    assert len(first) >= len(voters) // 2
    assert len(second) >= len(voters) // 2
    assert not first & second
    assert first | second <= voters


def test_single_server_changes_keep_majorities_intersecting() -> None:
    assert quorum.single_server_changes() == Proved()


def test_changing_two_voters_at_once_yields_disjoint_majorities() -> None:
    verdict = quorum.single_server_changes(max_changed=2)
    assert isinstance(verdict, Counterexample)
    pairs = dict(verdict.assignment)
    old, new = _members(pairs["C"]), _members(pairs["C'"])
    first, second = _members(pairs["Q1"]), _members(pairs["Q2"])
    assert len(old ^ new) == 2
    assert 2 * len(first & old) > len(old)
    assert first <= old
    assert 2 * len(second) > len(new)
    assert second <= new
    assert not first & second


def test_joint_quorums_intersect() -> None:
    assert quorum.joint_quorums_intersect() == Proved()


def test_counting_only_the_incoming_side_misses_an_outgoing_majority() -> None:
    verdict = quorum._joint_check(count_outgoing=False)
    assert isinstance(verdict, Counterexample)
    pairs = dict(verdict.assignment)
    incoming, outgoing = _members(pairs["incoming"]), _members(pairs["outgoing"])
    chosen = _members(pairs["Q1"])
    # Q1 is a majority of the incoming voters but not of the outgoing ones: it misses an
    # outgoing majority M, which the previous configuration C_old could decide with.
    assert 2 * len(chosen & incoming) > len(incoming)
    assert outgoing
    assert 2 * len(chosen & outgoing) <= len(outgoing)
    if "M" in pairs:
        majority = _members(pairs["M"])
        assert 2 * len(majority & outgoing) > len(outgoing)
        assert not chosen & majority
