"""Crash and restart: persisted versus volatile state, and the random draw as an input."""

from __future__ import annotations

import pytest

from impl.raft import init, on_event
from models.raft import (
    ApplyEntries,
    ConfState,
    PersistHardState,
    Propose,
    RaftConfig,
    RandomDrawn,
    RequestRandom,
    Tick,
)
from spec.raft import invariants as names
from tests.raft.builders import campaign, node, of_type, run, stored
from tests.raft.cluster import Cluster


def test_restart_keeps_persisted_state_and_reapplies_committed_entries() -> None:
    cluster = Cluster.create([1, 2, 3])
    checker = cluster.checked()
    cluster.elect(1)
    cluster.step(1, Propose(data=b"x"))
    cluster.deliver_all()
    cluster.tick(1)
    cluster.deliver_all()
    before = cluster.state(2)
    cluster.crash(2)
    cluster.restart(2)
    after = cluster.state(2)
    assert after.persisted == before.persisted
    assert (after.role, after.lead, after.applied_index) == ("follower", 0, 2)
    reapplied = [c for c in cluster.commands[2] if isinstance(c, ApplyEntries)][-1]
    assert [e.data for e in reapplied.entries] == [b"", b"x"]
    assert names.RESTART_WITH_COMMITTED in checker.history.sometimes_seen
    assert checker.violations == []


def test_crashed_leader_is_replaced_and_rejoins_as_follower() -> None:
    cluster = Cluster.create([1, 2, 3])
    checker = cluster.checked()
    cluster.elect(1)
    cluster.step(1, Propose(data=b"x"))
    cluster.deliver_all()
    cluster.crash(1)
    for _ in range(30):
        for node_id in (2, 3):
            cluster.tick(node_id)
        cluster.deliver_all()
    [leader] = cluster.leaders()
    assert leader in (2, 3)
    cluster.restart(1)
    cluster.step(leader, Propose(data=b"y"))
    for _ in range(3):
        cluster.tick(leader)
        cluster.deliver_all()
    assert cluster.state(1).persisted.log == cluster.state(leader).persisted.log
    assert [e.data for e in cluster.state(1).persisted.log if e.data] == [b"x", b"y"]
    assert checker.violations == []


def test_vote_is_persisted_before_the_answer() -> None:
    config, state = node(1)
    from models.raft import MessageReceived, MsgVote

    request = MsgVote(from_id=2, to_id=1, term=1, last_log_index=0, last_log_term=0)
    step = on_event(config, state, MessageReceived(message=request))
    assert step.commands[0] == PersistHardState(term=1, vote=2, commit_index=0)


def test_until_the_draw_arrives_the_timeout_is_the_low_end() -> None:
    config, state = node(1)
    assert state.random_requested
    assert state.randomized_election_timeout_ticks == config.election_timeout_ticks
    step = run(config, state, *[Tick()] * 10)
    assert step.state.role == "candidate"
    # The new term asked for a new draw.
    assert of_type(step, RequestRandom) == [RequestRandom(low=10, high=20)]


def test_draw_without_a_request_is_ignored() -> None:
    config, state = node(1)
    state = run(config, state, RandomDrawn(value=15)).state
    assert not state.random_requested
    assert run(config, state, RandomDrawn(value=11)).state == state


def test_draw_outside_the_range_is_a_programming_error() -> None:
    config, state = node(1)
    with pytest.raises(AssertionError, match="outside"):
        run(config, state, RandomDrawn(value=20))


def test_restarted_candidate_keeps_its_term_and_vote() -> None:
    config, state = node(1, stored([1], term=1))
    state = campaign(config, state).state
    restarted = init(RaftConfig(node_id=1), state.persisted, ConfState()).state
    assert (restarted.role, restarted.term, restarted.vote) == ("follower", 2, 1)
