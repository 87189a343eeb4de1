"""Quorums and the commit rule (paper sections 5.3, 5.4.2, 6; etcd ``quorum`` package).

Theory of operation. A configuration is a majority configuration (``voters``) or, during a
membership change, a joint one (``voters`` and ``voters_outgoing``): a decision needs a majority
of EACH half (paper section 6). The leader's commit index is the largest index replicated on a
quorum (per half: the median-like "k-th largest" match index; joint: the smaller of the two).
The leader commits that index only if its entry is from the leader's current term (section
5.4.2, Figure 8); earlier-term entries are committed indirectly, with it. Vote tallies use the
same quorum structure: won, lost, or still pending.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from impl.raft.transition import Transition
from models.raft import ConfState, RaftMutant

VoteResult = Literal["won", "lost", "pending"]

# Joint configurations where one half is empty: that half never constrains the result.
_UNBOUNDED_INDEX = 1 << 62


def majority_committed_index(voters: tuple[int, ...], match_of: Callable[[int], int]) -> int:
    """The largest index replicated on a majority of ``voters`` (etcd
    ``MajorityConfig.CommittedIndex``); unbounded for an empty configuration."""
    if not voters:
        return _UNBOUNDED_INDEX
    matches = sorted((match_of(voter) for voter in voters), reverse=True)
    return matches[len(voters) // 2]


def committed_index(
    conf_state: ConfState, match_of: Callable[[int], int], mutant: RaftMutant | None
) -> int:
    """Joint consensus: an index is committed when BOTH halves have it on a majority."""
    incoming = majority_committed_index(conf_state.voters, match_of)
    if mutant is RaftMutant.JOINT_COUNTS_NEW_ONLY:
        return incoming
    outgoing = majority_committed_index(conf_state.voters_outgoing, match_of)
    return min(incoming, outgoing)


def majority_vote_result(
    voters: tuple[int, ...], granted: frozenset[int], rejected: frozenset[int]
) -> VoteResult:
    """etcd ``MajorityConfig.VoteResult``; an empty configuration wins (joint convenience)."""
    if not voters:
        return "won"
    quorum = len(voters) // 2 + 1
    yes = sum(1 for voter in voters if voter in granted)
    missing = sum(1 for voter in voters if voter not in granted and voter not in rejected)
    if yes >= quorum:
        return "won"
    if yes + missing >= quorum:
        return "pending"
    return "lost"


def vote_result(
    conf_state: ConfState,
    granted: frozenset[int],
    rejected: frozenset[int],
    mutant: RaftMutant | None,
) -> VoteResult:
    """Joint: won if both halves won, lost if either lost, else pending."""
    incoming = majority_vote_result(conf_state.voters, granted, rejected)
    if mutant is RaftMutant.JOINT_COUNTS_NEW_ONLY:
        return incoming
    outgoing = majority_vote_result(conf_state.voters_outgoing, granted, rejected)
    if incoming == "won" and outgoing == "won":
        return "won"
    if "lost" in (incoming, outgoing):
        return "lost"
    return "pending"


def commit_to(transition: Transition, index: int) -> bool:
    """Raise the commit index to ``index`` (never lowers it); True if it moved."""
    persisted = transition.state.persisted
    if index <= persisted.commit_index:
        return False
    assert index <= persisted.last_index(), (
        f"commit {index} beyond last index {persisted.last_index()}"
    )
    transition.update_persisted(commit_index=index)
    return True


def maybe_commit(transition: Transition) -> bool:
    """Leader: advance the commit index to the quorum-replicated index if that entry is from
    the current term (paper section 5.4.2; etcd ``raftLog.maybeCommit``). True if it moved."""
    state = transition.state
    by_node = {progress.node_id: progress.match_index for progress in state.progress}

    def match_of(node_id: int) -> int:
        return by_node.get(node_id, 0)

    mutant = transition.config.mutant
    candidate = committed_index(state.conf_state, match_of, mutant)
    if candidate <= state.persisted.commit_index or candidate >= _UNBOUNDED_INDEX:
        return False
    if (
        state.persisted.term_at(candidate) != state.persisted.term
        and mutant is not RaftMutant.COMMIT_PREVIOUS_TERM_BY_COUNTING
    ):
        return False
    return commit_to(transition, candidate)
