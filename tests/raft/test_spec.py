"""``spec.raft`` can fail: every safety property is broken by a hand-built observation (and
holds on its well-behaved twin), and the ``sometimes`` companions are recognised."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import pytest

from models.raft import (
    ClusterObservation,
    ConfChangeSingle,
    ConfChangeV2,
    ConfState,
    Entry,
    NodeObservation,
    SnapshotMetadata,
)
from spec.raft import COMPANION_OF, COMPANIONS, SAFETY, RaftHistory, RaftStep, check_step
from spec.raft import invariants as names
from spec.raft.properties import unmet_companions
from tests.raft.builders import log_of, observed


def run(*observations: Sequence[NodeObservation]) -> tuple[RaftHistory, set[str]]:
    history = RaftHistory()
    broken: set[str] = set()
    for nodes in observations:
        history, violations = check_step(history, ClusterObservation(nodes=tuple(nodes)))
        broken |= {violation.property_name for violation in violations}
    return history, broken


def conf_entry(index: int, term: int) -> Entry:
    change = ConfChangeV2(changes=(ConfChangeSingle(type="add_node", node_id=4),))
    return Entry(term=term, index=index, kind="conf_change", conf_change=change)


# Each case: (property, a bad run, the same run made good). A run is a list of observations.
CASES: dict[str, tuple[list[list[NodeObservation]], list[list[NodeObservation]]]] = {
    names.ELECTION_SAFETY: (
        [[observed(1, term=2, role="leader"), observed(2, term=2, role="leader")]],
        [[observed(1, term=2, role="leader"), observed(2, term=3, role="leader")]],
    ),
    names.LEADER_APPEND_ONLY: (
        [
            [observed(1, [1, 1], term=1, role="leader")],
            [observed(1, [1], term=1, role="leader")],
        ],
        [
            [observed(1, [1, 1], term=1, role="leader")],
            [observed(1, [1, 1, 1], term=1, role="leader")],
        ],
    ),
    names.LOG_MATCHING: (
        [
            [
                observed(1, [1, 2], term=2),
                observed(
                    2,
                    [1, 1],
                    term=2,
                    log=(
                        Entry(term=1, index=1, data=b"1"),
                        Entry(term=2, index=2, data=b"other"),
                    ),
                ),
            ]
        ],
        [[observed(1, [1, 2], term=2), observed(2, [1, 2], term=2)]],
    ),
    names.LEADER_COMPLETENESS: (
        [
            [observed(1, [1], term=1, commit_index=1), observed(2, [], term=1)],
            [observed(1, [1], term=1, commit_index=1), observed(2, [], term=2, role="leader")],
        ],
        [
            [observed(1, [1], term=1, commit_index=1), observed(2, [1], term=1)],
            [observed(1, [1], term=1, commit_index=1), observed(2, [1], term=2, role="leader")],
        ],
    ),
    names.STATE_MACHINE_SAFETY: (
        [[observed(1, [1], term=2, commit_index=1), observed(2, [2], term=2, commit_index=1)]],
        [[observed(1, [1], term=2, commit_index=1), observed(2, [1], term=2, commit_index=1)]],
    ),
    names.TERM_MONOTONIC: (
        [[observed(1, term=3)], [observed(1, term=2)]],
        [[observed(1, term=3)], [observed(1, term=4)]],
    ),
    names.ONE_VOTE_PER_TERM: (
        [
            [observed(1, term=3, vote=2)],
            [observed(1, term=3, up=False, vote=0)],
            [observed(1, term=3, vote=3)],
        ],
        [
            [observed(1, term=3, vote=2)],
            [observed(1, term=3, up=False, vote=2)],
            [observed(1, term=4, vote=3)],
        ],
    ),
    names.COMMIT_INDEX_MONOTONIC: (
        [[observed(1, [1, 1], commit_index=2)], [observed(1, [1, 1], commit_index=1)]],
        [[observed(1, [1, 1], commit_index=2)], [observed(1, [1, 1], commit_index=2)]],
    ),
    names.COMMITTED_ENTRIES_DURABLE: (
        [
            [observed(1, [1, 1], term=1, commit_index=2)],
            [observed(1, [1, 2], term=2, commit_index=2, up=False)],
        ],
        [
            [observed(1, [1, 1], term=1, commit_index=2)],
            [observed(1, [1, 1, 2], term=2, commit_index=2, up=False)],
        ],
    ),
    names.SINGLE_PENDING_CONF_CHANGE: (
        [[observed(1, term=1, role="leader", log=(conf_entry(1, 1), conf_entry(2, 1)))]],
        [[observed(1, term=1, role="leader", log=(conf_entry(1, 1), Entry(term=1, index=2)))]],
    ),
}


def test_every_safety_property_has_a_failing_case() -> None:
    assert set(CASES) == {prop.name for prop in SAFETY}


@pytest.mark.parametrize("name", sorted(CASES))
def test_property_fails_on_bad_observation(name: str) -> None:
    bad, good = CASES[name]
    _, broken = run(*bad)
    assert name in broken
    _, broken_good = run(*good)
    assert broken_good == set()


@pytest.mark.parametrize("prop", SAFETY, ids=lambda prop: prop.name)
def test_property_values_judge_a_step(prop: object) -> None:
    """The ``Property`` value agrees with ``check_step`` on the last step of each case."""
    from spec.property import Property

    assert isinstance(prop, Property)
    bad, good = CASES[prop.name]
    for observations, expected in ((bad, False), (good, True)):
        history, _ = run(*observations[:-1])
        step = RaftStep(
            history=history, observation=ClusterObservation(nodes=tuple(observations[-1]))
        )
        assert prop.holds(step) is expected


def test_new_leader_may_inherit_a_committed_and_a_pending_conf_change() -> None:
    """Node 1 committed the change at 1 and proposed another at 2; node 2, elected before it
    learned of the commit, holds both with nothing applied: still one pending change."""
    log = (conf_entry(1, 1), conf_entry(2, 1))
    _, broken = run(
        [
            observed(1, term=1, log=log, commit_index=1),
            observed(2, term=2, role="leader", log=log, commit_index=0),
        ]
    )
    assert broken == set()


def test_violation_names_nodes_and_reason() -> None:
    history = RaftHistory()
    observation = ClusterObservation(
        nodes=(observed(1, term=2, role="leader"), observed(2, term=2, role="leader"))
    )
    _, [violation] = check_step(history, observation)
    assert violation.property_name == names.ELECTION_SAFETY
    assert violation.nodes == (1, 2)
    assert "term 2" in violation.reason


def test_every_safety_property_has_a_companion() -> None:
    companions = {prop.name for prop in COMPANIONS}
    assert set(COMPANION_OF) == {prop.name for prop in SAFETY}
    assert set(COMPANION_OF.values()) <= companions


def test_companions_are_recognised() -> None:
    """Hand-built run: a leader is elected and appends, an entry reaches a second node and
    commits on both, terms advance, a vote is cast, a partition heals and then an entry
    commits, the leader steps down in its term, a node restarts, a snapshot is installed,
    a joint configuration is entered and left."""
    joint = ConfState(voters=(1, 2, 3), voters_outgoing=(1, 2))
    plain = ConfState(voters=(1, 2, 3))
    steps: list[tuple[list[NodeObservation], bool]] = [
        ([observed(1, term=1, vote=1), observed(2, term=0), observed(3)], False),
        (
            [
                observed(1, [1], term=1, role="leader", vote=1),
                observed(2, term=1, vote=1),
                observed(3),
            ],
            True,
        ),
        (
            [
                observed(1, [1, 1], term=1, role="leader", commit_index=1),
                observed(2, [1], term=1, commit_index=1),
                observed(3, up=False),
            ],
            False,
        ),
        (
            [
                observed(1, [1, 1], term=1, role="follower", commit_index=2),
                observed(2, [1, 1], term=2, commit_index=2),
                observed(3, [1], commit_index=1),
            ],
            False,
        ),
    ]
    history = RaftHistory()
    for nodes, partitioned in steps:
        history, violations = check_step(
            history, ClusterObservation(nodes=tuple(nodes), partitioned=partitioned)
        )
        assert violations == ()
    seen = history.sometimes_seen
    for name in (
        names.LEADER_ELECTED,
        names.LEADER_APPENDS,
        names.ENTRY_REPLICATED,
        names.ENTRY_COMMITTED_TWICE,
        names.TERM_ADVANCES,
        names.VOTE_GRANTED,
        names.COMMIT_ADVANCES,
        names.COMMIT_AFTER_HEAL,
        names.CHECK_QUORUM_STEP_DOWN,
        names.RESTART_WITH_COMMITTED,
    ):
        assert name in seen, name
    # Snapshot installed: node 3's snapshot jumps past what it had applied. Joint entered/left.
    installed = msgspec.structs.replace(
        observed(3, term=2, commit_index=2),
        log=(),
        snapshot=SnapshotMetadata(index=2, term=1, conf_state=plain),
        conf_state=joint,
    )
    history, _ = check_step(history, ClusterObservation(nodes=(installed,)))
    left = msgspec.structs.replace(installed, conf_state=plain)
    history, _ = check_step(history, ClusterObservation(nodes=(left,)))
    assert names.SNAPSHOT_INSTALLED in history.sometimes_seen
    assert names.JOINT_ENTERED_AND_LEFT in history.sometimes_seen
    assert names.CONF_CHANGE_APPLIED in history.sometimes_seen
    assert names.LEADER_HOLDS_EARLIER_COMMITS not in history.sometimes_seen
    assert unmet_companions(history) == (names.LEADER_HOLDS_EARLIER_COMMITS,)


def test_log_of_matches_observation_helper() -> None:
    assert observed(1, [1, 2]).log == log_of([1, 2])
