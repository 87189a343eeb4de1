"""Unit tests of the pure helpers behind the handlers: quorums, progress, log search."""

from __future__ import annotations

import msgspec
import pytest

from impl.raft import log as log_ops
from impl.raft import progress as progress_ops
from impl.raft.commitment import (
    commit_to,
    committed_index,
    majority_committed_index,
    majority_vote_result,
    maybe_commit,
    vote_result,
)
from impl.raft.transition import Transition
from models.raft import ConfState, Progress, RaftConfig, RaftMutant, RaftNodeState
from tests.raft.builders import elected, node, stored


@pytest.mark.parametrize(
    ("matches", "expected"),
    [
        ({1: 5}, 5),
        ({1: 5, 2: 3, 3: 1}, 3),
        ({1: 5, 2: 5, 3: 1, 4: 1}, 1),  # four voters need three
        ({1: 9, 2: 7, 3: 7, 4: 2, 5: 1}, 7),
    ],
)
def test_majority_committed_index(matches: dict[int, int], expected: int) -> None:
    voters = tuple(sorted(matches))
    assert majority_committed_index(voters, lambda node_id: matches[node_id]) == expected


def test_joint_commit_needs_both_halves() -> None:
    # Incoming {1, 4, 5} has index 9 on 1, 4; outgoing {1, 2, 3} only has it on 1.
    matches = {1: 9, 2: 3, 3: 3, 4: 9, 5: 0}
    conf = ConfState(voters=(1, 4, 5), voters_outgoing=(1, 2, 3))
    assert committed_index(conf, matches.__getitem__, None) == 3
    assert committed_index(conf, matches.__getitem__, RaftMutant.JOINT_COUNTS_NEW_ONLY) == 9


@pytest.mark.parametrize(
    ("granted", "rejected", "expected"),
    [
        ({1, 4}, set(), "pending"),  # incoming won, outgoing pending
        ({1, 2, 4}, set(), "won"),
        ({1, 4}, {2, 3}, "lost"),  # outgoing lost
        ({1}, {4, 5}, "lost"),
    ],
)
def test_joint_vote_result(granted: set[int], rejected: set[int], expected: str) -> None:
    conf = ConfState(voters=(1, 4, 5), voters_outgoing=(1, 2, 3))
    assert vote_result(conf, frozenset(granted), frozenset(rejected), None) == expected


@pytest.mark.parametrize(
    ("granted", "rejected", "expected"),
    [
        ({1, 2}, set(), "won"),  # two of three
        ({1}, set(), "pending"),  # 2 and 3 may still grant
        ({1}, {2}, "pending"),  # 3 may still grant
        ({1}, {2, 3}, "lost"),
        (set(), {1, 2}, "lost"),
    ],
)
def test_majority_vote_result(granted: set[int], rejected: set[int], expected: str) -> None:
    assert majority_vote_result((1, 2, 3), frozenset(granted), frozenset(rejected)) == expected


def test_commit_index_only_rises_and_says_whether_it_moved() -> None:
    config, state = node(1, stored([1, 1, 1], term=1, commit_index=2))
    transition = Transition(config, state)
    assert not commit_to(transition, 2)  # already there
    assert not commit_to(transition, 1)  # never lowered
    assert transition.state.persisted.commit_index == 2
    assert commit_to(transition, 3)
    assert transition.state.persisted.commit_index == 3


def leader_with_matches(
    matches: dict[int, int], conf: ConfState | None = None, mutant: RaftMutant | None = None
) -> tuple[RaftConfig, RaftNodeState]:
    """Node 1 elected in term 2 over a log of two term-1 entries (it appends its own empty
    entry 3 of term 2), with the followers' match indices set to ``matches``."""
    voters = sorted({1, *matches})
    config, state = node(1, stored([1, 1], term=1, voters=voters), voters=voters, mutant=mutant)
    leader = elected(config, state)
    assert leader.persisted.term == 2
    assert leader.persisted.last_index() == 3
    progress = tuple(
        msgspec.structs.replace(p, match_index=matches.get(p.node_id, p.match_index))
        for p in leader.progress
    )
    leader = msgspec.structs.replace(leader, progress=progress)
    if conf is not None:
        leader = msgspec.structs.replace(leader, conf_state=conf)
    return config, leader


def test_a_quorum_on_an_entry_of_an_earlier_term_commits_nothing() -> None:
    # Paper section 5.4.2: a leader counts replicas only for entries of its own term.
    config, leader = leader_with_matches({2: 2, 3: 0})
    transition = Transition(config, leader)
    assert not maybe_commit(transition)
    assert transition.state.persisted.commit_index == 0
    # Once its own entry 3 is on a majority, it commits 3, and with it 1 and 2.
    config, leader = leader_with_matches({2: 3, 3: 0})
    transition = Transition(config, leader)
    assert maybe_commit(transition)
    assert transition.state.persisted.commit_index == 3


def test_the_joint_counts_new_only_mutant_commits_on_the_incoming_half_alone() -> None:
    # Incoming {1, 4, 5} holds entry 3 on 1 and 4; outgoing {1, 2, 3} only on 1.
    joint = ConfState(voters=(1, 4, 5), voters_outgoing=(1, 2, 3))
    matches = {2: 0, 3: 0, 4: 3, 5: 0}
    config, leader = leader_with_matches(matches, joint)
    transition = Transition(config, leader)
    assert not maybe_commit(transition)
    config, leader = leader_with_matches(matches, joint, RaftMutant.JOINT_COUNTS_NEW_ONLY)
    transition = Transition(config, leader)
    assert maybe_commit(transition)
    assert transition.state.persisted.commit_index == 3


def test_progress_probe_to_replicate_to_probe() -> None:
    progress = progress_ops.reset(2, last_index=5, is_learner=False, is_self=False)
    assert (progress.state, progress.next_index, progress.match_index) == ("probe", 6, 0)
    sent = progress_ops.sent_entries(progress, 6)
    assert progress_ops.is_paused(sent, max_inflight=4)
    updated, grew = progress_ops.maybe_update(sent, 6)
    assert grew
    replicating = progress_ops.become_replicate(updated)
    assert (replicating.next_index, replicating.probe_sent) == (7, False)
    for last in (7, 8, 9, 10):
        replicating = progress_ops.sent_entries(replicating, last)
    assert replicating.inflight == (7, 8, 9, 10)
    assert progress_ops.is_paused(replicating, max_inflight=4)
    assert progress_ops.free_inflight_up_to(replicating, 8).inflight == (9, 10)
    assert progress_ops.free_first_inflight(replicating).inflight == (8, 9, 10)
    # A rejection in replicate state goes back to match + 1 (then the caller probes).
    assert progress_ops.maybe_decrease_to(
        replicating, rejected=9, match_hint=3
    ) == msgspec.structs.replace(replicating, next_index=7)
    # A rejection at or below match is stale.
    assert progress_ops.maybe_decrease_to(replicating, rejected=6, match_hint=3) is None


def test_probe_rejection_uses_the_hint_and_ignores_stale() -> None:
    progress = Progress(node_id=2, match_index=1, next_index=9, probe_sent=True)
    decreased = progress_ops.maybe_decrease_to(progress, rejected=8, match_hint=4)
    assert decreased is not None
    assert (decreased.next_index, decreased.probe_sent) == (5, False)
    # Not an answer to the probe in flight (next - 1 = 8): stale.
    assert progress_ops.maybe_decrease_to(progress, rejected=6, match_hint=4) is None
    # Never below match + 1.
    low = progress_ops.maybe_decrease_to(progress, rejected=8, match_hint=0)
    assert low is not None
    assert low.next_index == 2


def test_become_probe_after_snapshot_starts_past_it() -> None:
    progress = progress_ops.become_snapshot(Progress(node_id=2, match_index=3), 10)
    assert progress_ops.is_paused(progress, max_inflight=4)
    assert progress_ops.become_probe(progress).next_index == 11


@pytest.mark.parametrize(
    ("index", "term", "expected"),
    [(6, 9, 6), (6, 3, 5), (6, 2, 3), (6, 1, 2), (4, 2, 3), (0, 0, 0)],
)
def test_find_conflict_by_term(index: int, term: int, expected: int) -> None:
    # Log terms by index: 1:1 2:1 3:2 4:3 5:3 6:4
    persisted = stored([1, 1, 2, 3, 3, 4], term=4)
    assert log_ops.find_conflict_by_term(persisted, index, term) == expected


def test_is_up_to_date() -> None:
    persisted = stored([1, 2], term=2)
    assert log_ops.is_up_to_date(persisted, 2, 2)
    assert log_ops.is_up_to_date(persisted, 1, 3)
    assert not log_ops.is_up_to_date(persisted, 5, 1)
    assert not log_ops.is_up_to_date(persisted, 1, 2)
