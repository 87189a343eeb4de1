"""The Raft world: a cluster of ``impl.raft`` nodes, faults, and every ``spec.raft`` invariant.

Theory of operation. :data:`RAFT` is the world's kind for the kernel: its trace types
(``models.raft_world``), its catalogue of action kinds with the fault each injects and the
range its weight is drawn from (swarm testing, ``runner.sim.swarm``), and ``build``.
:class:`RaftWorld` is one run's world: the cluster (``runner.raft.cluster``), the enabled
choices of the safety phase (``runner.raft.choices``, with its targeted scenarios), the checker
(``runner.raft.checks``), the liveness progress property (``runner.raft.statistics``) and its
driver (``runner.raft.liveness``). Nothing depends on the mutant that runs.
"""

from __future__ import annotations

import random
from typing import Any, Final, final

from models.raft_world import ClusterAction, RaftSetup
from models.trace import SwarmOptions
from runner.raft import faults
from runner.raft.checks import RaftChecker
from runner.raft.choices import SafetyChoices
from runner.raft.cluster import (
    ClusterApplied,
    ClusterConfig,
    ClusterState,
    apply_action,
    cluster_config,
    initial_state,
)
from runner.raft.liveness import LivenessDriver
from runner.raft.statistics import LivenessProgress, Statistics
from runner.sim.world import ActionKind, Choice, NotEnabled, check_world_kind

ACTION_KINDS: Final = (
    ActionKind("deliver", None, 30, 80),
    ActionKind("tick", None, 15, 45),
    ActionKind("random", None, 1, 60),
    ActionKind("propose", None, 1, 8),
    ActionKind("compact", None, 0, 3),
    ActionKind("drop", "drop", 1, 10),
    ActionKind("duplicate", "duplicate", 1, 6),
    ActionKind("partition", "partition", 1, 3),
    ActionKind("heal", "partition", 1, 3),
    ActionKind("crash", "crash", 1, 3),
    ActionKind("restart", "crash", 1, 8),
    ActionKind("crash_leader_after_commit", "crash", 0, 60),
    ActionKind("crash_leader_after_append", "crash", 0, 60),
    ActionKind("isolate_leader", "partition", 0, 6),
    ActionKind("isolate_leader_after_commit", "partition", 0, 60),
    ActionKind("isolate_leader_after_append", "partition", 0, 60),
    ActionKind("crash_after_vote", "crash", 0, 60),
    ActionKind("conf_change", "membership", 1, 3),
    ActionKind("swap_voter", "membership", 0, 3),
    ActionKind("leave_joint", "membership", 1, 3),
    ActionKind("joint_split", "membership", 0, 60),
)
"""The Raft world's action kinds: the fault each injects and its weight range. ``random``
answers a node's election timeout draw; while it waits the node uses the low end, so a low
weight makes simultaneous candidates likely."""


def draw_setup(
    prng: random.Random, swarm: SwarmOptions, nodes: int, mutant: str, spare_nodes: int | None
) -> RaftSetup:
    """The Raft options the seed leaves to chance: timing, flow control, PreVote,
    CheckQuorum, partition shape, how many nodes may be down at once."""
    assert 1 <= nodes <= 9
    spare = min(2, 9 - nodes) if spare_nodes is None else spare_nodes
    entries, inflight = prng.choice(faults.FLOW_CONTROL_CHOICES)
    return RaftSetup(
        nodes=nodes,
        spare_nodes=spare if "membership" in swarm.faults else 0,
        election_timeout_ticks=prng.choice(faults.ELECTION_TIMEOUT_CHOICES),
        heartbeat_interval_ticks=1,
        pre_vote=prng.random() < 0.5,
        check_quorum=prng.random() < 0.5,
        max_entries_per_append=entries,
        max_inflight_appends=inflight,
        mutant=mutant,
        asymmetric_partitions=prng.random() < 0.5,
        max_crashed=prng.randint(1, max(1, (nodes + 1) // 2)),
        max_in_flight=4 * (nodes + 2) ** 2,
    )


@final
class RaftWorld:
    """One run of the Raft world (see the module docstring)."""

    def __init__(self, setup: RaftSetup, swarm: SwarmOptions) -> None:
        self.setup = setup
        self.swarm = swarm
        self.config: ClusterConfig = cluster_config(setup)
        self.scheduler = SafetyChoices(self.config, swarm)

    def initial(self) -> ClusterApplied:
        return initial_state(self.config)

    def apply(self, state: ClusterState, action: ClusterAction) -> ClusterApplied | NotEnabled:
        return apply_action(self.config, state, action)

    def checkers(self) -> tuple[RaftChecker, ...]:
        return (RaftChecker(),)

    def progress(self) -> LivenessProgress:
        return LivenessProgress()

    def driver(self, prng: random.Random) -> LivenessDriver:
        return LivenessDriver(self.config, prng)

    def statistics(self) -> Statistics:
        return Statistics()

    def choices(self, state: ClusterState, last: ClusterApplied) -> list[Choice[ClusterAction]]:
        """The enabled actions of the safety phase (:mod:`runner.raft.choices`)."""
        return self.scheduler.choices(state, last)


@final
class RaftWorldKind:
    """The Raft world for the kernel: trace types, swarm catalogue, ``build``."""

    name: Final = "raft"
    setup_type: Final = RaftSetup
    action_type: Final[Any] = ClusterAction
    action_kinds: Final = ACTION_KINDS
    fault_kinds: Final = faults.FAULT_KINDS

    def build(self, setup: RaftSetup, swarm: SwarmOptions) -> RaftWorld:
        return RaftWorld(setup, swarm)


RAFT: Final = RaftWorldKind()
check_world_kind(RAFT)
