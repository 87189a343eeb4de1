"""Node-local transitions of the reference: is this event allowed from this view, and to what?

Each function takes a view of one node and an event, and returns the views the node may be in
afterwards (more than one where Raft or the trace leaves a choice: a vote request ignored inside a
leader lease, an AppendEntries below the commit index ignored or applied, a snapshot restored or
used to fast-forward, an unknown entry matching or conflicting) or the rule the event breaks. The
reported state is compared afterwards (:mod:`spec.raft_validation.observe`).
"""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType

from models.raft_events import (
    Append,
    ApplyConfig,
    BecomeCandidate,
    BecomeFollower,
    BecomeLeader,
    BecomePreCandidate,
    ConfigChange,
    Configuration,
    Message,
)
from spec.raft_validation import rules
from spec.raft_validation.node_view import (
    RESTARTED,
    UNKNOWN_TERM,
    Entry,
    Failure,
    NodeView,
    VoteRequestSeen,
    entry_at,
    is_up_to_date,
    joint_majority,
    term_at,
    with_appended,
    with_overwritten,
)

Outcome = tuple[NodeView, ...] | Failure


def on_become_follower(
    view: NodeView, event: BecomeFollower, *, receives_logged: bool, untraced_term_ceiling: int = 0
) -> Outcome:
    """Step down (same term) or confirm the follower state a higher-term message produced;
    a message the trace leaves out may raise the term up to ``untraced_term_ceiling``."""
    reported_term = event.state.term if event.state is not UNSET else UNSET
    if reported_term is not UNSET and reported_term > view.term:
        if receives_logged and reported_term > untraced_term_ceiling:
            return Failure(
                rule=rules.TERM_RULES,
                detail=f"node {view.node} became follower in term {reported_term} without "
                f"receiving a message of that term (its term is {view.term})",
                expected=f"term={view.term}",
                reported=f"term={reported_term}",
            )
        return (reset_to_term(view, reported_term),)
    return (msgspec.structs.replace(view, role="follower"),)


def reset_to_term(view: NodeView, term: int) -> NodeView:
    """Follower of a newer term, with no vote (Figure 2, All servers)."""
    return msgspec.structs.replace(
        view,
        term=term,
        vote=None,
        role="follower",
        votes_granted=frozenset(),
        pre_votes_granted=frozenset(),
        match=view.match.__class__(),
    )


def known_learners(view: NodeView, config: Configuration) -> frozenset[str]:
    """The learners of ``config`` where it reports them, else the view's minus its voters."""
    if config.learners is not UNSET:
        return frozenset(config.learners)
    return view.learners - frozenset(config.voters) - frozenset(config.outgoing_voters)


def campaign_refusal(view: NodeView, action: str) -> Failure | None:
    """Why the node may not start an election now, if it may not."""
    if view.node in view.learners and view.node not in view.voters | view.outgoing_voters:
        return Failure(
            rule=rules.ROLE_TRANSITIONS,
            detail=f"node {view.node} {action} but is a learner; learners receive entries and "
            "never campaign (etcd-io/raft promotable())",
            expected="a voter",
            reported=f"learner {view.node}",
        )
    if view.role == "leader":
        return Failure(
            rule=rules.ROLE_TRANSITIONS,
            detail=f"leader {view.node} {action} in term {view.term}; a leader never does",
            expected="role in {follower, pre_candidate, candidate}",
            reported="role=leader",
        )
    if (
        not view.config_unknown
        and view.node not in view.voters | view.outgoing_voters
        and not (view.outgoing_unknown and view.node not in view.learners)
    ):
        return Failure(
            rule=rules.ROLE_TRANSITIONS,
            detail=f"node {view.node} {action} but is not a voter of its configuration "
            f"{sorted(view.voters)}",
            expected=f"node in {sorted(view.voters | view.outgoing_voters)}",
            reported=f"node={view.node}",
        )
    unapplied = [
        index
        for index in view.config_indexes
        if RESTARTED < view.applied_config_index < index <= view.commit
    ]
    if unapplied:
        return Failure(
            rule=rules.CAMPAIGN_WITH_UNAPPLIED_CONFIG,
            detail=f"node {view.node} {action} with committed configuration entries at "
            f"{unapplied} not yet applied (applied up to {view.applied_config_index})",
            expected="no committed, unapplied configuration entry",
            reported=f"unapplied configuration entries at {unapplied}",
        )
    return None


def on_become_pre_candidate(view: NodeView, event: BecomePreCandidate) -> Outcome:
    """Start a pre-vote round: the term does not change."""
    del event
    refusal = campaign_refusal(view, "started a pre-vote")
    if refusal is not None:
        return refusal
    return (
        msgspec.structs.replace(
            view, role="pre_candidate", pre_votes_granted=frozenset({view.node})
        ),
    )


def on_become_candidate(
    view: NodeView, event: BecomeCandidate, *, pre_votes_logged: bool = False
) -> Outcome:
    """Start an election: term + 1, vote for itself (Figure 2, Candidates). A pre-candidate
    needs a majority of pre-votes first, when the trace shows the pre-votes it received."""
    del event
    refusal = campaign_refusal(view, "started an election")
    if refusal is not None:
        return refusal
    if (
        pre_votes_logged
        and view.role == "pre_candidate"
        and not joint_majority(view, view.pre_votes_granted)
    ):
        return Failure(
            rule=rules.PRE_VOTE_NEEDS_QUORUM,
            detail=f"pre-candidate {view.node} started an election for term {view.term + 1} "
            f"with pre-votes from {sorted(view.pre_votes_granted)}; its configuration "
            f"{sorted(view.voters)} needs {len(view.voters) // 2 + 1} of them",
            expected=f"pre-votes from a majority of {sorted(view.voters)}",
            reported=f"pre-votes from {sorted(view.pre_votes_granted)}",
        )
    started = reset_to_term(view, view.term + 1)
    return (
        msgspec.structs.replace(
            started, role="candidate", vote=view.node, votes_granted=frozenset({view.node})
        ),
    )


def on_become_leader(
    view: NodeView, event: BecomeLeader, *, votes_sent_to_node: frozenset[str]
) -> Outcome:
    """Win the election: only a candidate, only with a joint majority of granted votes."""
    del event
    if view.role != "candidate":
        return Failure(
            rule=rules.ROLE_TRANSITIONS,
            detail=f"node {view.node} became leader of term {view.term} from role {view.role}; "
            "only a candidate can become leader",
            expected="role=candidate",
            reported=f"role={view.role}",
        )
    votes = view.votes_granted | votes_sent_to_node
    if not joint_majority(view, votes):
        voters = sorted(view.voters)
        outside = sorted(votes - view.voters - view.outgoing_voters)
        detail = (
            f"node {view.node} became leader of term {view.term} with votes from "
            f"{sorted(votes)}; its configuration {voters}"
        )
        if view.outgoing_voters:
            detail += f" & {sorted(view.outgoing_voters)}"
        detail += f" needs {len(view.voters) // 2 + 1} of them"
        if outside:
            detail += f" (votes from {outside} are outside the configuration and do not count)"
        return Failure(
            rule=rules.LEADER_NEEDS_QUORUM,
            detail=detail,
            expected=f"granted votes from a majority of {voters}",
            reported=f"granted votes from {sorted(votes)}",
        )
    return (
        msgspec.structs.replace(
            view, role="leader", match=view.match.__class__({view.node: view.last_index})
        ),
    )


def on_append(view: NodeView, event: Append) -> Outcome:
    """The leader appends one entry of its current term."""
    if view.role != "leader":
        return Failure(
            rule=rules.LEADER_APPEND_ONLY,
            detail=f"node {view.node} ({view.role}) appended a new entry; only leaders create "
            "entries",
            expected="role=leader",
            reported=f"role={view.role}",
        )
    entry: Entry = (
        (view.term, event.changes) if event.changes or event.config_entry else (view.term, "normal")
    )
    appended = with_appended(view, (entry,), view.last_index)
    return (
        msgspec.structs.replace(appended, match=appended.match.set(view.node, view.last_index + 1)),
    )


def learners_after(learners: frozenset[str], changes: tuple[ConfigChange, ...]) -> frozenset[str]:
    """The learners after ``changes``: added as learners (a voter is demoted), removed when
    removed or promoted to voter."""
    result = set(learners)
    for change in changes:
        if change.action == "add_learner":
            result.add(change.node)
        else:
            result.discard(change.node)
    return frozenset(result)


def apply_changes(voters: frozenset[str], changes: tuple[ConfigChange, ...]) -> frozenset[str]:
    """The voters after ``changes`` (learners are not voters)."""
    result = set(voters)
    for change in changes:
        if change.action == "add_voter":
            result.add(change.node)
        else:
            result.discard(change.node)
    return frozenset(result)


def next_config_entry(view: NodeView) -> tuple[int, Entry] | None:
    """The first committed entry after the last applied configuration that may be one."""
    for index in range(view.applied_config_index + 1, view.commit + 1):
        entry = entry_at(view, index)
        if entry[1] != "normal":
            return index, entry
    return None


def reapplied_config_entries(
    view: NodeView, reported: Configuration | UnsetType
) -> list[tuple[int, Entry]]:
    """After a restart: the committed entries whose change gives the reported voters (the
    node re-applies from its snapshot on, which the trace does not show), latest first."""
    found: list[tuple[int, Entry]] = []
    for index in range(view.commit, view.reapply_floor, -1):
        entry = entry_at(view, index)
        kind = entry[1]
        if kind == "unknown" or reported is UNSET:
            found.append((index, entry))
        elif isinstance(kind, tuple):
            result = apply_changes(view.voters, kind) if kind else view.voters
            if result == frozenset(reported.voters):
                found.append((index, entry))
        if len(found) >= REAPPLY_CHOICES:
            break
    return found


REAPPLY_CHOICES = 4


def on_apply_config(view: NodeView, event: ApplyConfig, *, receives_logged: bool = True) -> Outcome:
    """Apply the next committed configuration entry (or the configuration of a snapshot)."""
    reported = event.config
    unseen_snapshot = not receives_logged and next_config_entry(view) is None
    if (view.config_unknown or unseen_snapshot) and next_config_entry(view) is None:
        # The configuration of a snapshot just installed, taken as reported.
        if reported is UNSET:
            return (view,)
        return (
            msgspec.structs.replace(
                view,
                voters=frozenset(reported.voters),
                outgoing_voters=frozenset(reported.outgoing_voters),
                learners=known_learners(view, reported),
                config_unknown=False,
                outgoing_unknown=not reported.outgoing_voters,  # the outgoing half may be unknown
            ),
        )
    if view.applied_config_index == RESTARTED:
        choices = reapplied_config_entries(view, reported)
        outcomes: list[NodeView] = []
        for choice in choices:
            applied = apply_config_entry(view, reported, choice)
            if not isinstance(applied, Failure):
                outcomes.extend(applied)
        if outcomes:
            return tuple(outcomes)
        found = None
    else:
        found = next_config_entry(view)
    if found is None:
        return Failure(
            rule=rules.CONFIG_FROM_COMMITTED_ENTRY,
            detail=f"node {view.node} applied a configuration, but its log has no committed "
            f"configuration entry after index {view.applied_config_index} (commit index "
            f"{view.commit})",
            expected="a committed, unapplied configuration entry",
            reported="apply_config",
        )
    return apply_config_entry(view, reported, found)


def apply_config_entry(
    view: NodeView, reported: Configuration | UnsetType, found: tuple[int, Entry]
) -> Outcome:
    """The views after applying the configuration entry ``found``."""
    index, (_, kind) = found
    old = view.voters
    if isinstance(kind, tuple):
        expected_voters = apply_changes(old, kind) if kind else old
        choices: tuple[frozenset[str], ...] = (frozenset(), old) if kind else (frozenset(),)
        if reported is not UNSET and frozenset(reported.voters) != expected_voters:
            described = ", ".join(f"{c.action} {c.node}" for c in kind) or "leave joint"
            return Failure(
                rule=rules.CONFIG_FROM_COMMITTED_ENTRY,
                detail=f"node {view.node} applied the configuration entry at index {index} "
                f"({described}) to voters {sorted(old)} and reports voters "
                f"{sorted(reported.voters)}",
                expected=f"voters={sorted(expected_voters)}",
                reported=f"voters={sorted(reported.voters)}",
            )
    else:
        expected_voters = frozenset(reported.voters) if reported is not UNSET else old
        choices = (frozenset(), old)
    if reported is not UNSET and reported.outgoing_voters:
        choices = (frozenset(reported.outgoing_voters),)
    learners = learners_after(view.learners, kind) if isinstance(kind, tuple) else view.learners
    return tuple(
        msgspec.structs.replace(
            view,
            learners=learners,
            voters=expected_voters,
            outgoing_voters=outgoing,
            applied_config_index=index,
            config_unknown=False,
            outgoing_unknown=False,
        )
        for outgoing in dict.fromkeys(choices)
    )


def refuse_vote(view: NodeView, message: Message) -> Failure | None:
    """Why ``view`` may not grant ``message`` (a vote or pre-vote request), if it may not."""
    candidate = message.source
    pre_vote = message.type == "pre_vote_request"
    if pre_vote:
        free = message.term > view.term or (
            message.term == view.term and view.vote in (None, candidate)
        )
    else:
        free = message.term == view.term and view.vote in (None, candidate)
    if not free:
        return Failure(
            rule=rules.ONE_VOTE_PER_TERM,
            detail=f"node {view.node} granted its vote to {candidate} in term {message.term}, "
            f"but it had already voted for {view.vote} in term {view.term}",
            expected=f"vote for {view.vote} only",
            reported=f"vote granted to {candidate}",
        )
    own_last_term = term_at(view, view.last_index)
    last_term = message.last_log_term
    last_index = message.last_log_index
    if (
        own_last_term != UNKNOWN_TERM
        and last_term is not UNSET
        and last_index is not UNSET
        and not is_up_to_date(last_term, last_index, own_last_term, view.last_index)
    ):
        return Failure(
            rule=rules.VOTE_UP_TO_DATE,
            detail=f"node {view.node} granted its vote to {candidate} in term {message.term}, "
            f"but the candidate's log (last term {last_term}, last index {last_index}) is less "
            f"up-to-date than its own (last term {own_last_term}, last index {view.last_index})",
            expected="vote refused",
            reported=f"vote granted to {candidate}",
        )
    return None


def on_receive_vote_request(view: NodeView, message: Message) -> NodeView:
    """Remember the request and whether Raft lets the node grant it."""
    seen = VoteRequestSeen(
        term=message.term,
        pre_vote=message.type == "pre_vote_request",
        refusal=refuse_vote(view, message),
    )
    return msgspec.structs.replace(view, vote_requests=view.vote_requests.set(message.source, seen))


def append_outcomes(
    view: NodeView, message: Message, entries: tuple[Entry, ...]
) -> tuple[NodeView, ...] | Failure:
    """The follower's logs after accepting ``entries`` after ``prev_log_index``."""
    prev = message.prev_log_index
    assert prev is not UNSET
    outcomes: list[NodeView] = []
    last_new = prev + len(entries)
    merged: list[Entry] = []
    conflict_at = 0
    for offset, entry in enumerate(entries):
        index = prev + 1 + offset
        if index > view.last_index:
            merged.append(entry)
            continue
        existing = entry_at(view, index)
        if UNKNOWN_TERM in (existing[0], entry[0]):
            if last_new < view.last_index and conflict_at == 0 and index > view.commit:
                # An unknown term may conflict: keep the truncating outcome as a possibility.
                outcomes.append(with_appended(view, (*merged, entry, *entries[offset + 1 :]), prev))
            known = entry if entry[0] != UNKNOWN_TERM else existing
            merged.append(known if existing[1] == "unknown" else (known[0], existing[1]))
            continue
        if existing[0] != entry[0]:
            conflict_at = index
            merged.extend(entries[offset:])
            break
        merged.append(existing if entry[1] == "unknown" else entry)
    if conflict_at and conflict_at <= view.commit:
        return Failure(
            rule=rules.COMMITTED_NEVER_OVERWRITTEN,
            detail=f"node {view.node} would replace its committed entry at index {conflict_at} "
            f"(term {term_at(view, conflict_at)}, commit index {view.commit}) with an entry "
            f"of term {entries[conflict_at - prev - 1][0]} from {message.source}",
            expected=f"entry {conflict_at} keeps term {term_at(view, conflict_at)}",
            reported=f"AppendEntries from {message.source} in term {message.term}",
        )
    if conflict_at or last_new >= view.last_index:
        accepted = with_appended(view, tuple(merged), prev)
    else:
        accepted = with_overwritten(view, tuple(merged), prev)
    outcomes.insert(0, accepted)
    leader_commit = message.leader_commit
    if leader_commit is not UNSET:
        ceiling = max(view.commit_ceiling, min(leader_commit, last_new))
        outcomes = [msgspec.structs.replace(o, commit_ceiling=ceiling) for o in outcomes]
    return tuple(outcomes)
