"""The trace validator: a Raft trace checked event by event against the reference relation.

The validator holds, per node, the views the node may be in (normally one; more while the trace
leaves a choice open, until a later report settles it), every message sent so far (a receive must
match one: the network may lose, duplicate and reorder messages but not invent them), the leader
of each term, and every entry known to be committed with the term it was committed in. Each event
is a claimed transition: it must be allowed from at least one view (see ``transitions`` and
``messages``), and the state it reports must match the result (``observe``). Cluster-wide
properties are checked as the trace goes: one leader per term, no two different entries committed
at one index, committed entries never overwritten, and every new leader holding the entries
committed in earlier terms. Work per event is constant when nothing is unknown (appends cost the
entries they carry), so validation is linear in the trace length.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from immutables import Map
from msgspec import UNSET

from models.raft_events import (
    Append,
    ApplyConfig,
    BecomeCandidate,
    BecomeFollower,
    BecomeLeader,
    BecomePreCandidate,
    Commit,
    Init,
    Message,
    NodeState,
    Observe,
    Persist,
    RaftEvent,
    Receive,
    Send,
)
from spec.raft_validation import rules
from spec.raft_validation.messages import entries_of, on_receive, on_send
from spec.raft_validation.node_view import (
    UNKNOWN_TERM,
    Carried,
    Durable,
    Failure,
    NodeView,
    describe_state,
    describe_view,
    known_indexes,
    snapshot_of,
    term_at,
)
from spec.raft_validation.observe import observe
from spec.raft_validation.start import initial_view, restart
from spec.raft_validation.transitions import (
    Outcome,
    on_append,
    on_apply_config,
    on_become_candidate,
    on_become_follower,
    on_become_leader,
    on_become_pre_candidate,
    reset_to_term,
)

MAX_VIEWS_PER_NODE = 16


class LocatedEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event with the file and line it came from."""

    source: str
    line: int
    event: RaftEvent


class Violation(msgspec.Struct, frozen=True, kw_only=True):
    """The first event Raft does not allow, and why."""

    source: str
    line: int
    position: int
    node: str
    event_kind: str
    rule: rules.Rule
    detail: str
    expected: str
    reported: str
    reference_state: str
    reported_state: str
    choices_cut: int = 0
    """Events before this one after which possible states were dropped (over the bound): the
    violation may be due to a dropped possibility, so the verdict is inconclusive."""
    inconclusive: bool = False
    """The trace does not determine whether this event breaks the rule (exit code 3)."""


class Summary(msgspec.Struct, frozen=True, kw_only=True):
    """Counts for a consistent trace."""

    events: int
    nodes: tuple[str, ...]
    terms: int
    highest_term: int
    leaders: int
    committed_entries: int
    commit_advances: int
    messages_sent: int
    messages_received: int
    open_choices: int


class Options(msgspec.Struct, frozen=True, kw_only=True):
    """What the trace logs: nodes whose receives (sends) are traced; others are unknown."""

    receives_logged: frozenset[str]
    sends_logged: frozenset[str]
    cluster_checks: bool = True
    instrumentation: Literal["full", "etcd-raft"] = "full"
    """``etcd-raft``: etcd-io/raft's tracer, which never traces pre-vote messages, MsgTimeoutNow,
    MsgReadIndex(Resp), MsgTransferLeader, a configuration entry without voter changes (the
    one leaving a joint configuration) or a snapshot the application sends itself. The
    validator then lets a term rise to a term already seen without a traced message, infers
    one such entry per unexplained step of a leader's log, and accepts an unsent snapshot of
    committed entries."""


class ValidatorState(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the validator knows after a prefix of the trace."""

    views: Map[str, tuple[NodeView, ...]] = msgspec.field(default_factory=Map)
    sent: Map[Message, Carried] = msgspec.field(default_factory=Map)
    leaders: Map[int, str] = msgspec.field(default_factory=Map)
    committed: Map[int, tuple[int, int]] = msgspec.field(default_factory=Map)
    committed_max: int = 0
    committed_by_term: Map[int, int] = msgspec.field(default_factory=Map)
    grants: Map[tuple[int, str], frozenset[str]] = msgspec.field(default_factory=Map)
    events: int = 0
    commit_advances: int = 0
    received: int = 0
    open_choices: int = 0
    choices_cut: int = 0
    terms: frozenset[int] = frozenset()


def transition(
    state: ValidatorState, view: NodeView, event: RaftEvent, options: Options
) -> Outcome:
    """The views ``view`` may move to on ``event`` (before comparing the reported state)."""
    if isinstance(event, Observe | Persist | Commit):
        return (view,)  # no transition: only the reported state is compared
    receives_logged = view.node in options.receives_logged
    if isinstance(event, Receive):
        return on_receive(view, event.message, carried_by(state, event.message))
    if isinstance(event, Send):
        sender = view
        message = event.message
        if (
            not receives_logged
            and message.term > view.term
            and message.type
            not in (
                "pre_vote_request",
                "pre_vote_response",
            )
        ):
            # The message that moved this node to a newer term is not in the trace.
            sender = reset_to_term(view, message.term)
        sent = on_send(
            sender,
            message,
            receives_logged=receives_logged,
            untraced_entries=options.instrumentation == "etcd-raft",
        )
        return sent if isinstance(sent, Failure) else (sent,)
    if isinstance(event, BecomeFollower):
        # etcd-io/raft steps down on messages it does not trace (a rejected MsgPreVoteResp,
        # MsgTimeoutNow, MsgReadIndexResp: raft.go:1092-1121), to a term some node holds.
        known_terms = max(state.terms, default=0) if options.instrumentation == "etcd-raft" else 0
        return on_become_follower(
            view, event, receives_logged=receives_logged, untraced_term_ceiling=known_terms
        )
    if isinstance(event, BecomeCandidate):
        # etcd-io/raft never traces pre-vote messages (state_trace.go traceReceiveMessage).
        pre_votes_logged = receives_logged and options.instrumentation == "full"
        return on_become_candidate(view, event, pre_votes_logged=pre_votes_logged)
    if isinstance(event, BecomePreCandidate):
        return on_become_pre_candidate(view, event)
    if isinstance(event, BecomeLeader):
        granted = state.grants.get((view.term, view.node), frozenset())
        return on_become_leader(view, event, votes_sent_to_node=granted)
    if isinstance(event, Append):
        return on_append(view, event)
    if isinstance(event, ApplyConfig):
        return on_apply_config(view, event, receives_logged=receives_logged)
    if isinstance(event, Init):
        return restart(view, event)
    return (view,)


def reported_state(event: RaftEvent) -> NodeState | None:
    """The state the event reports, with a Commit event's index folded in."""
    state = event.state if event.state is not UNSET else None
    if isinstance(event, Commit):
        state = msgspec.structs.replace(state or NodeState(), commit_index=event.commit_index)
    return state


def advance_views(
    state: ValidatorState, views: tuple[NodeView, ...], event: RaftEvent, options: Options
) -> tuple[NodeView, ...] | Failure:
    """All views the node may be in after ``event``, or the first view's failure."""
    node = event.node
    report = reported_state(event)
    if len(views) == 1:
        single = advance_single(state, views[0], event, report, options)
        if single is not None:
            return single
    first_failure: Failure | None = None
    survivors: dict[tuple[object, ...], NodeView] = {}
    for view in views:
        outcome = transition(state, view, event, options)
        if isinstance(outcome, Failure):
            first_failure = first_failure or outcome
            continue
        for candidate in outcome:
            checked: NodeView | Failure = candidate
            if report is not None:
                checked = observe(
                    candidate,
                    report,
                    receives_logged=node in options.receives_logged,
                    sends_logged=node in options.sends_logged,
                    untraced_entries=options.instrumentation == "etcd-raft",
                )
            if isinstance(checked, Failure):
                first_failure = first_failure or checked
                continue
            checked = cluster_failure(state, view, checked, event) or checked
            if isinstance(checked, Failure):
                first_failure = first_failure or checked
                continue
            if isinstance(event, Persist):
                durable = Durable(
                    term=checked.term, vote=checked.vote, last_index=checked.last_index
                )
                checked = msgspec.structs.replace(checked, durable=durable)
            survivors.setdefault(checked.key(), checked)
    if not survivors:
        assert first_failure is not None
        return first_failure
    # Beyond the bound the extra possibilities are dropped; a later violation is then
    # inconclusive (``ValidatorState.choices_cut``).
    return tuple(survivors.values())[: MAX_VIEWS_PER_NODE + 1]


def advance_single(
    state: ValidatorState,
    view: NodeView,
    event: RaftEvent,
    report: NodeState | None,
    options: Options,
) -> tuple[NodeView, ...] | Failure | None:
    """The common case of one view and one outcome; None when the general path is needed."""
    outcome = transition(state, view, event, options)
    if isinstance(outcome, Failure):
        return outcome
    if len(outcome) != 1 or isinstance(event, Persist):
        return None
    checked = outcome[0]
    if report is not None:
        observed = observe(
            checked,
            report,
            receives_logged=event.node in options.receives_logged,
            sends_logged=event.node in options.sends_logged,
            untraced_entries=options.instrumentation == "etcd-raft",
        )
        if isinstance(observed, Failure):
            return observed
        checked = observed
    if isinstance(event, BecomeLeader | Receive) or checked.commit > view.commit:
        failure = cluster_failure(state, view, checked, event)
        if failure is not None:
            return failure
    return (checked,)


def cluster_failure(
    state: ValidatorState, before: NodeView, after: NodeView, event: RaftEvent
) -> Failure | None:
    """Cluster-wide properties the step from ``before`` to ``after`` could break."""
    if isinstance(event, BecomeLeader):
        leader = state.leaders.get(after.term)
        if leader is not None and leader != after.node:
            return Failure(
                rule=rules.ELECTION_SAFETY,
                detail=f"node {after.node} became leader of term {after.term}, but node {leader} "
                f"was already elected leader of term {after.term}",
                expected=f"leader of term {after.term} is {leader}",
                reported=f"leader {after.node}",
            )
        missing = completeness_gap(state, after)
        if missing is not None:
            return missing
    if isinstance(event, Receive) and event.message.type in ("append_request", "snapshot"):
        prev = event.message.prev_log_index
        first_changed = prev + 1 if prev is not UNSET else 1
        overwritten = overwrite_of_committed(state, before, after, first_changed)
        if overwritten is not None:
            return overwritten
    if after.commit > before.commit:
        return commit_conflict(state, before.commit, after)
    return None


def completeness_gap(state: ValidatorState, leader: NodeView) -> Failure | None:
    """Leader Completeness: the new leader holds the entries committed in earlier terms.

    Checked at the highest index committed before the leader's term: the reference builds every
    follower log by the AppendEntries consistency check, so holding that entry (same index and
    term) means holding the whole committed prefix (Log Matching).
    """
    index = max(
        (highest for term, highest in state.committed_by_term.items() if term < leader.term),
        default=0,
    )
    if index == 0:
        return None
    entry_term = state.committed[index][0]
    own = term_at(leader, index)
    if index <= leader.last_index and own in (entry_term, UNKNOWN_TERM):
        return None
    commit_term = state.committed[index][1]
    return Failure(
        rule=rules.LEADER_COMPLETENESS,
        detail=f"node {leader.node} became leader of term {leader.term} without the entry at "
        f"index {index} (term {entry_term}) committed in term {commit_term}; its log ends at "
        f"{leader.last_index}",
        expected=f"entry {index} with term {entry_term}",
        reported=f"entry {index} " + (f"with term {own}" if own >= 0 else "missing"),
    )


def overwrite_of_committed(
    state: ValidatorState, before: NodeView, after: NodeView, first_changed: int
) -> Failure | None:
    """A received AppendEntries or snapshot must not replace an entry committed anywhere."""
    if after.log is before.log and after.last_index == before.last_index:
        return None
    # Entries the node did not hold are not overwritten; holding a different entry at a
    # committed index is caught when the node commits it (State Machine Safety).
    highest = min(before.last_index, state.committed_max)
    for index in known_indexes(state.committed, max(first_changed, 1), highest):
        committed = state.committed[index]
        if term_at(before, index) != committed[0]:
            continue  # the node did not hold the committed entry: replacing it is repair
        own = term_at(after, index)
        if index > after.last_index or own not in (committed[0], UNKNOWN_TERM):
            return Failure(
                rule=rules.COMMITTED_NEVER_OVERWRITTEN,
                detail=f"node {after.node} replaced the entry at index {index}, committed with "
                f"term {committed[0]}, by "
                + (f"an entry of term {own}" if index <= after.last_index else "nothing"),
                expected=f"entry {index} keeps term {committed[0]}",
                reported=f"entry {index} term {own if index <= after.last_index else 'removed'}",
            )
    return None


def commit_conflict(state: ValidatorState, old_commit: int, view: NodeView) -> Failure | None:
    """State Machine Safety: an index is committed with one entry only."""
    for index in known_indexes(view.log, old_commit + 1, min(view.commit, view.last_index)):
        term = term_at(view, index)
        known = state.committed.get(index)
        if known is not None and term not in (known[0], UNKNOWN_TERM):
            return Failure(
                rule=rules.STATE_MACHINE_SAFETY,
                detail=f"node {view.node} committed index {index} with an entry of term {term}, "
                f"but an entry of term {known[0]} was committed at index {index} before",
                expected=f"entry {index} with term {known[0]}",
                reported=f"entry {index} with term {term}",
            )
    return None


def record_commits(state: ValidatorState, old_commit: int, view: NodeView) -> ValidatorState:
    """Remember the entries ``view`` newly committed."""
    if view.commit <= old_commit:
        return state
    committed = state.committed
    highest = 0
    with committed.mutate() as mutable:
        for index in known_indexes(view.log, old_commit + 1, min(view.commit, view.last_index)):
            term = term_at(view, index)
            if term != UNKNOWN_TERM and index not in mutable:
                mutable[index] = (term, view.term)
                highest = index
        committed = mutable.finish()
    by_term = state.committed_by_term
    if highest > by_term.get(view.term, 0):
        by_term = by_term.set(view.term, highest)
    return msgspec.structs.replace(
        state,
        committed=committed,
        committed_by_term=by_term,
        committed_max=max(state.committed_max, view.commit),
        commit_advances=state.commit_advances + 1,
    )


def violation_at(
    located: LocatedEvent, position: int, view: NodeView, failure: Failure
) -> Violation:
    """The report of ``failure`` at ``located``."""
    return Violation(
        source=located.source,
        line=located.line,
        position=position,
        node=located.event.node,
        event_kind=type(located.event).__name__,
        rule=failure.rule,
        detail=failure.detail,
        expected=failure.expected,
        reported=failure.reported,
        reference_state=describe_view(view),
        reported_state=describe_state(located.event.state),
        inconclusive=failure.inconclusive,
    )


def carried_by(state: ValidatorState, message: Message) -> Carried:
    """What a received message carries: as sent, or for a snapshot the sender's committed log
    (an application-sent snapshot, see ``unsent``)."""
    carried = state.sent.get(message)
    if carried is not None or message.type != "snapshot" or message.snapshot_index is UNSET:
        return carried
    senders = state.views.get(message.source)
    if senders is None or senders[0].commit < message.snapshot_index:
        return None
    return snapshot_of(senders[0], message.snapshot_index)


def unsent(state: ValidatorState, message: Message, options: Options) -> Failure | None:
    """A received message must have been sent, when its sender's sends are traced. etcd-io/raft
    does not trace a snapshot the application hands over itself (rafttest's ``send-snapshot``):
    one of entries the sender has committed is accepted."""
    if message.source not in options.sends_logged or message in state.sent:
        return None
    if (
        options.instrumentation == "etcd-raft"
        and message.type == "snapshot"
        and carried_by(state, message) is not None
    ):
        return None
    return Failure(
        rule=rules.MESSAGE_WAS_SENT,
        detail=f"node {message.destination} received {message.type} from {message.source} in "
        f"term {message.term}, but {message.source} never sent that message",
        expected="a message sent earlier with these fields",
        reported=msgspec.json.encode(message).decode(),
    )


def step(
    state: ValidatorState, located: LocatedEvent, options: Options
) -> ValidatorState | Violation:
    """The validator after one more event, or the violation it is."""
    event = located.event
    position = state.events
    views = state.views.get(event.node)
    if views is None:
        first = initial_view(event.node, event)
        if isinstance(event, Init) or (event.state is not UNSET and isinstance(event, Persist)):
            return msgspec.structs.replace(
                state, views=state.views.set(event.node, (first,)), events=position + 1
            )
        views = (first,)
    if isinstance(event, Receive):
        missing = unsent(state, event.message, options)
        if missing is not None:
            return violation_at(located, position, views[0], missing)
    advanced = advance_views(state, views, event, options)
    if isinstance(advanced, Failure):
        violation = violation_at(located, position, views[0], advanced)
        return msgspec.structs.replace(violation, choices_cut=state.choices_cut)
    cut = len(advanced) > MAX_VIEWS_PER_NODE
    advanced = advanced[:MAX_VIEWS_PER_NODE]
    primary = advanced[0]
    old_commit = views[0].commit if len(views) == 1 else min(view.commit for view in views)
    if primary.commit > old_commit:
        state = record_commits(state, old_commit, primary)
    state = msgspec.structs.replace(
        state,
        views=state.views.set(event.node, advanced),
        events=position + 1,
        open_choices=state.open_choices + (len(advanced) > 1),
        choices_cut=state.choices_cut + cut,
        terms=state.terms if primary.term in state.terms else state.terms | {primary.term},
        received=state.received + isinstance(event, Receive),
    )
    if isinstance(event, Send):
        state = record_send(state, primary, event.message)
    elif isinstance(event, BecomeLeader):
        state = msgspec.structs.replace(state, leaders=state.leaders.set(primary.term, event.node))
    return state


def record_send(state: ValidatorState, sender: NodeView, message: Message) -> ValidatorState:
    """Remember a sent message (with the entries it carries) and a granted vote."""
    sent = state.sent
    if message not in sent:
        sent = sent.set(message, entries_of(sender, message))
    grants = state.grants
    if message.type == "vote_response" and message.granted is True:
        key = (message.term, message.destination)
        grants = grants.set(key, grants.get(key, frozenset()) | {message.source})
    return msgspec.structs.replace(state, sent=sent, grants=grants)
