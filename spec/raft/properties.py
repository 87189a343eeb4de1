"""The catalogue of Raft properties as named ``Property`` values, with their sources.

Safety properties (``always``) are judged on a ``RaftStep`` (the history before an observation,
and the observation) and hold when ``check_step`` reports no violation under their name.
Companions (``sometimes``) are judged on the history at the end of a run: they hold when the
situation was seen at least once, which shows the safety property it accompanies was not
vacuous in that run.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from models.raft import ClusterObservation
from spec.property import Property
from spec.raft import invariants as names
from spec.raft.history import RaftHistory
from spec.raft.invariants import check_step


class RaftStep(msgspec.Struct, frozen=True, kw_only=True):
    """The input of a safety predicate: the history so far and the new observation."""

    history: RaftHistory
    observation: ClusterObservation


def _always(name: str, description: str) -> Property[RaftStep]:
    def holds(step: RaftStep) -> bool:
        _, violations = check_step(step.history, step.observation)
        return all(violation.property_name != name for violation in violations)

    return Property(name=name, kind="always", predicate=holds, description=description)


def _sometimes(name: str, description: str) -> Property[RaftHistory]:
    def holds(history: RaftHistory) -> bool:
        return name in history.sometimes_seen

    return Property(name=name, kind="sometimes", predicate=holds, description=description)


SAFETY: tuple[Property[RaftStep], ...] = (
    _always(
        names.ELECTION_SAFETY,
        "At most one leader can be elected in a given term (paper Figure 3, section 5.2).",
    ),
    _always(
        names.LEADER_APPEND_ONLY,
        "A leader never overwrites or deletes entries in its log; it only appends "
        "(paper Figure 3, section 5.3).",
    ),
    _always(
        names.LOG_MATCHING,
        "If two logs contain an entry with the same index and term, the logs are identical "
        "in all entries up through that index (paper Figure 3, section 5.3).",
    ),
    _always(
        names.LEADER_COMPLETENESS,
        "If a log entry is committed in a given term, it is present in the logs of the "
        "leaders of all higher-numbered terms (paper Figure 3, section 5.4).",
    ),
    _always(
        names.STATE_MACHINE_SAFETY,
        "If a server has applied a log entry at a given index, no other server ever applies "
        "a different entry at that index (paper Figure 3, section 5.4.3); checked on commit.",
    ),
    _always(
        names.TERM_MONOTONIC,
        "A node's current term never decreases; it is persisted (paper Figure 2, section 5.1).",
    ),
    _always(
        names.ONE_VOTE_PER_TERM,
        "A node votes for at most one candidate in a term, also across restarts "
        "(paper Figure 2 votedFor, section 5.2).",
    ),
    _always(
        names.COMMIT_INDEX_MONOTONIC,
        "A node's commit index never decreases while it is up (paper Figure 2 commitIndex).",
    ),
    _always(
        names.COMMITTED_ENTRIES_DURABLE,
        "A committed entry stays in every log that committed it, across crashes "
        "(paper section 5.4, Figure 2 persistent state).",
    ),
    _always(
        names.SINGLE_PENDING_CONF_CHANGE,
        "A leader has at most one unapplied configuration change in its log (etcd raft "
        "pendingConfIndex; Ongaro thesis section 4.1, paper section 6).",
    ),
)

COMPANIONS: tuple[Property[RaftHistory], ...] = (
    _sometimes(names.LEADER_ELECTED, "A leader is elected (companion of Election Safety)."),
    _sometimes(names.LEADER_APPENDS, "A leader appends to its log (Leader Append-Only)."),
    _sometimes(names.ENTRY_REPLICATED, "Two nodes hold the same entry (Log Matching)."),
    _sometimes(
        names.LEADER_HOLDS_EARLIER_COMMITS,
        "A leader of a later term is checked against entries committed earlier "
        "(Leader Completeness).",
    ),
    _sometimes(
        names.ENTRY_COMMITTED_TWICE,
        "Two nodes commit the same index (State Machine Safety).",
    ),
    _sometimes(names.TERM_ADVANCES, "A node's term increases (term monotonic)."),
    _sometimes(names.VOTE_GRANTED, "A node votes for another node (one vote per term)."),
    _sometimes(names.COMMIT_ADVANCES, "A commit index advances (commit monotonic)."),
    _sometimes(
        names.RESTART_WITH_COMMITTED,
        "A node restarts with committed entries (committed entries durable).",
    ),
    _sometimes(
        names.CONF_CHANGE_APPLIED,
        "A configuration change is applied (single pending conf change).",
    ),
    _sometimes(names.COMMIT_AFTER_HEAL, "An entry commits after a partition heals."),
    _sometimes(names.SNAPSHOT_INSTALLED, "A node installs a snapshot sent by the leader."),
    _sometimes(
        names.CHECK_QUORUM_STEP_DOWN,
        "A leader steps down without a higher term (CheckQuorum, or its own removal).",
    ),
    _sometimes(
        names.JOINT_ENTERED_AND_LEFT,
        "A node enters a joint configuration and later leaves it.",
    ),
)

COMPANION_OF: Mapping[str, str] = {
    names.ELECTION_SAFETY: names.LEADER_ELECTED,
    names.LEADER_APPEND_ONLY: names.LEADER_APPENDS,
    names.LOG_MATCHING: names.ENTRY_REPLICATED,
    names.LEADER_COMPLETENESS: names.LEADER_HOLDS_EARLIER_COMMITS,
    names.STATE_MACHINE_SAFETY: names.ENTRY_COMMITTED_TWICE,
    names.TERM_MONOTONIC: names.TERM_ADVANCES,
    names.ONE_VOTE_PER_TERM: names.VOTE_GRANTED,
    names.COMMIT_INDEX_MONOTONIC: names.COMMIT_ADVANCES,
    names.COMMITTED_ENTRIES_DURABLE: names.RESTART_WITH_COMMITTED,
    names.SINGLE_PENDING_CONF_CHANGE: names.CONF_CHANGE_APPLIED,
}
"""Each safety property's ``sometimes`` companion, by name."""


def unmet_companions(history: RaftHistory) -> tuple[str, ...]:
    """Names of the companions not seen in a run (sorted)."""
    return tuple(sorted(p.name for p in COMPANIONS if not p.holds(history)))
