"""Comparing a node's reported state with the reference's view of it.

An observation either confirms the view (pinning unknowns it reveals, adopting a commit index the
rules allow) or names the rule the reported state breaks. Fields the node did not report are not
compared. A node whose receives (or sends) are not in the trace may change what those would have
justified (its log, term, vote); the view then adopts the reported value.
"""

from __future__ import annotations

import msgspec
from msgspec import UNSET

from models.raft_events import Configuration, NodeState
from spec.raft_validation import rules
from spec.raft_validation.node_view import (
    UNKNOWN_TERM,
    Entry,
    Failure,
    NodeView,
    quorum_index,
    term_at,
    with_appended,
    with_leader_entry,
    with_term_pinned,
    with_unknown_tail,
)


def observe(
    view: NodeView,
    state: NodeState,
    *,
    receives_logged: bool,
    sends_logged: bool,
    untraced_entries: bool = False,
) -> NodeView | Failure:
    """``view`` updated by the reported ``state``, or the rule the report breaks."""
    current = view
    if state.term is not UNSET and state.term != current.term:
        if receives_logged or state.term < current.term:
            return Failure(
                rule=rules.TERM_RULES,
                detail=(
                    f"node {view.node} reports term {state.term}, but the reference holds term "
                    f"{current.term}: no event seen so far moves it there"
                ),
                expected=f"term={current.term}",
                reported=f"term={state.term}",
            )
        current = msgspec.structs.replace(
            current, term=state.term, vote=None, role="follower", votes_granted=frozenset()
        )
    if state.role is not UNSET and state.role != current.role:
        return Failure(
            rule=rules.ROLE_TRANSITIONS,
            detail=f"node {view.node} reports role {state.role}; the reference holds "
            f"{current.role} (no become_* event explains the change)",
            expected=f"role={current.role}",
            reported=f"role={state.role}",
        )
    if state.vote is not UNSET and state.vote != current.vote:
        voted = observe_vote(current, state.vote, sends_logged=sends_logged)
        if isinstance(voted, Failure):
            return voted
        current = voted
    if state.last_log_index is not UNSET and state.last_log_index != current.last_index:
        grown = observe_log_length(
            current,
            state.last_log_index,
            receives_logged=receives_logged,
            untraced_entries=untraced_entries,
        )
        if isinstance(grown, Failure):
            return grown
        current = grown
    if state.last_log_term is not UNSET:
        pinned = with_term_pinned(current, current.last_index, state.last_log_term)
        if pinned is None and not receives_logged and current.last_index > current.commit:
            # Replaced by entries from a leader, in messages the trace does not show.
            replaced: Entry = (state.last_log_term, "unknown")
            pinned = with_appended(current, (replaced,), current.last_index - 1)
        if pinned is None:
            return Failure(
                rule=rules.STATE_MATCHES_REFERENCE,
                detail=f"node {view.node} reports last log term {state.last_log_term} at index "
                f"{current.last_index}; the reference holds term "
                f"{term_at(current, current.last_index)} there",
                expected=f"last_log_term={term_at(current, current.last_index)}",
                reported=f"last_log_term={state.last_log_term}",
            )
        current = pinned
    if state.config is not UNSET:
        configured = observe_config(current, state.config)
        if isinstance(configured, Failure):
            return configured
        current = configured
    if state.commit_index is not UNSET and state.commit_index != current.commit:
        return observe_commit(current, state.commit_index, receives_logged=receives_logged)
    return current


def observe_config(view: NodeView, config: Configuration) -> NodeView | Failure:
    """A reported configuration: the view's, or a snapshot's not yet known."""
    current = view
    if config.learners is not UNSET and frozenset(config.learners) != view.learners:
        if not view.config_unknown:
            return Failure(
                rule=rules.CONFIG_FROM_COMMITTED_ENTRY,
                detail=f"node {view.node} reports learners {sorted(config.learners)}; the "
                f"reference holds {sorted(view.learners)}",
                expected=f"learners={sorted(view.learners)}",
                reported=f"learners={sorted(config.learners)}",
            )
        current = msgspec.structs.replace(current, learners=frozenset(config.learners))
    voters = frozenset(config.voters)
    outgoing = frozenset(config.outgoing_voters)
    if current.config_unknown and (voters, outgoing) != (
        current.voters,
        current.outgoing_voters,
    ):
        # After a snapshot the configuration is the snapshot's, which the trace may not show.
        return msgspec.structs.replace(
            current,
            voters=voters,
            outgoing_voters=outgoing,
            config_unknown=False,
            outgoing_unknown=False,
        )
    if current.outgoing_unknown and voters == current.voters:
        return msgspec.structs.replace(current, outgoing_voters=outgoing, outgoing_unknown=False)
    if (voters, outgoing) != (current.voters, current.outgoing_voters):
        shown = f"{sorted(voters)}" + (f" & {sorted(outgoing)}" if outgoing else "")
        held = f"{sorted(current.voters)}" + (
            f" & {sorted(current.outgoing_voters)}" if current.outgoing_voters else ""
        )
        return Failure(
            rule=rules.CONFIG_FROM_COMMITTED_ENTRY,
            detail=f"node {view.node} reports configuration {shown}; the reference holds {held} "
            "(configurations change only by applying a committed configuration entry)",
            expected=f"voters={held}",
            reported=f"voters={shown}",
        )
    return current


def observe_vote(view: NodeView, vote: str | None, *, sends_logged: bool) -> NodeView | Failure:
    """A reported vote that differs from the view's."""
    if view.vote is not None:
        rule = rules.ONE_VOTE_PER_TERM if vote is not None else rules.TERM_RULES
        return Failure(
            rule=rule,
            detail=f"node {view.node} reports vote {vote or 'none'} in term {view.term}, but it "
            f"already voted for {view.vote} in term {view.term}",
            expected=f"vote={view.vote}",
            reported=f"vote={vote or 'none'}",
        )
    if sends_logged:
        return Failure(
            rule=rules.VOTE_NEEDS_REQUEST,
            detail=f"node {view.node} reports a vote for {vote} in term {view.term} without "
            "having sent a vote response granting it",
            expected="vote=none",
            reported=f"vote={vote}",
        )
    return msgspec.structs.replace(view, vote=vote)


def with_untraced_entries(view: NodeView, last_index: int) -> NodeView | Failure:
    """A leader's log grown to ``last_index`` by entries the trace did not show. etcd-io/raft
    traces no configuration entry without voter changes (v3.6.0 raft.go:1336 and
    state_trace.go traceChangeConfEvent return early on no changes; traceReplicate, raft.go:831,
    skips entries that are not normal): the entry leaving a joint configuration, proposed by
    raft.go:745-766 (auto-leave) or, with DisableConfChangeValidation, by the application even
    before the joint configuration is applied (raft.go:1331). One such entry is inferred (its
    term is the leader's, its change leaves the voters as they are); more at once are
    inconclusive: the trace does not say what they are."""
    if last_index == view.last_index + 1:
        return with_leader_entry(view, (view.term, ()))
    return Failure(
        rule=rules.LEADER_APPEND_ONLY,
        detail=f"leader {view.node}'s log grew from {view.last_index} to {last_index} without "
        "a traced append; one untraced configuration entry is inferred, not "
        f"{last_index - view.last_index}",
        expected=f"last_log_index<={view.last_index + 1}",
        reported=f"last_log_index={last_index}",
        inconclusive=True,
    )


def observe_log_length(
    view: NodeView, last_index: int, *, receives_logged: bool, untraced_entries: bool = False
) -> NodeView | Failure:
    """A reported last log index that differs from the view's."""
    if view.role == "leader" and last_index > view.last_index:
        if untraced_entries:
            return with_untraced_entries(view, last_index)
        if view.outgoing_voters and last_index == view.last_index + 1:
            # Leaving a joint configuration appends an entry that etcd-style traces omit.
            return with_leader_entry(view, (view.term, ()))
    if last_index > view.last_index and not receives_logged:
        return with_unknown_tail(view, last_index)
    if last_index > view.last_index and view.append_refusal is not None:
        return view.append_refusal
    changed = "grew" if last_index > view.last_index else "shrank"
    rule = rules.STATE_MATCHES_REFERENCE
    if last_index < view.commit:
        rule = rules.COMMITTED_NEVER_OVERWRITTEN
    elif view.role == "leader" and last_index < view.last_index:
        rule = rules.LEADER_APPEND_ONLY
    return Failure(
        rule=rule,
        detail=f"node {view.node}'s log {changed} to last index {last_index}; the reference "
        f"expects last index {view.last_index} (commit index {view.commit})",
        expected=f"last_log_index={view.last_index}",
        reported=f"last_log_index={last_index}",
    )


def observe_commit(view: NodeView, commit: int, *, receives_logged: bool) -> NodeView | Failure:
    """A reported commit index that differs from the view's."""
    if commit < view.commit:
        return Failure(
            rule=rules.COMMIT_MONOTONIC,
            detail=f"node {view.node}'s commit index went from {view.commit} back to {commit}",
            expected=f"commit>={view.commit}",
            reported=f"commit={commit}",
        )
    if commit > view.last_index and not receives_logged:
        view = with_unknown_tail(view, commit)
    if commit > view.last_index:
        return Failure(
            rule=rules.STATE_MATCHES_REFERENCE,
            detail=f"node {view.node} reports commit index {commit} beyond its last log index "
            f"{view.last_index}",
            expected=f"commit<={view.last_index}",
            reported=f"commit={commit}",
        )
    if receives_logged and view.role == "leader":
        replicated = quorum_index(view)
        entry_term = term_at(view, commit)
        if commit > replicated or entry_term not in (view.term, UNKNOWN_TERM):
            reason = (
                f"index {commit} is stored on a majority only up to {replicated}"
                if commit > replicated
                else f"the entry at {commit} is from term {entry_term}, not the current term "
                f"{view.term}"
            )
            return Failure(
                rule=rules.LEADER_COMMIT_RULE,
                detail=f"leader {view.node} advanced its commit index from {view.commit} to "
                f"{commit}, but {reason} (match indexes: {dict(sorted(view.match.items()))})",
                expected=f"commit in [{view.commit}, {max(view.commit, replicated)}] with an "
                f"entry of term {view.term}",
                reported=f"commit={commit}",
            )
    elif receives_logged and commit > view.commit_ceiling and view.append_refusal is not None:
        return view.append_refusal
    elif receives_logged and commit > view.commit_ceiling:
        return Failure(
            rule=rules.FOLLOWER_COMMIT_RULE,
            detail=f"node {view.node} ({view.role}) advanced its commit index from {view.commit} "
            f"to {commit}, but the messages it received allow at most {view.commit_ceiling}",
            expected=f"commit<={view.commit_ceiling}",
            reported=f"commit={commit}",
        )
    return msgspec.structs.replace(view, commit=commit)
