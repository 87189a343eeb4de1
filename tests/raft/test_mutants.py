"""Each mutant switch breaks a property of ``spec.raft`` in a short hand-driven scenario, and
the same scenario without the mutant breaks nothing (so the switches, and the checker, work).
Figure 8 of the Raft paper is the scenario of ``commit_previous_term_by_counting``."""

from __future__ import annotations

from typing import Any

import pytest

from impl.raft import on_event
from models.raft import (
    Campaign,
    ClusterObservation,
    ConfState,
    Entry,
    MessageReceived,
    MsgApp,
    Propose,
    RaftMutant,
    observe_node,
)
from spec.raft import RaftHistory, check_step
from spec.raft import invariants as names
from tests.raft.builders import node, stored
from tests.raft.cluster import Checker, Cluster


def checked_cluster(
    node_ids: list[int], mutant: RaftMutant | None, **config: Any
) -> tuple[Cluster, Checker]:
    cluster = Cluster.create(node_ids, mutant=mutant, **config)
    checker = Checker()
    cluster.observer = checker
    return cluster, checker


def figure_8(mutant: RaftMutant | None) -> tuple[Cluster, Checker]:
    """Paper Figure 8 with etcd's empty entry per new term (terms shifted by one):
    (a) S1 leads term 1 and replicates entry 2 (term 1) to S2 only;
    (b) S1 crashes; S5 wins term 2 with S3, S4 and appends entry 2 (term 2), then crashes;
    (c) S1 restarts, wins term 3 and replicates entry 2 (term 1) to S3: a majority (S1-S3)
        holds it, but it is from an earlier term;
    (d) S1 crashes; S5 restarts, wins a later term with S3, S4 and replicates its entry 2."""
    cluster, checker = checked_cluster(
        [1, 2, 3, 4, 5], mutant, check_quorum=False, max_entries_per_append=1
    )
    cluster.step(1, Campaign())
    cluster.deliver_all()
    cluster.step(1, Propose(data=b"a"))
    cluster.take(lambda m: m.to_id not in (1, 2))
    cluster.deliver_all()
    assert [e.term for e in cluster.state(2).persisted.log] == [1, 1]
    cluster.crash(1)
    cluster.step(5, Campaign())
    cluster.take(lambda m: m.to_id == 2)  # S2 would refuse anyway: its log is longer
    cluster.deliver_all_until(lambda: cluster.leaders() == [5])
    cluster.take(lambda m: m.from_id == 5)
    cluster.crash(5)
    cluster.restart(1)
    cluster.cut |= {(1, 4), (1, 5)}
    for _ in range(3):  # the first try (term 2) meets S3 and S4, who voted for S5
        cluster.step(1, Campaign())
        for _ in range(200):
            if cluster.deliver_one() is None:
                break
            progress = {p.node_id: p for p in cluster.state(1).progress}
            if cluster.leaders() == [1] and progress[3].match_index >= 2:
                cluster.cut.add((1, 3))
        if cluster.leaders() == [1]:
            break
    assert cluster.leaders() == [1]
    assert [e.term for e in cluster.state(3).persisted.log] == [1, 1]
    return cluster, checker


def finish_figure_8(cluster: Cluster) -> None:
    cluster.crash(1)
    cluster.restart(5)
    cluster.cut.clear()
    for _ in range(3):  # S5 may first lose a term it shares with S1's election
        cluster.step(5, Campaign())
        cluster.deliver_all_until(lambda: cluster.leaders() == [5])
        if cluster.leaders() == [5]:
            break
    assert cluster.leaders() == [5]
    cluster.tick(5)
    # Bounded: with the mutant, S2 (which committed the lost entry) and S5 argue forever.
    cluster.pump(500)


def test_figure_8_leader_does_not_commit_previous_term_entry() -> None:
    cluster, checker = figure_8(None)
    # Entry 2 (term 1) is on S1, S2, S3 but S1 (term 3) must not commit it by counting.
    assert cluster.state(1).commit_index == 1
    finish_figure_8(cluster)
    # S5 (term 4) overwrote S3's uncommitted entry 2 (term 1) with its own (term 2).
    assert [e.term for e in cluster.state(3).persisted.log] == [1, 2, 4]
    assert checker.violations == []


def test_figure_8_mutant_commits_by_counting_and_loses_the_entry() -> None:
    cluster, checker = figure_8(RaftMutant.COMMIT_PREVIOUS_TERM_BY_COUNTING)
    assert cluster.state(1).commit_index == 2
    finish_figure_8(cluster)
    assert names.STATE_MACHINE_SAFETY in checker.broken()
    assert names.LEADER_COMPLETENESS in checker.broken()


def two_candidates(mutant: RaftMutant | None) -> Checker:
    """S1 and S2 both campaign in term 1; S3 hears S1 first."""
    cluster, checker = checked_cluster([1, 2, 3], mutant)
    cluster.step(1, Campaign())
    cluster.step(2, Campaign())
    cluster.deliver_all()
    return checker


def test_vote_twice_mutant_breaks_one_vote_per_term_and_election_safety() -> None:
    assert two_candidates(None).violations == []
    broken = two_candidates(RaftMutant.VOTE_TWICE).broken()
    assert names.ONE_VOTE_PER_TERM in broken
    assert names.ELECTION_SAFETY in broken


def forgotten_vote(mutant: RaftMutant | None) -> Checker:
    """S2 grants S1's vote in term 1, crashes and restarts; then S3 campaigns in term 1."""
    cluster, checker = checked_cluster([1, 2, 3], mutant)
    cluster.cut |= {(1, 3), (3, 1)}
    cluster.step(1, Campaign())
    cluster.deliver_all_until(lambda: cluster.leaders() == [1])
    cluster.take(lambda m: m.from_id == 1)  # S2 stays as up-to-date as S3
    cluster.crash(2)
    cluster.restart(2)
    cluster.step(3, Campaign())
    cluster.deliver_all()
    return checker


def test_vote_not_persisted_mutant_breaks_one_vote_per_term() -> None:
    assert forgotten_vote(None).violations == []
    broken = forgotten_vote(RaftMutant.VOTE_NOT_PERSISTED).broken()
    assert names.ONE_VOTE_PER_TERM in broken
    assert names.ELECTION_SAFETY in broken


@pytest.mark.parametrize("mutant", [None, RaftMutant.SKIP_CONSISTENCY_CHECK])
def test_skip_consistency_check_mutant_breaks_log_matching(mutant: RaftMutant | None) -> None:
    """The leader of term 2 holds 1:1 2:2 and sends entry 3 after (2, 2); the follower holds
    1:1 2:1. Without the check it appends entry 3 after a different entry 2."""
    leader_config, leader = node(1, stored([1, 2, 2], term=2))
    config, follower = node(2, stored([1, 1], term=2), mutant=mutant)
    message = MsgApp(
        from_id=1,
        to_id=2,
        term=2,
        prev_log_index=2,
        prev_log_term=2,
        entries=(leader.persisted.log[2],),
    )
    follower = on_event(config, follower, MessageReceived(message=message)).state
    del leader_config
    observation = ClusterObservation(nodes=(observe_node(leader), observe_node(follower)))
    _, violations = check_step(RaftHistory(), observation)
    broken = {violation.property_name for violation in violations}
    if mutant is None:
        assert follower.persisted.log == stored([1, 1], term=2).log
        assert broken == set()
    else:
        assert follower.persisted.log[2] == Entry(term=2, index=3, data=b"3")
        assert broken == {names.LOG_MATCHING}


def joint_election(mutant: RaftMutant | None) -> Checker:
    """S1, S2 have not applied the joint configuration yet (voters 1, 2, 3); S3-S5 have
    (incoming 3, 4, 5; outgoing 1, 2, 3). S1 wins with S2. S4 then campaigns: a joint
    configuration needs a majority of BOTH halves, which S4 cannot get."""
    old = ConfState(voters=(1, 2, 3))
    joint = ConfState(voters=(3, 4, 5), voters_outgoing=(1, 2, 3))
    confs = {1: old, 2: old, 3: joint, 4: joint, 5: joint}
    cluster = Cluster.create([1, 2, 3, 4, 5], confs=confs, mutant=mutant)
    checker = Checker()
    cluster.observer = checker
    cluster.step(1, Campaign())
    cluster.take(lambda m: m.to_id not in (1, 2))
    cluster.deliver_all()
    assert cluster.leaders() == [1]
    cluster.step(4, Campaign())
    cluster.take(lambda m: m.to_id == 3)
    cluster.deliver_all()
    return checker


def test_joint_counts_new_only_mutant_breaks_election_safety() -> None:
    assert joint_election(None).violations == []
    assert names.ELECTION_SAFETY in joint_election(RaftMutant.JOINT_COUNTS_NEW_ONLY).broken()
