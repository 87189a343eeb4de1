"""The proof catalog: names are unique, prefixes select, and every proof carries mutants."""

from proofs.catalog import GROUP_MODULES, ProofCase, all_proofs, select
from proofs.z3adapter import Int, Proved, check_valid


def _case(name: str) -> ProofCase:
    return ProofCase(
        name=name,
        property_text="x + 1 > x",
        method="exhaustive",
        bound="all integers",
        check=lambda: check_valid(Int("x") + 1 > Int("x")),
        mutants=(),
    )


def test_every_group_contributes_named_cases_each_with_a_mutant() -> None:
    cases = all_proofs()
    assert len(GROUP_MODULES) >= 4
    assert cases
    for case in cases:
        assert case.mutants, f"{case.name} has no mutant, so it could be vacuous"
        assert case.bound
        assert case.method in ("inductive invariant", "bounded model check", "exhaustive")


def test_select_matches_whole_names_and_prefixes_only() -> None:
    cases = (_case("raft.quorum.majority"), _case("raft.quorum.joint"), _case("sched.fit"))
    assert [c.name for c in select(cases, ("raft.quorum",))] == [
        "raft.quorum.majority",
        "raft.quorum.joint",
    ]
    assert [c.name for c in select(cases, ("sched.fit", "raft.quorum.joint"))] == [
        "raft.quorum.joint",
        "sched.fit",
    ]
    assert select(cases, ("quorum",)) == ()
    assert select(cases, ()) == cases


def test_a_case_check_returns_a_verdict() -> None:
    assert _case("x").check() == Proved()
