"""Whole-cluster simulation speed: ``python -m benchmarks.cluster_sim``.

Prints simulated cluster steps per second at 3, 10 and 100 nodes (kubelets): the world of
``kubeoracle simulate cluster`` (etcd members on Raft, the API server, the scheduler, two
controller managers, the kubelets) with every fault kind on, every ``spec.cluster`` property
checked after every step, fingerprints and trace lines included, as the command runs it. The
start (the members' election, the API server's start-up, every kubelet registering, settled
before step 1) is timed apart. Then replay speed of the same traces. Figures only, no
assertion: CPU seconds are the fair measure on a shared machine.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

from models.cluster_world import ClusterSetup
from models.trace import SwarmOptions
from runner.cli.worlds import WORLDS
from runner.cluster.world_kind import CLUSTER
from runner.sim.replay import replay
from runner.sim.simulate import RunOptions, Simulation, make_header
from runner.sim.swarm import choose
from runner.sim.trace import parse_trace

SEEDS = (1, 2)


def _fixed(setup: ClusterSetup) -> Callable[[random.Random, SwarmOptions], ClusterSetup]:
    return lambda _prng, _swarm: setup


def measure(nodes: int, steps: int) -> None:
    """Run ``steps`` safety steps of each seed at ``nodes`` nodes and replay them."""
    started_cpu = simulated_cpu = simulated_wall = replay_cpu = 0.0
    simulated = lines = 0
    for seed in SEEDS:
        prng = random.Random(seed)
        options = RunOptions(
            seed=seed, safety_steps=steps, liveness_steps=1, faults=CLUSTER.fault_kinds
        )
        setup = ClusterSetup(seed=seed, nodes=nodes)
        cpu = time.process_time()
        header = make_header(CLUSTER, options, prng, _fixed(setup), "benchmark")
        simulation = Simulation(CLUSTER, header, prng)
        started_cpu += time.process_time() - cpu
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(steps):
            state = simulation.run.state
            action = choose(
                prng, header.swarm, simulation.world.choices(state, simulation.run.last)
            )
            outcome = simulation.advance(action)
            if outcome.violations:
                raise AssertionError(outcome.violations)
        simulated_cpu += time.process_time() - cpu
        simulated_wall += time.perf_counter() - wall
        simulated += steps
        result = simulation.passed()
        content = result.trace.content()
        cpu = time.process_time()
        report = replay(parse_trace(content, "benchmark.jsonl", WORLDS))
        replay_cpu += time.process_time() - cpu
        lines += len(result.trace.lines)
        assert report.divergence is None, report.divergence
    print(
        f"{nodes:>3} nodes, seeds {SEEDS}, every fault kind: start {started_cpu / len(SEEDS):.1f} "
        f"CPU s per run; {simulated} steps at {simulated / simulated_cpu:,.0f} simulated steps "
        f"per CPU second ({simulated / simulated_wall:,.0f} per wall second); replay "
        f"{lines / replay_cpu:,.0f} trace lines per CPU second",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=1000, help="safety steps per run")
    parser.add_argument("--nodes", type=int, nargs="*", default=[3, 10, 100])
    args = parser.parse_args()
    for nodes in args.nodes:
        measure(nodes, args.steps)


if __name__ == "__main__":
    main()
