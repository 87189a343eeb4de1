"""Whole-cluster simulation speed: ``python -m benchmarks.cluster_sim [--nodes 3,10,100]``.

Runs the world of ``kubeoracle simulate cluster`` (etcd members on Raft, the API server, the
scheduler, two controller managers, kube-proxy, the kubelets) as the command does:
fingerprints and trace lines included, every ``spec.cluster`` property judged after every
step; every fault kind on (``--swarm``: the seed picks them, as the command). For each node
count it prints the start (the members' election, the API server's start-up, every kubelet
registering, the Deployments created, settled before step 1) and simulated steps per second in
the safety phase, in the liveness phase (faults healed, until the cluster converges) and
overall, per CPU second (the fair figure on a shared machine) and per wall second, with the
load average before and after. ``--replay`` also replays each trace (it must not diverge; a
trace that replay refuses to read, as one with a line over ``line_bytes``, is named) and
prints trace lines per second. ``--profile N`` prints the hottest functions of one N-node run
instead. Figures only, no assertion on speed: it depends on the machine and its load.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import time
from dataclasses import dataclass

from models.cluster_world import ClusterSetup
from models.strict_input import InputError
from models.trace import TracePhase
from runner.cli.worlds import WORLDS
from runner.cluster.world_kind import CLUSTER
from runner.sim.replay import replay
from runner.sim.simulate import RunOptions, Simulation, make_header
from runner.sim.swarm import choose
from runner.sim.trace import parse_trace

NODE_COUNTS = (3, 10, 100)


@dataclass
class Phase:
    """Steps taken in a phase and the CPU and wall seconds they took."""

    steps: int = 0
    cpu: float = 0.0
    wall: float = 0.0

    def rates(self) -> str:
        if not self.steps:
            return "no steps"
        return (
            f"{self.steps} steps, {self.steps / self.cpu:,.1f}/CPU s "
            f"({self.steps / self.wall:,.1f}/wall s)"
        )


class Clock:
    """CPU and wall seconds since the last reading."""

    def __init__(self) -> None:
        self.cpu, self.wall = time.process_time(), time.perf_counter()

    def lap(self, phase: Phase) -> None:
        cpu, wall = time.process_time(), time.perf_counter()
        phase.cpu += cpu - self.cpu
        phase.wall += wall - self.wall
        self.cpu, self.wall = cpu, wall


@dataclass
class Timed:
    """One run's phases, its outcome and its trace's text."""

    start: Phase
    safety: Phase
    liveness: Phase
    status: str
    trace: bytes


def timed_run(seed: int, nodes: int, steps: int, liveness: int, swarm: bool) -> Timed:
    """One run of ``simulate cluster --seed SEED --nodes NODES`` (every fault kind on unless
    ``swarm``), the phases timed apart (the schedule of ``Simulation.execute``)."""
    start, safety, live = Phase(), Phase(), Phase()
    clock = Clock()
    faults = None if swarm else CLUSTER.fault_kinds
    options = RunOptions(seed=seed, safety_steps=steps, liveness_steps=liveness, faults=faults)
    setup = ClusterSetup(seed=seed, nodes=nodes, mutant="")
    prng = random.Random(options.seed)
    header = make_header(CLUSTER, options, prng, lambda _prng, _swarm: setup, "benchmark")
    simulation = Simulation(CLUSTER, header, prng)
    clock.lap(start)
    run = simulation.run
    status = ""
    for _ in range(steps):
        action = choose(prng, header.swarm, simulation.world.choices(run.state, run.last))
        outcome = simulation.advance(action)
        safety.steps += 1
        if outcome.violations:
            status = simulation.violation(outcome.violations).result.status
            break
    clock.lap(safety)
    if not status:
        run.start_liveness()
        simulation.trace.add(TracePhase(index=run.steps, phase="liveness"))
        driver = simulation.world.driver(prng)
        for _ in range(liveness):
            outcome = simulation.advance(driver.next_action(run.state, run.steps))
            live.steps += 1
            if outcome.violations:
                status = simulation.violation(outcome.violations).result.status
                break
            if run.liveness_reached_at is not None:
                status = simulation.passed().result.status
                break
            driver.observe(run.steps, run.last)
        else:
            status = simulation.finish(run.liveness_failure(liveness)).result.status
        clock.lap(live)
    return Timed(start, safety, live, status, simulation.trace.content())


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f} (5 min {five:.1f}) on {os.cpu_count()} cores"


def measure(
    nodes: int, seeds: tuple[int, ...], steps: int, liveness: int, check: bool, swarm: bool
) -> None:
    start, safety, live = Phase(), Phase(), Phase()
    before = load()
    outcomes = []
    lines = 0
    refused: list[str] = []
    replay_cpu = replay_wall = 0.0
    for seed in seeds:
        timed = timed_run(seed, nodes, steps, liveness, swarm)
        outcomes.append(f"seed {seed} {timed.status}")
        for total, part in ((start, timed.start), (safety, timed.safety), (live, timed.liveness)):
            total.steps += part.steps
            total.cpu += part.cpu
            total.wall += part.wall
        if check:
            clock = Clock()
            try:
                report = replay(parse_trace(timed.trace, "benchmark.jsonl", WORLDS))
            except InputError as error:
                refused.append(f"seed {seed}: {error}")
                continue
            replayed = Phase()
            clock.lap(replayed)
            assert report.divergence is None, report.divergence
            lines += len(timed.trace.splitlines())
            replay_cpu += replayed.cpu
            replay_wall += replayed.wall
    overall = Phase(safety.steps + live.steps, safety.cpu + live.cpu, safety.wall + live.wall)
    faults = "the seed's faults" if swarm else "every fault kind"
    print(f"{nodes} nodes, {faults}, {', '.join(outcomes)} ({before} before, {load()} after):")
    print(f"  start-up: {start.cpu:.1f} CPU s ({start.wall:.1f} wall s) for {len(seeds)} run(s)")
    print(f"  safety:   {safety.rates()}")
    print(f"  liveness: {live.rates()}")
    print(f"  overall:  {overall.rates()}")
    if check and lines:
        print(
            f"  replay:   {lines} trace lines, {lines / replay_cpu:,.1f}/CPU s "
            f"({lines / replay_wall:,.1f}/wall s), no divergence"
        )
    for reason in refused:
        print(f"  replay refused the trace of {reason}")


def node_counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of node counts: {text!r}") from None
    if not counts or any(not 1 <= count <= 200 for count in counts):
        raise argparse.ArgumentTypeError(f"node counts must be 1..200: {text!r}")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--nodes", type=node_counts, default=NODE_COUNTS, help="node counts (default 3,10,100)"
    )
    parser.add_argument("--seeds", type=int, default=2, help="seeds 1..N per node count (2)")
    parser.add_argument("--steps", type=int, default=1500, help="safety steps (default 1500)")
    parser.add_argument("--liveness-steps", type=int, default=8000, help="liveness bound")
    parser.add_argument("--swarm", action="store_true", help="the seed picks the faults")
    parser.add_argument("--replay", action="store_true", help="also replay every trace")
    parser.add_argument("--profile", type=int, metavar="N", help="profile one N-node run")
    args = parser.parse_args()
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(timed_run, 1, args.profile, args.steps, args.liveness_steps, args.swarm)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
        return
    seeds = tuple(range(1, args.seeds + 1))
    for nodes in args.nodes:
        measure(nodes, seeds, args.steps, args.liveness_steps, args.replay, args.swarm)


if __name__ == "__main__":
    main()
