"""Every scheduling proof holds and every one of its mutants is refuted by z3."""

from __future__ import annotations

import pytest

from proofs.catalog import ProofCase, all_proofs
from proofs.z3adapter import Counterexample, Proved

SCHEDULING = tuple(case for case in all_proofs() if case.name.startswith("scheduling."))


def test_the_catalog_lists_the_scheduling_proofs_beside_raft() -> None:
    names = {case.name for case in all_proofs()}
    assert any(name.startswith("raft.") for name in names)
    assert {
        "scheduling.scores.least_allocated_range",
        "scheduling.scores.least_allocated_monotone",
        "scheduling.scores.most_allocated_monotone",
        "scheduling.binding.no_overcommit",
        "scheduling.binding.selected_is_optimal",
        "scheduling.matching.tolerations",
        "scheduling.matching.node_selectors",
        "scheduling.scores.default_normalize_edges",
    } <= names


@pytest.mark.parametrize("case", SCHEDULING, ids=lambda case: case.name)
def test_proof_holds_and_mutants_are_refuted(case: ProofCase) -> None:
    assert isinstance(case.check(), Proved)
    assert case.mutants
    for mutant in case.mutants:
        assert isinstance(mutant.check(), Counterexample), mutant.name
