"""Executions that refute the protocol mutants: bounded search from the initial state.

A mutant of an unbounded inductive proof yields a counterexample to induction, which is not
an execution. So each mutant is also refuted by z3 finding an execution of the bounded
cluster model (:mod:`proofs.raft.cluster`, the etcd handler relations with the mutant's rule)
that starts in the initial state and breaks the property. Deep executions are searched on a
scripted schedule of step kinds (as etcd's ``SplitBrain456.tla`` scenario does for depths
beyond exhaustive checking): z3 chooses the nodes, the messages and their content. The
execution exports as a trace of ``impl.raft`` with the same mutant
(``kubeoracle prove --export-counterexamples``).
"""

from __future__ import annotations

from proofs.raft.bounded import (
    Property,
    bounded_check,
    election_safety,
    leader_completeness,
    log_matching,
    state_machine_safety,
)
from proofs.raft.cluster import Shape
from proofs.raft.relations import (
    Rules,
    can_vote_twice,
    commit_by_counting,
    match_term_skipped,
    up_to_date_skipped,
)
from proofs.z3adapter import Verdict

DOUBLE_VOTE_DEPTH = 4
"""Two candidates, each granted by the same voter in one term: every execution of 4 steps."""

NO_CONSISTENCY_CHECK_SCHEDULE = (
    "campaign",
    "vote",
    "campaign",
    "vote",
    "restart",
    "campaign",
    "vote",
    "append",
)
"""Two leaders of different terms each hold a one-entry log; one of them, re-elected, sends
its next entry after ``prev`` = 1 to the other, whose entry 1 differs. The first MsgApp a new
leader sends (``prev`` = its last index before the empty entry), so ``impl.raft`` sends it."""

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

STALE_VOTE_SCHEDULE = ("campaign", "vote", "append", "campaign", "vote")
"""A leader commits its first entry on itself and one follower; the third node, with an empty
log, campaigns and (mutant) that follower votes for it anyway."""

TRUNCATE_SCHEDULE = (
    "campaign",
    "vote",
    "propose",
    "propose",
    "append",
    "append",
    "append",
    "redeliver",
    "campaign",
    "vote",
)
"""A leader replicates three entries to a follower one MsgApp at a time (the reply to the
second is delayed) and commits them; the second MsgApp arrives again, late, and (mutant) the
follower cuts its log after it although nothing conflicts, losing a committed entry; the
follower then wins the next term."""

COMMITMENT: tuple[tuple[str, Property], ...] = (
    ("leader completeness", leader_completeness),
    ("state machine safety", state_machine_safety),
)


def double_vote() -> Verdict:
    """A node that grants a second vote in a term lets two leaders win it."""
    return bounded_check(
        Rules(can_vote=can_vote_twice),
        Shape(voters=3, capacity=1),
        DOUBLE_VOTE_DEPTH,
        (("election safety", election_safety),),
    )


def no_consistency_check() -> Verdict:
    """A follower that skips the prevLogIndex/prevLogTerm check breaks Log Matching."""
    return bounded_check(
        Rules(match_term=match_term_skipped),
        Shape(voters=3, capacity=2),
        len(NO_CONSISTENCY_CHECK_SCHEDULE),
        (("log matching", log_matching),),
        schedule=NO_CONSISTENCY_CHECK_SCHEDULE,
        final_level_only=True,
    )


def figure_8() -> Verdict:
    """A leader that commits an earlier-term entry by counting loses a committed entry."""
    return bounded_check(
        Rules(may_commit=commit_by_counting),
        Shape(voters=3, capacity=2),
        len(FIGURE_8_SCHEDULE),
        COMMITMENT,
        schedule=FIGURE_8_SCHEDULE,
        final_level_only=True,
    )


def vote_without_up_to_date_check() -> Verdict:
    """A voter that skips the up-to-date check elects a leader without a committed entry."""
    return bounded_check(
        Rules(up_to_date=up_to_date_skipped),
        Shape(voters=3, capacity=1),
        len(STALE_VOTE_SCHEDULE),
        COMMITMENT,
        schedule=STALE_VOTE_SCHEDULE,
        final_level_only=True,
    )


def truncate_without_conflict() -> Verdict:
    """A follower that truncates without a conflict drops a committed entry."""
    return bounded_check(
        Rules(truncate_without_conflict=True),
        Shape(voters=3, capacity=3),
        len(TRUNCATE_SCHEDULE),
        COMMITMENT,
        schedule=TRUNCATE_SCHEDULE,
        final_level_only=True,
        in_order_appends=True,
    )
