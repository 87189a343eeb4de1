"""Validating a whole trace: every event through the checker, and the reconstructed cluster
through ``spec.raft`` at checkpoints.

``validate(events, options)`` returns the first ``Violation`` or a ``Summary``. The cluster
checkpoints are spaced by at least the total log length in events (building the observation
costs that much), taken only when every node's state is settled (an open choice may still be
undone), and once more at the end; nodes restarted since the last checkpoint are compared afresh.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from models.raft_events import Init
from spec.raft import RaftHistory
from spec.raft_validation import rules
from spec.raft_validation.checker import (
    LocatedEvent,
    Options,
    Summary,
    ValidatorState,
    Violation,
    step,
    violation_at,
)
from spec.raft_validation.cluster import check_cluster
from spec.raft_validation.node_view import Failure


def summarize(state: ValidatorState) -> Summary:
    """Counts for a trace that validated."""
    terms = state.terms | {view.term for views in state.views.values() for view in views[:1]}
    return Summary(
        events=state.events,
        nodes=tuple(sorted(state.views.keys())),
        terms=len({term for term in terms if term > 0}),
        highest_term=max(terms, default=0),
        leaders=len(state.leaders),
        committed_entries=state.committed_max,
        commit_advances=state.commit_advances,
        messages_sent=len(state.sent),
        messages_received=state.received,
        open_choices=state.open_choices,
    )


def validate(events: Iterable[LocatedEvent], options: Options) -> Summary | Violation:
    """Check a whole trace: the first violation, or the summary of a consistent trace."""
    state = ValidatorState()
    history = RaftHistory()
    next_checkpoint = CHECKPOINT_EVENTS
    last: LocatedEvent | None = None
    restarted: frozenset[str] = frozenset()
    for located in events:
        if isinstance(located.event, Init) and located.event.node in state.views:
            restarted |= {located.event.node}
        stepped = step(state, located, options)
        if isinstance(stepped, Violation):
            return stepped
        state, last = stepped, located
        if (
            options.cluster_checks
            and state.events >= next_checkpoint
            and all(len(views) == 1 for views in state.views.values())
        ):
            # Only when every node's state is settled: an open choice may still be undone.
            history, failed = cluster_checkpoint(history, state, located, restarted)
            restarted = frozenset()
            if failed is not None:
                return failed
            total_log = sum(views[0].last_index for views in state.views.values())
            next_checkpoint = state.events + max(CHECKPOINT_EVENTS, total_log)
    settled = all(len(views) == 1 for views in state.views.values())
    if options.cluster_checks and last is not None and settled:
        _, failed = cluster_checkpoint(history, state, last, restarted)
        if failed is not None:
            return failed
    return summarize(state)


CHECKPOINT_EVENTS = 256


def cluster_checkpoint(
    history: RaftHistory,
    state: ValidatorState,
    located: LocatedEvent,
    restarted: frozenset[str],
) -> tuple[RaftHistory, Violation | None]:
    """``spec.raft``'s invariants on the reconstructed cluster after ``located``."""
    history, violations = check_cluster(history, state.views, restarted)
    if not violations:
        return history, None
    first = violations[0]
    rule = rules.Rule(
        name=f"spec.raft/{first.property_name}",
        statement=f"spec.raft property {first.property_name} on the reconstructed cluster",
        source="spec/raft (the invariants the simulator checks)",
    )
    views = state.views.get(located.event.node)
    failure = Failure(
        rule=rule,
        detail=f"{first.reason} (nodes {list(first.nodes)}; checked at or before this event)",
    )
    assert views is not None
    violation = violation_at(located, state.events - 1, views[0], failure)
    return history, msgspec.structs.replace(violation, choices_cut=state.choices_cut)
