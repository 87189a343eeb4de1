"""Leader Completeness and State Machine Safety, by bounded model checking of the cluster.

These are checked on :mod:`proofs.raft.cluster` (3 voters, every step a composition of the
etcd handler relations, logs of at most 2 entries) for every execution of up to ``DEPTH``
steps. This is a bounded result: an inductive invariant in the style of the Ivy/mypyvy Raft
proof (ghost term logs, commit quorums and the ``choosable`` invariants) is not reached here.

The Figure 8 mutant (commit an entry of an earlier term by counting replicas) needs a deeper
execution than the exhaustive depth; it is refuted on a scripted schedule of step kinds, as
etcd's ``SplitBrain456.tla`` scenario does for schedules too deep for exhaustive checking:
z3 chooses which node takes each step and what the messages carry.
"""

from __future__ import annotations

from proofs.catalog import Mutant, ProofCase
from proofs.raft.cluster import (
    Property,
    Shape,
    bounded_check,
    election_safety,
    leader_completeness,
    log_matching,
    state_machine_safety,
)
from proofs.raft.relations import ETCD_RULES, Rules, commit_by_counting
from proofs.z3adapter import Verdict

DEPTH = 4
SHAPE = Shape(voters=3, capacity=2)

PROPERTIES: tuple[tuple[str, Property], ...] = (
    ("leader completeness", leader_completeness),
    ("state machine safety", state_machine_safety),
    ("election safety", election_safety),
    ("log matching", log_matching),
)

FIGURE_8_SCHEDULE = (
    "campaign",
    "vote",
    "campaign",
    "campaign",
    "vote",
    "restart",
    "campaign",
    "campaign",
    "vote",
    "append",
    "restart",
    "campaign",
    "campaign",
    "vote",
)
"""Leader A of term t commits nothing; B leads a later term without A's entry; A leads again,
replicates its old entry to a majority and (mutant) commits it by counting; B wins the next
term with its longer-term log and would overwrite the entry."""


def safety_to_depth(rules: Rules = ETCD_RULES) -> Verdict:
    """Every state reachable in ``DEPTH`` steps satisfies the four properties."""
    return bounded_check(rules, SHAPE, DEPTH, PROPERTIES)


def figure_8() -> Verdict:
    """The Figure 8 mutant loses a committed entry on the scripted schedule."""
    rules = Rules(may_commit=commit_by_counting)
    return bounded_check(
        rules,
        SHAPE,
        len(FIGURE_8_SCHEDULE),
        PROPERTIES[:2],
        schedule=FIGURE_8_SCHEDULE,
        final_level_only=True,
    )


PROOFS: tuple[ProofCase, ...] = (
    ProofCase(
        name="raft.commitment.safety",
        property_text=(
            "Leader Completeness and State Machine Safety (with Election Safety and Log Matching)"
        ),
        method="bounded model check",
        bound=f"depth {DEPTH}, {SHAPE.voters} voters, logs <= {SHAPE.capacity} entries",
        check=safety_to_depth,
        mutants=(
            Mutant(
                name="figure-8-commit-by-counting",
                description=(
                    "a leader commits an earlier-term entry once a quorum stores it "
                    f"(scripted schedule of {len(FIGURE_8_SCHEDULE)} steps)"
                ),
                check=figure_8,
                impl_mutant="commit_previous_term_by_counting",
                spec_properties=("leader_completeness", "state_machine_safety"),
            ),
        ),
    ),
)
