"""The reconstructed cluster as ``spec.raft`` sees it: the cross-check with raftcore's invariants.

The validator's views (one per node, the first of its possible states) are mapped to
``models.raft.ClusterObservation`` and judged by ``spec.raft.check_step``, the same safety
properties the simulator checks. Log entries whose term the trace never revealed cannot be shown
to ``spec.raft``: every node's log is presented from the highest index any node holds with an
unknown term, as a snapshot there (with the term some node knows, else 0), followed by the known
entries. Building an observation costs the total log length, so the validator checks at
checkpoints spaced by at least that many events (linear overall) and at the end of the trace.
"""

from __future__ import annotations

import msgspec
from immutables import Map

from models.raft import (
    ClusterObservation,
    ConfState,
    Entry,
    NodeObservation,
    SnapshotMetadata,
)
from spec.property import Violation as PropertyViolation
from spec.raft import RaftHistory, check_step
from spec.raft_validation.node_view import UNKNOWN_TERM, NodeView, term_at


def node_numbers(names: list[str]) -> dict[str, int]:
    """Integer ids for ``spec.raft``: the names themselves when all are positive decimals."""
    if all(name.isdecimal() and int(name) > 0 for name in names):
        return {name: int(name) for name in names}
    return {name: position for position, name in enumerate(sorted(names), start=1)}


def unknown_prefix(views: list[NodeView]) -> tuple[int, int]:
    """The highest index any node holds with an unknown term, and that index's known term."""
    highest = 0
    for view in views:
        for index in range(view.last_index, highest, -1):
            if term_at(view, index) == UNKNOWN_TERM:
                highest = index
                break
    known = 0
    for view in views:
        term = term_at(view, highest) if highest <= view.last_index else UNKNOWN_TERM
        if term != UNKNOWN_TERM:
            known = term
            break
    return highest, known


def node_observation(
    view: NodeView, numbers: dict[str, int], snapshot_index: int, snapshot_term: int, up: bool
) -> NodeObservation:
    """One node's view as ``spec.raft`` observes it."""
    base = min(snapshot_index, view.last_index)
    base_term = snapshot_term if base == snapshot_index else max(term_at(view, base), 0)
    log = tuple(
        Entry(term=term_at(view, index), index=index)
        for index in range(base + 1, view.last_index + 1)
    )
    voters = tuple(sorted(numbers[name] for name in view.voters if name in numbers))
    outgoing = tuple(sorted(numbers[name] for name in view.outgoing_voters if name in numbers))
    return NodeObservation(
        node_id=numbers[view.node],
        up=up,
        term=view.term,
        vote=numbers.get(view.vote, 0) if view.vote is not None else 0,
        commit_index=view.commit,
        log=log,
        snapshot=SnapshotMetadata(index=base, term=base_term),
        role=view.role if up else None,
        lead=0,
        applied_index=view.commit,
        conf_state=ConfState(voters=voters, voters_outgoing=outgoing),
        pending_conf_index=0,
    )


def cluster_observation(
    views: Map[str, tuple[NodeView, ...]], restarted: frozenset[str] = frozenset()
) -> ClusterObservation:
    """The primary view of every node, as one cluster observation; nodes that restarted since
    the last observation are shown down (their volatile state, commit index included, may
    have gone back to what they persisted)."""
    primary = [views[name][0] for name in sorted(views.keys())]
    numbers = node_numbers([view.node for view in primary])
    snapshot_index, snapshot_term = unknown_prefix(primary)
    nodes = sorted(
        (
            node_observation(
                view, numbers, snapshot_index, snapshot_term, view.node not in restarted
            )
            for view in primary
        ),
        key=lambda node: node.node_id,
    )
    return ClusterObservation(nodes=tuple(nodes))


def check_cluster(
    history: RaftHistory,
    views: Map[str, tuple[NodeView, ...]],
    restarted: frozenset[str] = frozenset(),
) -> tuple[RaftHistory, tuple[PropertyViolation, ...]]:
    """``spec.raft``'s safety properties on the reconstructed cluster. A restarted node is
    compared afresh: its term and commit index may go back to what it had persisted."""
    observation = cluster_observation(views, restarted)
    numbers = node_numbers(sorted(views.keys()))
    previous = history.previous
    for name in sorted(restarted):
        if numbers[name] in previous:
            previous = previous.delete(numbers[name])
    if previous is not history.previous:
        history = msgspec.structs.replace(history, previous=previous)
    return check_step(history, observation)
