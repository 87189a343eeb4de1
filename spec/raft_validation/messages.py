"""Sending and receiving messages in the reference.

``on_send`` checks that a message agrees with its sender's view (Figure 2's arguments: term, log
position, commit index; vote responses only for requests Raft lets the node grant) and applies a
granted vote. ``on_receive`` applies a message to the receiver's view: a higher term first makes
it a follower of that term (section 5.1), then the message is handled as Figure 2 says, keeping
every outcome Raft or the trace leaves open.
"""

from __future__ import annotations

import msgspec
from msgspec import UNSET

from models.raft_events import Message
from spec.raft_validation import rules
from spec.raft_validation.node_view import (
    UNKNOWN_ENTRY,
    UNKNOWN_TERM,
    Carried,
    Entry,
    Failure,
    NodeView,
    SnapshotLog,
    entries_between,
    snapshot_of,
    term_at,
    with_leader_entry,
    with_snapshot,
    with_term_pinned,
    with_unknown_log,
    with_unknown_tail,
)
from spec.raft_validation.observe import with_untraced_entries
from spec.raft_validation.transitions import (
    Outcome,
    append_outcomes,
    on_receive_vote_request,
    reset_to_term,
)

REQUESTS_FROM_LEADERS = frozenset({"append_request", "heartbeat", "snapshot"})
UNTERMED = frozenset({"vote_response", "pre_vote_response", "read_index_request"})
"""Messages whose term need not be the sender's: a (pre-)vote response carries the request's
term; etcd-io/raft sends MsgReadIndex with no term (raft.go:536-542)."""


def mismatch(view: NodeView, message: Message, what: str, expected: str, reported: str) -> Failure:
    """A sent message that disagrees with its sender's state."""
    return Failure(
        rule=rules.MESSAGE_MATCHES_SENDER,
        detail=f"node {view.node} sent {message.type} to {message.destination} in term "
        f"{message.term}: {what}",
        expected=expected,
        reported=reported,
    )


def check_log_position(
    view: NodeView, message: Message, index: int, term: int | None, what: str
) -> NodeView | Failure:
    """The sender's log has an entry of ``term`` at ``index`` (pinning an unknown term)."""
    if index > view.last_index:
        return mismatch(
            view,
            message,
            f"{what} {index} is beyond its last log index {view.last_index}",
            f"{what}<={view.last_index}",
            f"{what}={index}",
        )
    if term is None:
        return view
    pinned = with_term_pinned(view, index, term)
    if pinned is None:
        return mismatch(
            view,
            message,
            f"its log has another term at index {index}",
            f"term at {index} as in the sender's log",
            f"term={term}",
        )
    return pinned


def check_sender_role(view: NodeView, message: Message) -> Failure | None:
    """Only leaders send appends, heartbeats and snapshots; only candidates ask for votes."""
    wanted = {
        "append_request": "leader",
        "heartbeat": "leader",
        "snapshot": "leader",
        "vote_request": "candidate",
        "pre_vote_request": "pre_candidate",
        "read_index_response": "leader",
    }.get(message.type)
    if wanted is not None and view.role != wanted:
        return mismatch(view, message, f"it is a {view.role}", f"role={wanted}", view.role)
    expected_term = view.term + 1 if message.type == "pre_vote_request" else view.term
    if message.type not in UNTERMED and message.term != (expected_term):
        return mismatch(
            view,
            message,
            f"the message carries term {message.term}, the sender is in term {view.term}",
            f"term={expected_term}",
            f"term={message.term}",
        )
    return None


def on_send(
    view: NodeView,
    message: Message,
    *,
    receives_logged: bool = True,
    untraced_entries: bool = False,
) -> NodeView | Failure:
    """Check ``message`` against its sender's view; a granted vote is recorded (when the
    node's receives are not traced, the request it answers is unknown). With
    ``untraced_entries``, a leader's message beyond its log reveals untraced entries."""
    refusal = check_sender_role(view, message)
    if refusal is not None:
        return refusal
    kind = message.type
    if kind in ("vote_request", "pre_vote_request") and message.last_log_index is not UNSET:
        return check_vote_request(view, message)
    if kind == "append_request" and message.prev_log_index is not UNSET:
        return check_append_request(view, message, untraced_entries=untraced_entries)
    if kind in ("heartbeat", "snapshot"):
        if (
            kind == "snapshot"
            and message.snapshot_index is not UNSET
            and (message.snapshot_index > view.commit)
        ):
            return mismatch(
                view,
                message,
                f"the snapshot index {message.snapshot_index} is beyond its commit "
                f"index {view.commit}",
                f"snapshot_index<={view.commit}",
                f"snapshot_index={message.snapshot_index}",
            )
        return check_commit_argument(view, message)
    if kind == "append_response" and message.success is True:
        return check_append_response(
            view, message, receives_logged=receives_logged, untraced_entries=untraced_entries
        )
    if kind in ("vote_response", "pre_vote_response") and message.granted is True:
        return grant_vote(view, message, receives_logged=receives_logged)
    if kind == "read_index_response":
        return check_read_index(view, message)
    return view


def check_vote_request(view: NodeView, message: Message) -> NodeView | Failure:
    """A (pre-)vote request announces the sender's last log index and term."""
    assert message.last_log_index is not UNSET
    last_term = message.last_log_term if message.last_log_term is not UNSET else None
    if message.last_log_index != view.last_index:
        return mismatch(
            view,
            message,
            f"it announces last log index {message.last_log_index}, its log "
            f"ends at {view.last_index}",
            f"last_log_index={view.last_index}",
            f"last_log_index={message.last_log_index}",
        )
    return check_log_position(view, message, view.last_index, last_term, "last log index")


def check_append_request(
    view: NodeView, message: Message, *, untraced_entries: bool
) -> NodeView | Failure:
    """An append's entries and prevLogIndex/prevLogTerm come from the sender's log."""
    assert message.prev_log_index is not UNSET
    needed = message.prev_log_index + sent_entry_count(message)
    if untraced_entries and needed > view.last_index:
        grown = with_untraced_entries(view, needed)
        if isinstance(grown, Failure):
            return grown
        view = grown
    view = with_leave_joint_entry(view, needed)
    prev_term = message.prev_log_term if message.prev_log_term is not UNSET else None
    checked = check_log_position(view, message, needed, None, "last entry index")
    if isinstance(checked, Failure):
        return checked
    return check_commit_argument(
        check_log_position(view, message, message.prev_log_index, prev_term, "prevLogIndex"),
        message,
    )


def check_append_response(
    view: NodeView, message: Message, *, receives_logged: bool, untraced_entries: bool
) -> NodeView | Failure:
    """A successful append response: allowed only after an acceptable append, and its match
    index is in the sender's log."""
    if view.append_refusal is not None:
        return view.append_refusal
    match_index = message.match_index
    if match_index is UNSET:
        return view
    if (
        untraced_entries
        and view.role == "leader"
        and message.destination == view.node
        and match_index > view.last_index
    ):
        # The leader's self-acknowledgement of an entry it appended (raft.go:845).
        return with_untraced_entries(view, match_index)
    if not receives_logged and match_index > view.last_index:
        # The entries it acknowledges came in messages the trace does not show.
        view = with_unknown_tail(view, match_index)
    return check_log_position(view, message, match_index, None, "match index")


def check_read_index(view: NodeView, message: Message) -> NodeView | Failure:
    """A leader's read index: at most its commit index, once an entry of its term is
    committed (thesis 6.4; etcd-io/raft raft.go:1357 and 2062 committedEntryInCurrentTerm)."""
    index = message.read_index
    if index is UNSET:
        return view
    reason = ""
    if index > view.commit:
        reason = f"read index {index} is above its commit index {view.commit}"
    elif term_at(view, view.commit) not in (view.term, UNKNOWN_TERM):
        reason = (
            f"its commit index {view.commit} holds an entry of term {term_at(view, view.commit)},"
            f" not of its term {view.term}: it has not committed an entry of its term yet"
        )
    if not reason:
        return view
    return Failure(
        rule=rules.READ_INDEX_RULE,
        detail=f"leader {view.node} answered a read index request from "
        f"{message.destination} in term {message.term}: {reason}",
        expected=f"read_index<={view.commit} after committing an entry of term {view.term}",
        reported=f"read_index={index}",
    )


def with_leave_joint_entry(view: NodeView, needed_last_index: int) -> NodeView:
    """A joint leader's log may hold one entry more than the trace showed: etcd-io/raft traces
    neither Replicate nor ChangeConf for the entry that leaves a joint configuration."""
    if view.outgoing_voters and needed_last_index == view.last_index + 1:
        return with_leader_entry(view, (view.term, ()))
    return view


def check_commit_argument(view: NodeView | Failure, message: Message) -> NodeView | Failure:
    """A leader never announces a commit index above its own."""
    if isinstance(view, Failure) or message.leader_commit is UNSET:
        return view
    if message.leader_commit > view.commit:
        return mismatch(
            view,
            message,
            f"it announces commit index {message.leader_commit} above its own {view.commit}",
            f"leader_commit<={view.commit}",
            f"leader_commit={message.leader_commit}",
        )
    return view


def sent_entry_count(message: Message) -> int:
    """How many entries an append request carries (0 when the trace does not say)."""
    if message.entry_terms is not UNSET:
        return len(message.entry_terms)
    if message.entry_count is not UNSET:
        return message.entry_count
    return 0


def grant_vote(view: NodeView, message: Message, *, receives_logged: bool) -> NodeView | Failure:
    """A granted (pre-)vote: allowed only for a request Raft lets the node grant."""
    candidate = message.destination
    pre_vote = message.type == "pre_vote_response"
    if candidate == view.node:
        if pre_vote or view.vote == view.node:
            return view
        return Failure(
            rule=rules.ONE_VOTE_PER_TERM,
            detail=f"node {view.node} voted for itself in term {message.term} but holds a "
            f"vote for {view.vote}",
            expected=f"vote={view.vote}",
            reported=f"vote={view.node}",
        )
    request = view.vote_requests.get(candidate)
    if request is None or request.term != message.term or request.pre_vote != pre_vote:
        if view.vote not in (None, candidate) and not pre_vote and message.term == view.term:
            return Failure(
                rule=rules.ONE_VOTE_PER_TERM,
                detail=f"node {view.node} granted its vote to {candidate} in term "
                f"{message.term}, but it had already voted for {view.vote} in that term",
                expected=f"vote for {view.vote} only",
                reported=f"vote granted to {candidate}",
            )
        if not receives_logged:
            return view if pre_vote else msgspec.structs.replace(view, vote=candidate)
        return Failure(
            rule=rules.VOTE_NEEDS_REQUEST,
            detail=f"node {view.node} granted a {'pre-' if pre_vote else ''}vote to "
            f"{candidate} in term {message.term} without having received its request",
            expected="a vote request from the candidate in that term",
            reported=f"vote granted to {candidate}",
        )
    if request.refusal is not None:
        return request.refusal
    if pre_vote:
        return view
    return msgspec.structs.replace(view, vote=candidate)


def on_receive(view: NodeView, message: Message, entries: Carried) -> Outcome:
    """Apply ``message`` to the receiver's view; ``entries`` are the entries it carries."""
    outcomes: list[NodeView] = []
    if view.append_refusal is not None:
        view = msgspec.structs.replace(view, append_refusal=None)
    current = view
    if message.term > view.term and not (
        message.type == "pre_vote_request"
        or (message.type == "pre_vote_response" and message.granted is True)
    ):
        if message.type in ("vote_request", "pre_vote_request"):
            # Inside a leader lease (thesis 4.2.3) a vote request is ignored altogether.
            outcomes.append(view)
        current = reset_to_term(view, message.term)
    if message.term < current.term:
        return (current,)
    handled = handle(current, message, entries)
    if isinstance(handled, Failure):
        return handled if not outcomes else tuple(outcomes)
    return (*handled, *outcomes)


def handle(view: NodeView, message: Message, entries: Carried) -> Outcome:
    """Handle a message of the receiver's own term (or a pre-vote of a later one)."""
    kind = message.type
    if kind in ("vote_request", "pre_vote_request"):
        return (on_receive_vote_request(view, message),)
    if kind == "vote_response" and message.granted is True:
        return (msgspec.structs.replace(view, votes_granted=view.votes_granted | {message.source}),)
    if kind == "pre_vote_response" and message.granted is True:
        granted = view.pre_votes_granted | {message.source}
        return (msgspec.structs.replace(view, pre_votes_granted=granted),)
    if kind == "append_response":
        if view.role != "leader" or message.success is not True or message.match_index is UNSET:
            return (view,)
        matched = min(max(view.match.get(message.source, 0), message.match_index), view.last_index)
        return (msgspec.structs.replace(view, match=view.match.set(message.source, matched)),)
    if kind not in REQUESTS_FROM_LEADERS:
        return (view,)
    if view.role == "leader":
        return Failure(
            rule=rules.ELECTION_SAFETY,
            detail=f"leader {view.node} of term {view.term} received {kind} from "
            f"{message.source}, another leader of the same term",
            expected=f"one leader in term {view.term}",
            reported=f"leaders {sorted({view.node, message.source})}",
        )
    follower = msgspec.structs.replace(view, role="follower")
    if kind == "heartbeat":
        if message.leader_commit is UNSET:
            return (follower,)
        ceiling = max(view.commit_ceiling, min(message.leader_commit, view.last_index))
        return (msgspec.structs.replace(follower, commit_ceiling=ceiling),)
    if kind == "snapshot":
        return on_receive_snapshot(follower, message, entries)
    return on_receive_append(follower, message, entries)


def on_receive_append(view: NodeView, message: Message, entries: Carried) -> Outcome:
    """AppendEntries receiver implementation (Figure 2), with etcd's ignore-below-commit."""
    prev = message.prev_log_index
    if prev is UNSET:
        return (view,)
    if view.append_refusal is not None:
        view = msgspec.structs.replace(view, append_refusal=None)
    carried: tuple[Entry, ...]
    if isinstance(entries, tuple):
        carried = entries
    elif message.entry_terms is not UNSET:
        carried = tuple((term, "unknown") for term in message.entry_terms)
    else:
        carried = (UNKNOWN_ENTRY,) * sent_entry_count(message)
    if prev > view.last_index:
        return (refuse_append(view, message, f"its log ends at {view.last_index}"),)
    matching = view
    if message.prev_log_term is not UNSET:
        pinned = with_term_pinned(view, prev, message.prev_log_term)
        if pinned is None:
            return (
                refuse_append(view, message, f"its entry {prev} has term {term_at(view, prev)}"),
            )
        matching = pinned
    accepted = append_outcomes(matching, message, carried)
    if prev < view.commit:
        # etcd answers an AppendEntries below its commit index without appending.
        if isinstance(accepted, Failure):
            return (view,)
        return (*accepted, view)
    return accepted


def refuse_append(view: NodeView, message: Message, reason: str) -> NodeView:
    """The view after an AppendEntries that fails the consistency check: unchanged, but it must
    answer with a rejection and keep its log."""
    refusal = Failure(
        rule=rules.LOG_MATCHING,
        detail=f"node {view.node} accepted entries from {message.source} after prevLogIndex "
        f"{message.prev_log_index} with prevLogTerm {message.prev_log_term}, but {reason}",
        expected="the AppendEntries is rejected and the log is unchanged",
        reported="the entries were accepted",
    )
    return msgspec.structs.replace(view, append_refusal=refusal)


def on_receive_snapshot(view: NodeView, message: Message, entries: Carried) -> Outcome:
    """InstallSnapshot: ignore an old one, fast-forward the commit index, or restore."""
    index = message.snapshot_index
    if index is UNSET or index <= view.commit:
        return (view,)
    if isinstance(entries, SnapshotLog) and entries.index == index:
        restored = with_snapshot(view, entries)
    else:
        restored = with_unknown_log(view, index)
    restored = msgspec.structs.replace(
        restored,
        commit=index,
        commit_ceiling=max(view.commit_ceiling, index),
        applied_config_index=index,
        config_unknown=True,
    )
    outcomes = [restored, view]  # a snapshot may also be ignored (etcd restore() refusing it)
    if index <= view.last_index:
        fast_forward = msgspec.structs.replace(view, commit_ceiling=max(view.commit_ceiling, index))
        outcomes.append(fast_forward)
    return tuple(outcomes)


def entries_of(view: NodeView, message: Message) -> Carried:
    """The entries ``message`` carries, from its sender's view at sending time."""
    if message.type == "append_request" and message.prev_log_index is not UNSET:
        first = message.prev_log_index + 1
        return entries_between(view, first, message.prev_log_index + sent_entry_count(message))
    if message.type == "snapshot" and message.snapshot_index is not UNSET:
        return snapshot_of(view, message.snapshot_index)
    return None
