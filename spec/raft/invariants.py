"""Raft's safety properties, checked incrementally on each cluster observation.

``check_step(history, observation) -> (history, violations)`` is what a simulator calls after
every step. Each check below names its property (see ``spec.raft.properties`` for the
catalogue and sources) and reports the nodes involved and a reason in words. Work per step is
proportional to what changed: a node observed as the very same object as at the previous step
is not judged afresh, only what other nodes' changes can still affect is re-examined
(``_recheck_unchanged``); and Log Matching, Leader Append-Only and "committed entries never
lost" only look at the boundary of a change once Log Matching holds for everything seen
before (new log entries, new commits).
"""

from __future__ import annotations

import msgspec

from models.raft import ClusterObservation, Entry, NodeObservation
from spec.property import Violation
from spec.raft.history import CommittedEntry, KnownEntry, LeaderCheck, RaftHistory

ELECTION_SAFETY = "election_safety"
LEADER_APPEND_ONLY = "leader_append_only"
LOG_MATCHING = "log_matching"
LEADER_COMPLETENESS = "leader_completeness"
STATE_MACHINE_SAFETY = "state_machine_safety"
TERM_MONOTONIC = "term_monotonic"
ONE_VOTE_PER_TERM = "one_vote_per_term"
COMMIT_INDEX_MONOTONIC = "commit_index_monotonic"
COMMITTED_ENTRIES_DURABLE = "committed_entries_durable"
SINGLE_PENDING_CONF_CHANGE = "single_pending_conf_change"

LEADER_ELECTED = "leader_elected"
LEADER_APPENDS = "leader_appends_entries"
ENTRY_REPLICATED = "entry_replicated"
LEADER_HOLDS_EARLIER_COMMITS = "later_leader_holds_committed_entries"
ENTRY_COMMITTED_TWICE = "entry_committed_on_two_nodes"
TERM_ADVANCES = "term_advances"
VOTE_GRANTED = "vote_granted"
COMMIT_ADVANCES = "commit_index_advances"
RESTART_WITH_COMMITTED = "restart_keeps_committed_entries"
CONF_CHANGE_APPLIED = "conf_change_applied"
COMMIT_AFTER_HEAL = "entry_commits_after_partition_heals"
SNAPSHOT_INSTALLED = "snapshot_installed"
CHECK_QUORUM_STEP_DOWN = "leader_steps_down_in_same_term"
JOINT_ENTERED_AND_LEFT = "joint_configuration_entered_and_left"


class _Pass:
    """Accumulates one step's violations and companions; local to one ``check_step`` call."""

    __slots__ = ("history", "max_commit_now", "seen", "violations")

    def __init__(self, history: RaftHistory, max_commit_now: int) -> None:
        self.history = history
        self.max_commit_now = max_commit_now
        self.violations: list[Violation] = []
        self.seen: set[str] = set()

    def violate(self, name: str, nodes: tuple[int, ...], reason: str) -> None:
        self.violations.append(
            Violation(property_name=name, nodes=tuple(sorted(set(nodes))), reason=reason)
        )


def _first_new_index(previous: NodeObservation | None, current: NodeObservation) -> int:
    """The lowest log index whose entry is new or changed since ``previous`` (0: none)."""
    log = current.log
    if not log:
        return 0
    if previous is None:
        return log[0].index
    if log is previous.log:
        return 0
    old = previous.log
    start = log[0].index
    if old:
        position = old[-1].index - start
        if 0 <= position < len(log) and log[position] is old[-1]:
            return old[-1].index + 1 if position + 1 < len(log) else 0
    old_first = previous.snapshot.index + 1
    for entry in log:
        old_position = entry.index - old_first
        if old_position < 0 or old_position >= len(old):
            return entry.index
        old_entry = old[old_position]
        if old_entry is not entry and old_entry != entry:
            return entry.index
    return 0


def _check_new_entries(run: _Pass, node: NodeObservation, first_new: int) -> None:
    """Log Matching (paper Figure 3, section 5.3): by induction it suffices that any two logs
    holding (index, term) agree on that entry and on the term just before it."""
    known = run.history.known_entries
    start = first_new - node.snapshot.index - 1
    for entry in node.log[start:]:
        previous_term = node.term_at(entry.index - 1)
        key = (entry.index, entry.term)
        record = known.get(key)
        if record is None:
            known = known.set(
                key,
                KnownEntry(entry=entry, previous_term=previous_term or 0, node_id=node.node_id),
            )
            continue
        if record.node_id != node.node_id:
            run.seen.add(ENTRY_REPLICATED)
        if record.entry != entry or (
            previous_term is not None and previous_term != record.previous_term
        ):
            run.violate(
                LOG_MATCHING,
                (node.node_id, record.node_id),
                f"nodes {record.node_id} and {node.node_id} both hold an entry at index "
                f"{entry.index} in term {entry.term}, but their logs differ there or before "
                f"(previous term {record.previous_term} vs {previous_term})",
            )
    run.history = msgspec.structs.replace(run.history, known_entries=known)


def _check_terms_and_votes(
    run: _Pass, node: NodeObservation, previous: NodeObservation | None
) -> None:
    """Term monotonic and one vote per term (paper Figure 2: currentTerm and votedFor are
    persistent state; section 5.2: "each server will vote for at most one candidate in a
    given term"). Votes are remembered per (node, term), so a vote forgotten across a restart
    and cast again for someone else is caught."""
    if previous is not None:
        if node.term < previous.term:
            run.violate(
                TERM_MONOTONIC,
                (node.node_id,),
                f"node {node.node_id}'s term went back from {previous.term} to {node.term}",
            )
        elif node.term > previous.term:
            run.seen.add(TERM_ADVANCES)
    if node.vote == 0:
        return
    key = (node.node_id, node.term)
    earlier = run.history.votes.get(key)
    if earlier is None:
        run.history = msgspec.structs.replace(
            run.history, votes=run.history.votes.set(key, node.vote)
        )
        if node.vote != node.node_id:
            run.seen.add(VOTE_GRANTED)
    elif earlier != node.vote:
        run.violate(
            ONE_VOTE_PER_TERM,
            (node.node_id, earlier, node.vote),
            f"node {node.node_id} voted for {earlier} and then for {node.vote} in term {node.term}",
        )


def _check_leader(run: _Pass, node: NodeObservation, previous: NodeObservation | None) -> None:
    """Election Safety and Leader Append-Only (paper Figure 3)."""
    if node.role != "leader":
        if (
            previous is not None
            and previous.up
            and previous.role == "leader"
            and node.up
            and node.term == previous.term
        ):
            run.seen.add(CHECK_QUORUM_STEP_DOWN)
        return
    history = run.history
    run.seen.add(LEADER_ELECTED)
    elected = history.leaders_by_term.get(node.term)
    if elected is None:
        run.history = msgspec.structs.replace(
            history, leaders_by_term=history.leaders_by_term.set(node.term, node.node_id)
        )
    elif elected != node.node_id:
        run.violate(
            ELECTION_SAFETY,
            (elected, node.node_id),
            f"nodes {elected} and {node.node_id} were both leader in term {node.term}",
        )
    if previous is None or previous.role != "leader" or previous.term != node.term:
        return
    if node.log is previous.log:
        return
    old_last = previous.last_index()
    old_term = previous.term_at(old_last)
    new_term = node.term_at(old_last)
    if node.last_index() < old_last or (new_term is not None and new_term != old_term):
        run.violate(
            LEADER_APPEND_ONLY,
            (node.node_id,),
            f"leader {node.node_id} of term {node.term} overwrote or deleted entries: its "
            f"entry {old_last} (term {old_term}) is now term {new_term}, last index "
            f"{node.last_index()}",
        )
    elif node.last_index() > old_last:
        run.seen.add(LEADER_APPENDS)


def _record_commits(
    run: _Pass, node: NodeObservation, previous: NodeObservation | None, max_term: int
) -> None:
    """State Machine Safety (paper Figure 3, section 5.4.3): no two nodes commit (and so
    apply) different entries at one index. Also records every commit for later checks."""
    low = previous.commit_index if previous is not None else 0
    low = max(low, node.snapshot.index)
    history = run.history
    committed = history.committed
    if node.commit_index > low:
        run.seen.add(COMMIT_ADVANCES)
    for index in range(low + 1, node.commit_index + 1):
        entry = node.entry_at(index)
        if entry is None:
            break
        record = committed.get(index)
        if record is None:
            committed = committed.set(
                index, CommittedEntry(entry=entry, node_id=node.node_id, max_term_seen=max_term)
            )
        elif record.entry != entry:
            run.violate(
                STATE_MACHINE_SAFETY,
                (record.node_id, node.node_id),
                f"index {index} committed as term {record.entry.term} on node "
                f"{record.node_id} but as term {entry.term} on node {node.node_id}",
            )
        elif record.node_id != node.node_id:
            run.seen.add(ENTRY_COMMITTED_TWICE)
    run.history = msgspec.structs.replace(
        history,
        committed=committed,
        max_committed_index=max(history.max_committed_index, node.commit_index),
    )


def _check_durable(run: _Pass, node: NodeObservation, previous: NodeObservation | None) -> None:
    """Committed entries are never lost, across crashes too (paper section 5.4): a node's log
    (or snapshot) keeps the committed entry at its commit index, and the commit index never
    goes back while the node stays up."""
    if (
        previous is not None
        and node.up
        and previous.up
        and node.node_id not in run.history.down_since_seen
        and node.commit_index < previous.commit_index
    ):
        run.violate(
            COMMIT_INDEX_MONOTONIC,
            (node.node_id,),
            f"node {node.node_id}'s commit index went back from {previous.commit_index} to "
            f"{node.commit_index}",
        )
    record = run.history.committed.get(node.commit_index)
    if record is None:
        return
    term = node.term_at(node.commit_index)
    if term is not None and term != record.entry.term:
        run.violate(
            COMMITTED_ENTRIES_DURABLE,
            (node.node_id, record.node_id),
            f"node {node.node_id} no longer holds committed entry {node.commit_index} "
            f"(term {record.entry.term}); its log has term {term} there",
        )
    if node.up and node.node_id in run.history.down_since_seen and node.commit_index > 0:
        run.seen.add(RESTART_WITH_COMMITTED)


def _check_leader_completeness(run: _Pass, node: NodeObservation) -> None:
    """Leader Completeness (paper Figure 3, section 5.4): a leader of a term later than the
    one in which an entry was committed holds that entry."""
    history = run.history
    if node.role != "leader":
        return
    check = history.leader_checks.get(node.node_id)
    verified = check.verified_index if check is not None and check.term == node.term else 0
    for index in range(max(verified, node.snapshot.index) + 1, history.max_committed_index + 1):
        record = history.committed.get(index)
        if record is None or node.term <= record.max_term_seen:
            continue
        run.seen.add(LEADER_HOLDS_EARLIER_COMMITS)
        if node.term_at(index) != record.entry.term:
            run.violate(
                LEADER_COMPLETENESS,
                (node.node_id, record.node_id),
                f"leader {node.node_id} of term {node.term} lacks entry {index} (term "
                f"{record.entry.term}) committed before its term began",
            )
    run.history = msgspec.structs.replace(
        history,
        leader_checks=history.leader_checks.set(
            node.node_id,
            LeaderCheck(term=node.term, verified_index=history.max_committed_index),
        ),
    )


def _uncommitted_conf_changes(node: NodeObservation, committed: int) -> list[Entry]:
    start = max(committed, node.applied_index, node.snapshot.index) - node.snapshot.index
    return [entry for entry in node.log[start:] if entry.kind == "conf_change"]


def _check_configuration(
    run: _Pass, node: NodeObservation, previous: NodeObservation | None
) -> None:
    """At most one conf change is pending: a leader's log holds at most one conf change entry
    beyond the highest commit index any node has reached (etcd raft proposes one only when the
    previous one is applied; the single-server change rule of the Ongaro thesis section 4.1
    and the joint-consensus rule of paper section 6). A new leader may not yet know that an
    earlier change committed, so its own applied index is not the reference."""
    if previous is not None and previous.up and node.up and node.conf_state != previous.conf_state:
        run.seen.add(CONF_CHANGE_APPLIED)
    if node.up and node.conf_state.is_joint():
        run.history = msgspec.structs.replace(
            run.history, joint_nodes=run.history.joint_nodes | {node.node_id}
        )
    elif node.up and node.node_id in run.history.joint_nodes:
        run.seen.add(JOINT_ENTERED_AND_LEFT)
    if node.role != "leader":
        return
    if previous is not None and previous.log is node.log and previous.role == "leader":
        return  # the committed point only grows, so an unchanged log cannot newly fail
    committed = max(run.history.max_committed_index, run.max_commit_now)
    pending = _uncommitted_conf_changes(node, committed)
    if len(pending) > 1:
        run.violate(
            SINGLE_PENDING_CONF_CHANGE,
            (node.node_id,),
            f"leader {node.node_id} has {len(pending)} conf changes beyond the commit index "
            f"{committed}, at indices {[entry.index for entry in pending]}",
        )


def _check_node(
    run: _Pass, node: NodeObservation, previous: NodeObservation | None, max_term: int
) -> None:
    first_new = _first_new_index(previous, node)
    if first_new:
        _check_new_entries(run, node, first_new)
    _check_terms_and_votes(run, node, previous)
    if node.up:
        _check_leader(run, node, previous)
        if previous is not None and previous.up and node.snapshot.index > previous.applied_index:
            run.seen.add(SNAPSHOT_INSTALLED)
    _record_commits(run, node, previous, max_term)
    _check_durable(run, node, previous)
    if node.up:
        _check_leader_completeness(run, node)
    _check_configuration(run, node, previous)


def _recheck_unchanged(run: _Pass, node: NodeObservation) -> None:
    """A node observed exactly as at the previous step (the same object). Everything
    ``_check_node`` judges from the node alone gave the same verdict then; what other nodes
    changed since can still matter in two places, re-examined here: a committed entry recorded
    since at the node's commit index (committed entries durable), and entries committed since
    that a leader must hold (Leader Completeness)."""
    _check_durable(run, node, node)
    if node.up and node.role == "leader":
        check = run.history.leader_checks.get(node.node_id)
        verified = check is not None and check.term == node.term
        if not verified or check is None or check.verified_index < run.history.max_committed_index:
            _check_leader_completeness(run, node)


def _partition_companion(run: _Pass, observation: ClusterObservation) -> None:
    history = run.history
    highest = max((node.commit_index for node in observation.nodes if node.up), default=0)
    if observation.partitioned:
        run.history = msgspec.structs.replace(history, was_partitioned=True, commit_at_heal=-1)
        return
    if history.was_partitioned and history.commit_at_heal < 0:
        run.history = msgspec.structs.replace(history, commit_at_heal=highest)
    elif history.commit_at_heal >= 0 and highest > history.commit_at_heal:
        run.seen.add(COMMIT_AFTER_HEAL)


def check_step(
    history: RaftHistory, observation: ClusterObservation
) -> tuple[RaftHistory, tuple[Violation, ...]]:
    """Check one observation against every safety property; return the new history (which
    also records every ``sometimes`` companion seen so far) and the violations, if any."""
    run = _Pass(history, max((node.commit_index for node in observation.nodes), default=0))
    max_term = max((node.term for node in observation.nodes), default=0)
    previous_nodes = history.previous
    down: set[int] = set(history.down_since_seen)
    changed: list[NodeObservation] = []
    for node in observation.nodes:
        previous = previous_nodes.get(node.node_id)
        if previous is node:
            _recheck_unchanged(run, node)
        else:
            _check_node(run, node, previous, max_term)
            changed.append(node)
    for node in changed:
        if not node.up:
            down.add(node.node_id)
        else:
            down.discard(node.node_id)
        previous_nodes = previous_nodes.set(node.node_id, node)
    _partition_companion(run, observation)
    run.history = msgspec.structs.replace(
        run.history,
        steps=history.steps + 1,
        previous=previous_nodes,
        down_since_seen=frozenset(down),
        sometimes_seen=run.history.sometimes_seen | run.seen,
    )
    return run.history, tuple(run.violations)
