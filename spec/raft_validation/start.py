"""A node's first state and its restarts, as the reference sees them.

``initial_view`` takes a node's first reported state as given (log entries unknown, but for the
bootstrap configuration entries an ``init`` names); ``restart`` resumes what the node persisted
and forgets its volatile state.
"""

from __future__ import annotations

import msgspec
from immutables import Map
from msgspec import UNSET

from models.raft_events import Init, NodeState, RaftEvent
from spec.raft_validation import rules
from spec.raft_validation.node_view import (
    RESTARTED,
    Entry,
    Failure,
    NodeView,
    with_appended,
    with_unknown_tail,
)
from spec.raft_validation.transitions import Outcome


def initial_view(node: str, event: RaftEvent) -> NodeView:
    """A node first seen: its reported state is taken as given, its log entries unknown (but
    for bootstrap configuration entries an Init names)."""
    view = NodeView(node=node)
    state = event.state
    if state is UNSET:
        return view
    config = state.config
    view = msgspec.structs.replace(
        view,
        term=state.term if state.term is not UNSET else 0,
        vote=state.vote if state.vote is not UNSET else None,
        role=state.role if state.role is not UNSET else "follower",
        voters=frozenset(config.voters) if config is not UNSET else frozenset(),
        outgoing_voters=frozenset(config.outgoing_voters) if config is not UNSET else frozenset(),
        learners=(
            frozenset(config.learners)
            if config is not UNSET and config.learners is not UNSET
            else frozenset()
        ),
        config_unknown=config is UNSET,
    )
    if isinstance(event, Init) and event.bootstrap_changes:
        entries: tuple[Entry, ...] = tuple((1, (change,)) for change in event.bootstrap_changes)
        view = with_appended(view, entries, 0)
    if state.last_log_index is not UNSET:
        view = with_unknown_tail(view, state.last_log_index)
    commit = state.commit_index if state.commit_index is not UNSET else 0
    applied = 0
    if isinstance(event, Init) and event.applied_index is not UNSET:
        applied = min(event.applied_index, commit)
    return msgspec.structs.replace(
        view, commit=commit, commit_ceiling=commit, applied_config_index=applied
    )


def restart(view: NodeView, event: Init) -> Outcome:
    """A restart resumes the persisted term, vote and log; volatile state is lost."""
    state = event.state if event.state is not UNSET else NodeState()
    durable = view.durable
    if durable is not None:
        for field, kept, reported in (
            ("term", durable.term, state.term),
            ("vote", durable.vote, state.vote),
        ):
            if reported is not UNSET and reported != kept:
                return Failure(
                    rule=rules.RESTART_FROM_PERSISTED,
                    detail=f"node {view.node} restarted with {field} {reported}, but it had "
                    f"persisted {field} {kept}",
                    expected=f"{field}={kept}",
                    reported=f"{field}={reported}",
                )
    term = durable.term if durable is not None else view.term
    vote = durable.vote if durable is not None else view.vote
    last_index = view.last_index
    if state.last_log_index is not UNSET and state.last_log_index <= view.last_index:
        last_index = state.last_log_index
    commit = view.commit
    if state.commit_index is not UNSET and state.commit_index <= view.commit:
        commit = state.commit_index
    config = state.config
    restarted = msgspec.structs.replace(
        view,
        voters=frozenset(config.voters) if config is not UNSET else view.voters,
        outgoing_voters=(
            frozenset(config.outgoing_voters) if config is not UNSET else view.outgoing_voters
        ),
        applied_config_index=RESTARTED,
        reapply_floor=event.applied_index if event.applied_index is not UNSET else 0,
        term=term if state.term is UNSET else state.term,
        vote=vote if state.vote is UNSET else state.vote,
        role="follower",
        last_index=last_index,
        commit=min(commit, last_index),
        commit_ceiling=min(commit, last_index),
        votes_granted=frozenset(),
        pre_votes_granted=frozenset(),
        match=Map(),
        vote_requests=Map(),
    )
    return (restarted,)
