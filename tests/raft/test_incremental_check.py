"""``spec.raft.check_step`` re-examines only the nodes a step changed: on every observation of
simulated runs (all faults, membership changes, mutants whose runs break invariants), it
reports exactly the violations, and reaches exactly the history, of judging every node afresh
at every step (``check_step`` given copies of the nodes, so no node is "unchanged")."""

from __future__ import annotations

import msgspec
import pytest

from models.raft import ClusterObservation
from runner.raft.checks import RaftChecker
from runner.raft.simulator import SimulationOptions, make_header
from runner.raft.world import RAFT
from runner.sim.run import Run
from runner.sim.swarm import choose
from spec.raft import RaftHistory, check_step


def fresh_copies(observation: ClusterObservation) -> ClusterObservation:
    """Equal nodes that are new objects: the checker cannot tell any node is unchanged."""
    nodes = tuple(msgspec.structs.replace(node) for node in observation.nodes)
    return ClusterObservation(nodes=nodes, partitioned=observation.partitioned)


@pytest.mark.parametrize(
    ("seed", "mutant"),
    [(1, "none"), (2, "none"), (3, "vote_twice"), (7, "skip_consistency_check")],
)
def test_incremental_checking_equals_checking_everything(seed: int, mutant: str) -> None:
    import random

    options = SimulationOptions(seed=seed, nodes=5, safety_steps=800, mutant=mutant)
    prng = random.Random(seed)
    header = make_header(options, prng, "test")
    world = RAFT.build(header.setup, header.swarm)
    run = Run(world)
    observer = RaftChecker()
    incremental, full = RaftHistory(), RaftHistory()
    unchanged_seen = 0
    for _ in range(800):
        action = choose(prng, header.swarm, world.choices(run.state, run.last))
        run.step(action)
        observation = observer.observe(run.state)
        before = incremental.previous
        unchanged_seen += sum(before.get(n.node_id) is n for n in observation.nodes)
        incremental, found = check_step(incremental, observation)
        full, expected = check_step(full, fresh_copies(observation))
        assert found == expected
        assert incremental == full
        if found:
            break
    assert unchanged_seen > 0, "the runs never left a node unchanged: nothing was compared"


def test_an_unchanged_node_is_judged_against_a_commit_recorded_since() -> None:
    """Node 2 restarted from a snapshot covering index 5 (term 2) with commit index 5 and no
    log: its commit recorded nothing. Then node 1 commits index 5 with an entry of term 3 while
    node 2 stays exactly as it was: node 2 no longer holds that committed entry. Judging only
    the changed node 1 would miss it; the unchanged node 2 is re-examined."""
    from models.raft import SnapshotMetadata
    from spec.raft.invariants import COMMITTED_ENTRIES_DURABLE
    from tests.raft.builders import observed

    snapshotted = msgspec.structs.replace(
        observed(2, (), term=3, commit_index=5, applied_index=5),
        snapshot=SnapshotMetadata(index=5, term=2),
    )
    behind = observed(1, (1, 1, 1, 1, 3), term=3, commit_index=0)
    committed = msgspec.structs.replace(behind, commit_index=5, applied_index=5)
    first = ClusterObservation(nodes=(behind, snapshotted), partitioned=False)
    second = ClusterObservation(nodes=(committed, snapshotted), partitioned=False)
    history, found = check_step(RaftHistory(), first)
    assert found == ()
    history, found = check_step(history, second)
    assert [v.property_name for v in found] == [COMMITTED_ENTRIES_DURABLE]
    assert found[0].nodes == (1, 2)
    _, expected = check_step(check_step(RaftHistory(), first)[0], fresh_copies(second))
    assert found == expected
