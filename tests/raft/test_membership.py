"""Membership changes as etcd raft makes them: simple changes, learners, joint consensus with
automatic and explicit leave, one pending change at a time, and a removed leader."""

from __future__ import annotations

import pytest
from returns.result import Failure, Success

from impl.raft.membership import apply_conf_change
from models.raft import (
    Campaign,
    ConfChangeApplied,
    ConfChangeSingle,
    ConfChangeTransition,
    ConfChangeType,
    ConfChangeV2,
    ConfState,
    ProposalAccepted,
    Propose,
    ProposeConfChange,
)
from spec.raft import invariants as names
from tests.raft.cluster import Checker, Cluster


def change(
    *changes: tuple[ConfChangeType, int], transition: ConfChangeTransition = "auto"
) -> ConfChangeV2:
    return ConfChangeV2(
        transition=transition,
        changes=tuple(ConfChangeSingle(type=kind, node_id=node_id) for kind, node_id in changes),
    )


def cluster_with_spare(spare: int = 4) -> tuple[Cluster, Checker]:
    """Voters 1-3 with leader 1; node ``spare`` runs too, started with the configuration it
    will join (the members before its addition, as ``etcdctl member add`` tells a new
    member), so it is not a voter until it applies its own addition."""
    cluster = Cluster.create([1, 2, 3, spare], voters=[1, 2, 3])
    checker = cluster.checked()
    cluster.step(1, Campaign())
    cluster.deliver_all()
    assert cluster.leaders() == [1]
    return cluster, checker


def settle(cluster: Cluster, leader: int, rounds: int = 3) -> None:
    for _ in range(rounds):
        cluster.tick(leader)
        cluster.deliver_all()


def applied_confs(cluster: Cluster, node_id: int) -> list[ConfState]:
    return [c.conf_state for c in cluster.commands[node_id] if isinstance(c, ConfChangeApplied)]


# -- the pure configuration change --------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "proposal", "after"),
    [
        (ConfState(voters=(1, 2, 3)), change(("add_node", 4)), ConfState(voters=(1, 2, 3, 4))),
        (ConfState(voters=(1, 2, 3)), change(("remove_node", 3)), ConfState(voters=(1, 2))),
        (
            ConfState(voters=(1, 2, 3)),
            change(("add_learner_node", 4)),
            ConfState(voters=(1, 2, 3), learners=(4,)),
        ),
        (
            ConfState(voters=(1, 2, 3), learners=(4,)),
            change(("add_node", 4)),
            ConfState(voters=(1, 2, 3, 4)),
        ),
        # Joint: incoming gets the changes, outgoing keeps the old voters.
        (
            ConfState(voters=(1, 2, 3)),
            change(("add_node", 4), ("remove_node", 3)),
            ConfState(voters=(1, 2, 4), voters_outgoing=(1, 2, 3), auto_leave=True),
        ),
        (
            ConfState(voters=(1, 2, 3)),
            change(("add_node", 4), transition="explicit"),
            ConfState(voters=(1, 2, 3, 4), voters_outgoing=(1, 2, 3), auto_leave=False),
        ),
        # Demoting a voter that stays in the outgoing half: it is a learner only after leaving.
        (
            ConfState(voters=(1, 2, 3)),
            change(("add_learner_node", 3), transition="implicit"),
            ConfState(
                voters=(1, 2), voters_outgoing=(1, 2, 3), learners_next=(3,), auto_leave=True
            ),
        ),
        (
            ConfState(voters=(1, 2), voters_outgoing=(1, 2, 3), learners_next=(3,)),
            ConfChangeV2(),
            ConfState(voters=(1, 2), learners=(3,)),
        ),
    ],
)
def test_apply_conf_change(before: ConfState, proposal: ConfChangeV2, after: ConfState) -> None:
    assert apply_conf_change(before, proposal) == Success(after)


@pytest.mark.parametrize(
    ("before", "proposal", "reason"),
    [
        (ConfState(voters=(1,)), change(("remove_node", 1)), "removed all voters"),
        (ConfState(voters=(1, 2)), ConfChangeV2(), "not in joint state"),
        (
            ConfState(voters=(1, 2), voters_outgoing=(1,)),
            change(("add_node", 3)),
            "must transition out of joint config first",
        ),
        (ConfState(), change(("add_node", 1), transition="explicit"), "zero-voter"),
    ],
)
def test_invalid_conf_change_is_refused(
    before: ConfState, proposal: ConfChangeV2, reason: str
) -> None:
    result = apply_conf_change(before, proposal)
    assert isinstance(result, Failure)
    assert reason in result.failure()


# -- scenarios ---------------------------------------------------------------------------------


def test_add_voter_takes_effect_when_applied() -> None:
    cluster, checker = cluster_with_spare()
    step = cluster.step(1, ProposeConfChange(change=change(("add_node", 4))))
    # Appended, not applied: the configuration has not changed yet.
    assert cluster.state(1).conf_state == ConfState(voters=(1, 2, 3))
    assert (
        next(c for c in step.commands if isinstance(c, ProposalAccepted)).conf_change_refused == ""
    )
    cluster.deliver_all()
    settle(cluster, 1)
    for node_id in (1, 2, 3, 4):
        assert cluster.state(node_id).conf_state == ConfState(voters=(1, 2, 3, 4)), node_id
    assert cluster.state(4).persisted.log == cluster.state(1).persisted.log
    # Four voters: a quorum is three. With 3 and 4 cut off, nothing more commits.
    cluster.isolate(3)
    cluster.cut |= {(1, 4), (4, 1)}
    commit = cluster.state(1).commit_index
    cluster.step(1, Propose(data=b"x"))
    settle(cluster, 1)
    assert cluster.state(1).commit_index == commit
    assert checker.violations == []


def test_remove_voter_shrinks_the_quorum() -> None:
    cluster, checker = cluster_with_spare()
    cluster.step(1, ProposeConfChange(change=change(("remove_node", 3))))
    cluster.deliver_all()
    settle(cluster, 1)
    assert cluster.state(1).conf_state == ConfState(voters=(1, 2))
    assert [p.node_id for p in cluster.state(1).progress] == [1, 2]
    cluster.crash(3)
    cluster.step(1, Propose(data=b"x"))
    settle(cluster, 1)
    assert cluster.state(2).persisted.log[-1].data == b"x"
    assert cluster.state(1).commit_index == cluster.state(1).persisted.last_index()
    assert checker.violations == []


def test_learner_receives_the_log_but_neither_votes_nor_counts() -> None:
    cluster, checker = cluster_with_spare()
    cluster.step(1, ProposeConfChange(change=change(("add_learner_node", 4))))
    cluster.deliver_all()
    settle(cluster, 1)
    assert cluster.state(4).conf_state == ConfState(voters=(1, 2, 3), learners=(4,))
    assert cluster.state(4).persisted.log == cluster.state(1).persisted.log
    # A learner never campaigns.
    cluster.tick(4, 50)
    assert cluster.state(4).role == "follower"
    assert cluster.state(4).term == cluster.state(1).term
    # Leader + learner are not a quorum of voters 1-3.
    cluster.isolate(2)
    cluster.cut |= {(1, 3), (3, 1)}
    commit = cluster.state(1).commit_index
    cluster.step(1, Propose(data=b"x"))
    settle(cluster, 1)
    assert cluster.state(4).persisted.log[-1].data == b"x"
    assert cluster.state(1).commit_index == commit
    assert checker.violations == []


def test_promote_learner() -> None:
    cluster, checker = cluster_with_spare()
    cluster.step(1, ProposeConfChange(change=change(("add_learner_node", 4))))
    cluster.deliver_all()
    settle(cluster, 1)
    cluster.step(1, ProposeConfChange(change=change(("add_node", 4))))
    cluster.deliver_all()
    settle(cluster, 1)
    assert cluster.state(4).conf_state == ConfState(voters=(1, 2, 3, 4))
    leader_progress = {p.node_id: p for p in cluster.state(1).progress}
    assert not leader_progress[4].is_learner
    assert checker.violations == []


def test_joint_consensus_with_automatic_leave() -> None:
    """Replace voter 3 by voter 4 in one ConfChangeV2: enter C_old,new, then the leader
    leaves it automatically once it is applied (paper section 6; etcd auto-leave)."""
    cluster, checker = cluster_with_spare()
    cluster.step(1, ProposeConfChange(change=change(("add_node", 4), ("remove_node", 3))))
    cluster.deliver_all()
    settle(cluster, 1, rounds=4)
    joint = ConfState(voters=(1, 2, 4), voters_outgoing=(1, 2, 3), auto_leave=True)
    final = ConfState(voters=(1, 2, 4))
    assert applied_confs(cluster, 1) == [joint, final]
    for node_id in (1, 2, 4):
        assert cluster.state(node_id).conf_state == final
    assert names.JOINT_ENTERED_AND_LEFT in checker.history.sometimes_seen
    assert checker.violations == []


def test_joint_consensus_with_explicit_leave() -> None:
    cluster, checker = cluster_with_spare()
    cluster.step(1, ProposeConfChange(change=change(("add_node", 4), transition="explicit")))
    cluster.deliver_all()
    settle(cluster, 1)
    joint = ConfState(voters=(1, 2, 3, 4), voters_outgoing=(1, 2, 3))
    assert cluster.state(1).conf_state == joint
    # While joint, a change other than leaving is refused (becomes an empty entry).
    step = cluster.step(1, ProposeConfChange(change=change(("add_node", 5))))
    [accepted] = [c for c in step.commands if isinstance(c, ProposalAccepted)]
    assert "joint" in accepted.conf_change_refused
    assert cluster.state(1).persisted.log[-1].kind == "normal"
    cluster.deliver_all()
    settle(cluster, 1)
    cluster.step(1, ProposeConfChange(change=ConfChangeV2()))
    cluster.deliver_all()
    settle(cluster, 1)
    assert cluster.state(1).conf_state == ConfState(voters=(1, 2, 3, 4))
    assert checker.violations == []


def test_only_one_pending_conf_change() -> None:
    """A second change proposed before the first is applied becomes an empty normal entry
    (etcd), so at most one conf change is ever unapplied."""
    cluster, checker = cluster_with_spare()
    cluster.step(1, ProposeConfChange(change=change(("add_node", 4))))
    step = cluster.step(1, ProposeConfChange(change=change(("remove_node", 2))))
    [accepted] = [c for c in step.commands if isinstance(c, ProposalAccepted)]
    assert "unapplied conf change" in accepted.conf_change_refused
    entry = cluster.state(1).persisted.log[-1]
    assert (entry.index, entry.kind, entry.data) == (accepted.index, "normal", b"")
    cluster.deliver_all()
    settle(cluster, 1)
    assert cluster.state(1).conf_state == ConfState(voters=(1, 2, 3, 4))
    assert checker.violations == []


def test_new_leader_waits_for_inherited_entries_before_a_conf_change() -> None:
    """etcd sets pending_conf_index to the last index on election: a change is refused until
    everything the new leader inherited is applied."""
    cluster, checker = cluster_with_spare()
    cluster.step(1, Propose(data=b"x"))
    cluster.take(lambda m: m.to_id != 2)
    cluster.deliver_all_until(lambda: cluster.state(2).persisted.last_index() == 2)
    cluster.drop_all()
    cluster.crash(1)
    cluster.tick(3, 10)  # node 3's leader lease (CheckQuorum) expires; it draws 12
    cluster.step(2, Campaign())
    cluster.deliver_all_until(lambda: cluster.leaders() == [2])
    cluster.drop_all()
    state = cluster.state(2)
    assert (state.applied_index, state.pending_conf_index) == (1, 2)
    step = cluster.step(2, ProposeConfChange(change=change(("add_node", 4))))
    [refused] = [c for c in step.commands if isinstance(c, ProposalAccepted)]
    assert "unapplied" in refused.conf_change_refused
    settle(cluster, 2)
    step = cluster.step(2, ProposeConfChange(change=change(("add_node", 4))))
    [accepted] = [c for c in step.commands if isinstance(c, ProposalAccepted)]
    assert accepted.conf_change_refused == ""
    assert checker.violations == []


def test_removed_leader_steps_down_and_the_rest_elect() -> None:
    cluster, checker = cluster_with_spare()
    term = cluster.state(1).term
    cluster.step(1, ProposeConfChange(change=change(("remove_node", 1))))
    cluster.deliver_all()
    assert cluster.state(1).role == "follower"
    assert cluster.state(1).term == term
    # Tell 2 and 3 the commit: the leader's last broadcast already did; let them time out.
    for _ in range(30):
        for node_id in (1, 2, 3):
            cluster.tick(node_id)
        cluster.deliver_all()
    assert cluster.leaders() in ([2], [3])
    assert cluster.state(1).role == "follower"
    assert names.CHECK_QUORUM_STEP_DOWN in checker.history.sometimes_seen
    assert checker.violations == []
