"""Raft's safety properties proved for every cluster size, term and log length.

Each case checks that the layers of invariants it rests on are inductive for the model of
:mod:`proofs.raft.safety_model` (the node relations that ``impl.raft``'s steps satisfy, see
``tests/proofs/test_safety_tie.py``), then that the invariants imply the property. Layers are
checked once per run and shared by the cases that rest on them. Every mutant is refuted by an
execution from the initial state (:mod:`proofs.raft.mutant_runs`).
"""

from __future__ import annotations

from proofs.catalog import Mutant, ProofCase
from proofs.raft import mutant_runs
from proofs.raft import node_relations as rel
from proofs.raft.safety_check import prove
from proofs.raft.safety_properties import (
    ELECTION_SAFETY,
    LEADER_COMPLETENESS,
    LOG_MATCHING,
    STATE_MACHINE_SAFETY,
)

UNBOUNDED = (
    "no size bound: any number of nodes, terms and log entries; messages delayed, reordered, "
    "duplicated or lost"
)

FIGURE_8 = Mutant(
    name="figure-8-commit-by-counting",
    description=(
        "a leader commits an earlier-term entry once a quorum stores it "
        f"(execution on a scripted schedule of {len(mutant_runs.FIGURE_8_SCHEDULE)} steps)"
    ),
    check=mutant_runs.figure_8,
    impl_mutant="commit_previous_term_by_counting",
    spec_properties=("leader_completeness", "state_machine_safety"),
)

STALE_VOTE = Mutant(
    name="vote-without-up-to-date-check",
    description=(
        "a voter grants its vote without checking that the candidate's log is at least as up "
        "to date (execution on a scripted schedule of "
        f"{len(mutant_runs.STALE_VOTE_SCHEDULE)} steps)"
    ),
    check=mutant_runs.vote_without_up_to_date_check,
    impl_mutant="skip_up_to_date_check",
    spec_properties=("leader_completeness", "state_machine_safety"),
)

TRUNCATE = Mutant(
    name="truncate-committed-entry",
    description=(
        "a follower cuts its log after an accepted MsgApp's entries although none conflicts, so "
        "a late duplicate deletes a committed entry (execution on a scripted schedule of "
        f"{len(mutant_runs.TRUNCATE_SCHEDULE)} steps)"
    ),
    check=mutant_runs.truncate_without_conflict,
    impl_mutant="truncate_without_conflict",
    spec_properties=("leader_completeness", "state_machine_safety", "committed_entries_durable"),
)

MUTANT_RULES: dict[str, rel.Rules] = {
    "double-voting": rel.Rules(vote_twice=True),
    "no-consistency-check": rel.Rules(prev_matches=rel.prev_match_skipped),
    "figure-8-commit-by-counting": rel.Rules(may_commit=rel.may_commit_by_counting),
    "vote-without-up-to-date-check": rel.Rules(up_to_date=rel.up_to_date_skipped),
    "truncate-committed-entry": rel.Rules(truncate_without_conflict=True),
}
"""Each protocol mutant as the same switch in the node relations of the unbounded model: the
exported trace of its execution satisfies these relations step by step, and breaks the etcd
ones (``tests/proofs/test_safety_tie.py``), so it is an execution of the mutated model."""

PROOFS: tuple[ProofCase, ...] = (
    ProofCase(
        name="raft.election.safety",
        property_text=ELECTION_SAFETY.text,
        method="inductive invariant",
        bound=UNBOUNDED,
        check=lambda: prove(ELECTION_SAFETY),
        mutants=(
            Mutant(
                name="double-voting",
                description="a node grants its vote whatever it voted for earlier in the term",
                check=mutant_runs.double_vote,
                impl_mutant="vote_twice",
                spec_properties=("one_vote_per_term", "election_safety"),
            ),
        ),
    ),
    ProofCase(
        name="raft.log.matching",
        property_text=LOG_MATCHING.text,
        method="inductive invariant",
        bound=UNBOUNDED,
        check=lambda: prove(LOG_MATCHING),
        mutants=(
            Mutant(
                name="no-consistency-check",
                description="a follower appends without checking prevLogIndex/prevLogTerm",
                check=mutant_runs.no_consistency_check,
                impl_mutant="skip_consistency_check",
                spec_properties=("log_matching",),
            ),
        ),
    ),
    ProofCase(
        name="raft.leader.completeness",
        property_text=LEADER_COMPLETENESS.text,
        method="inductive invariant",
        bound=UNBOUNDED,
        check=lambda: prove(LEADER_COMPLETENESS),
        mutants=(FIGURE_8, STALE_VOTE),
    ),
    ProofCase(
        name="raft.state_machine.safety",
        property_text=STATE_MACHINE_SAFETY.text,
        method="inductive invariant",
        bound=UNBOUNDED,
        check=lambda: prove(STATE_MACHINE_SAFETY),
        mutants=(TRUNCATE,),
    ),
)
