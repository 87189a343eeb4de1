"""Leader election, PreVote and CheckQuorum (paper section 5.2, 5.4.1; Ongaro thesis 9.6;
etcd ``becomeFollower``/``campaign``/``poll``/``tickElection``/``tickHeartbeat``).

Theory of operation. Every node starts as a follower. A follower (or candidate) that hears
nothing from a leader for its randomized election timeout starts an election: it increments
its term, votes for itself and asks every voter for its vote (MsgVote with its last log index
and term). A voter grants at most one vote per term, first come first served, and only to a
candidate whose log is at least as up-to-date as its own (section 5.4.1). A candidate with
votes from a quorum of the configuration (both halves of a joint one) becomes leader and
appends an empty entry of its term, so that earlier entries can commit (section 5.4.2).

The randomized timeout is an INPUT: on every term reset the node emits
``RequestRandom(election_timeout, 2 * election_timeout)`` and uses ``election_timeout`` (the
low end) until ``RandomDrawn`` answers.

PreVote (``config.pre_vote``): before a real election, a node asks whether it COULD win
(MsgPreVote for term + 1) without changing anyone's term; only with a quorum of yes does it
campaign. This stops a partitioned node from disrupting the cluster when it rejoins.

CheckQuorum (``config.check_quorum``): every election timeout the leader checks that a quorum
was active since the last check and steps down otherwise; and a node that heard from a leader
within the election timeout ignores (pre-)vote requests of higher terms (the leader lease),
unless they come from a leadership transfer.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from impl.raft import log as log_ops
from impl.raft import progress as progress_ops
from impl.raft.commitment import VoteResult, vote_result
from impl.raft.membership import is_voter
from impl.raft.replication import append_as_leader, bcast_append, bcast_heartbeat
from impl.raft.transition import Transition
from models.raft import (
    NO_NODE,
    Entry,
    MsgPreVote,
    MsgPreVoteResp,
    MsgVote,
    MsgVoteResp,
    RaftMutant,
    ReadIndexDropped,
    RequestRandom,
    Role,
    RoleChanged,
    VoteReceived,
)

CampaignKind = Literal["pre_election", "election", "transfer"]


def _announce(transition: Transition, before: tuple[Role, int, int]) -> None:
    state = transition.state
    after = (state.role, state.persisted.term, state.lead)
    if after != before:
        transition.emit(RoleChanged(role=state.role, term=state.persisted.term, lead=state.lead))


def _snapshot_role(transition: Transition) -> tuple[Role, int, int]:
    state = transition.state
    return (state.role, state.persisted.term, state.lead)


def reset(transition: Transition, term: int) -> None:
    """etcd ``raft.reset``: adopt ``term`` (clearing the vote if it is new), forget the leader,
    restart the election timer with a fresh random draw, drop leader-only bookkeeping."""
    state = transition.state
    if term != state.persisted.term:
        transition.update_persisted(term=term, vote=NO_NODE)
    for request in state.read_index_queue:
        transition.emit(ReadIndexDropped(context=request.context, reason="leadership changed"))
    for pending in state.pending_read_index:
        if pending.requester in (NO_NODE, state.node_id):
            transition.emit(ReadIndexDropped(context=pending.context, reason="leadership changed"))
    timeout = transition.config.election_timeout_ticks
    transition.update(
        lead=NO_NODE,
        election_elapsed_ticks=0,
        heartbeat_elapsed_ticks=0,
        randomized_election_timeout_ticks=timeout,
        random_requested=True,
        votes=(),
        progress=(),
        pending_conf_index=0,
        read_index_queue=(),
        pending_read_index=(),
        lead_transferee=NO_NODE,
    )
    transition.emit(RequestRandom(low=timeout, high=2 * timeout))


def become_follower(transition: Transition, term: int, lead: int) -> None:
    """Paper section 5.1: a node that sees a higher term (or loses) reverts to follower."""
    before = _snapshot_role(transition)
    reset(transition, term)
    transition.update(role="follower", lead=lead)
    _announce(transition, before)


def note_leader(transition: Transition, lead: int) -> None:
    """A follower heard from the leader of its term: restart its election timer."""
    before = _snapshot_role(transition)
    transition.update(lead=lead, election_elapsed_ticks=0)
    _announce(transition, before)


def _become_candidate(transition: Transition) -> None:
    assert transition.state.role != "leader", "a leader cannot become candidate"
    before = _snapshot_role(transition)
    reset(transition, transition.state.persisted.term + 1)
    transition.update_persisted(vote=transition.state.node_id)
    transition.update(role="candidate")
    _announce(transition, before)


def _become_pre_candidate(transition: Transition) -> None:
    """etcd ``becomePreCandidate``: neither term nor vote change."""
    assert transition.state.role != "leader", "a leader cannot become pre-candidate"
    before = _snapshot_role(transition)
    transition.update(role="pre_candidate", votes=(), lead=NO_NODE)
    _announce(transition, before)


def become_leader(transition: Transition) -> None:
    """Paper section 5.2/5.4.2: take over, probe every member from our last index + 1, and
    append an empty entry of the new term. ``pending_conf_index`` = last index, so no new conf
    change is accepted before everything in our log is applied (etcd)."""
    assert transition.state.role != "follower", "a follower cannot become leader directly"
    before = _snapshot_role(transition)
    reset(transition, transition.state.persisted.term)
    state = transition.state
    last_index = state.persisted.last_index()
    learners = set(state.conf_state.learners)
    members = tuple(
        progress_ops.reset(
            node_id, last_index, node_id in learners, is_self=node_id == state.node_id
        )
        for node_id in state.conf_state.members()
    )
    members = tuple(
        progress_ops.become_replicate(member) if member.node_id == state.node_id else member
        for member in members
    )
    transition.update(
        role="leader", lead=state.node_id, progress=members, pending_conf_index=last_index
    )
    _announce(transition, before)
    append_as_leader(
        transition, (Entry(term=state.persisted.term, index=last_index + 1, data=b""),)
    )


def _poll(transition: Transition, node_id: int, granted: bool) -> VoteResult:
    state = transition.state
    votes = state.votes
    if all(vote.node_id != node_id for vote in votes):
        votes = (*votes, VoteReceived(node_id=node_id, granted=granted))
        transition.update(votes=votes)
    yes = frozenset(vote.node_id for vote in votes if vote.granted)
    no = frozenset(vote.node_id for vote in votes if not vote.granted)
    return vote_result(state.conf_state, yes, no, transition.config.mutant)


def campaign(transition: Transition, kind: CampaignKind) -> None:
    """etcd ``campaign``: become (pre-)candidate, vote for ourselves, ask every other voter."""
    state = transition.state
    if not is_voter(state.conf_state, state.node_id):
        return
    if kind == "pre_election":
        _become_pre_candidate(transition)
        term = transition.state.persisted.term + 1
    else:
        _become_candidate(transition)
        term = transition.state.persisted.term
    if _poll(transition, state.node_id, granted=True) == "won":
        # A single-voter configuration wins at once.
        if kind == "pre_election":
            campaign(transition, "election")
        else:
            become_leader(transition)
            bcast_append(transition)
        return
    state = transition.state
    persisted = state.persisted
    for voter in state.conf_state.all_voters():
        if voter == state.node_id:
            continue
        request = MsgPreVote if kind == "pre_election" else MsgVote
        transition.send(
            request(
                from_id=state.node_id,
                to_id=voter,
                term=term,
                last_log_index=persisted.last_index(),
                last_log_term=persisted.last_term(),
                leader_transfer=kind == "transfer",
            )
        )


def hup(transition: Transition) -> None:
    """etcd ``hup`` (MsgHup): start a (pre-)election unless leader or not a voter."""
    state = transition.state
    if state.role == "leader" or not is_voter(state.conf_state, state.node_id):
        return
    campaign(transition, "pre_election" if transition.config.pre_vote else "election")


def on_vote_request(transition: Transition, message: MsgVote | MsgPreVote) -> None:
    """Paper section 5.2 and 5.4.1 (etcd ``Step`` MsgVote/MsgPreVote): grant if we have not
    voted for someone else in this term and know no leader (or, for a pre-vote, the request is
    for a later term) and the candidate's log is at least as up-to-date as ours."""
    state = transition.state
    persisted = state.persisted
    pre_vote = isinstance(message, MsgPreVote)
    can_vote = (
        persisted.vote == message.from_id
        or (persisted.vote == NO_NODE and state.lead == NO_NODE)
        or (pre_vote and message.term > persisted.term)
    )
    if transition.config.mutant is RaftMutant.VOTE_TWICE:
        can_vote = True
    response = MsgPreVoteResp if pre_vote else MsgVoteResp
    up_to_date = log_ops.is_up_to_date(persisted, message.last_log_index, message.last_log_term)
    if transition.config.mutant is RaftMutant.SKIP_UP_TO_DATE_CHECK:
        up_to_date = True
    if can_vote and up_to_date:
        transition.send(
            response(from_id=state.node_id, to_id=message.from_id, term=message.term, reject=False)
        )
        if not pre_vote:
            transition.update(election_elapsed_ticks=0)
            transition.update_persisted(vote=message.from_id)
        return
    transition.send(
        response(from_id=state.node_id, to_id=message.from_id, term=persisted.term, reject=True)
    )


def on_vote_response(transition: Transition, message: MsgVoteResp | MsgPreVoteResp) -> None:
    """A (pre-)candidate counts a vote: a quorum wins (pre-candidate: now campaign for real),
    a lost quorum reverts to follower (etcd ``stepCandidate``)."""
    state = transition.state
    expected = MsgPreVoteResp if state.role == "pre_candidate" else MsgVoteResp
    if state.role not in ("pre_candidate", "candidate") or not isinstance(message, expected):
        return
    result = _poll(transition, message.from_id, granted=not message.reject)
    if result == "won":
        if state.role == "pre_candidate":
            campaign(transition, "election")
        else:
            become_leader(transition)
            bcast_append(transition)
    elif result == "lost":
        become_follower(transition, state.persisted.term, NO_NODE)


def tick(transition: Transition) -> None:
    """One tick of logical time (etcd ``tickElection`` / ``tickHeartbeat``)."""
    if transition.state.role == "leader":
        _tick_leader(transition)
        return
    state = transition.state
    elapsed = state.election_elapsed_ticks + 1
    transition.update(election_elapsed_ticks=elapsed)
    if (
        is_voter(state.conf_state, state.node_id)
        and elapsed >= state.randomized_election_timeout_ticks
    ):
        transition.update(election_elapsed_ticks=0)
        hup(transition)


def _tick_leader(transition: Transition) -> None:
    config = transition.config
    state = transition.state
    transition.update(
        heartbeat_elapsed_ticks=state.heartbeat_elapsed_ticks + 1,
        election_elapsed_ticks=state.election_elapsed_ticks + 1,
    )
    if transition.state.election_elapsed_ticks >= config.election_timeout_ticks:
        transition.update(election_elapsed_ticks=0)
        if config.check_quorum:
            check_quorum(transition)
        if transition.state.role == "leader" and transition.state.lead_transferee != NO_NODE:
            # The transfer did not finish within an election timeout: abort it (etcd).
            transition.update(lead_transferee=NO_NODE)
    if transition.state.role != "leader":
        return
    if transition.state.heartbeat_elapsed_ticks >= config.heartbeat_interval_ticks:
        transition.update(heartbeat_elapsed_ticks=0)
        queue = transition.state.read_index_queue
        bcast_heartbeat(transition, queue[-1].context if queue else b"")


def check_quorum(transition: Transition) -> None:
    """etcd MsgCheckQuorum: step down unless a quorum was recently active, then mark every
    other member inactive for the next round. The leader always counts itself."""
    state = transition.state
    members = tuple(
        msgspec.structs.replace(progress, recent_active=True)
        if progress.node_id == state.node_id
        else progress
        for progress in state.progress
    )
    active = frozenset(progress.node_id for progress in members if progress.recent_active)
    inactive = frozenset(state.conf_state.all_voters()) - active
    if vote_result(state.conf_state, active, inactive, transition.config.mutant) != "won":
        become_follower(transition, state.persisted.term, NO_NODE)
        return
    transition.update(
        progress=tuple(
            progress
            if progress.node_id == state.node_id
            else msgspec.structs.replace(progress, recent_active=False)
            for progress in members
        )
    )
