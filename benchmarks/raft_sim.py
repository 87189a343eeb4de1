"""Raft simulation and replay speed: ``python -m benchmarks.raft_sim``.

Prints simulated steps per second for 3 and 5 nodes with every fault kind on and every
``spec.raft`` invariant checked after every step (fingerprints and trace lines included), and
replay speed in trace lines per second, then the ratio of the 5-node simulation to the bare
core (``benchmarks.raft_core``: ``impl.raft`` events per CPU second with a minimal pump, no
checking, no fingerprints, no trace). Figures only, no assertion: speed depends on the machine
and its load; CPU seconds are the fair measure on a shared machine. ``--profile`` prints the
hottest functions of one 5-node run.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

from benchmarks.raft_core import core_events_per_second
from runner.cli.worlds import WORLDS
from runner.raft.faults import FAULT_KINDS
from runner.raft.simulator import SimulationOptions, simulate
from runner.sim.replay import replay
from runner.sim.trace import parse_trace

SEEDS = (1, 2, 3)


def measure(nodes: int, steps: int) -> float:
    """Simulate and replay every seed; print rates per CPU second and per wall second (the
    CPU figure is the fair one on a shared machine)."""
    simulated = lines = 0
    simulate_cpu = simulate_wall = replay_cpu = replay_wall = 0.0
    for seed in SEEDS:
        options = SimulationOptions(seed=seed, nodes=nodes, safety_steps=steps, faults=FAULT_KINDS)
        cpu, wall = time.process_time(), time.perf_counter()
        result = simulate(options, "benchmark")
        simulate_cpu += time.process_time() - cpu
        simulate_wall += time.perf_counter() - wall
        simulated += result.result.steps
        content = result.trace.content()
        cpu, wall = time.process_time(), time.perf_counter()
        report = replay(parse_trace(content, "benchmark.jsonl", WORLDS))
        replay_cpu += time.process_time() - cpu
        replay_wall += time.perf_counter() - wall
        assert report.divergence is None, report.divergence
        lines += len(result.trace.lines)
    print(
        f"{nodes} nodes, faults {','.join(FAULT_KINDS)}, seeds {SEEDS}: {simulated} steps: "
        f"{simulated / simulate_cpu:,.0f} simulated steps per CPU second "
        f"({simulated / simulate_wall:,.0f} per wall second); replay of {lines} trace lines: "
        f"{lines / replay_cpu:,.0f} lines per CPU second ({lines / replay_wall:,.0f} per wall "
        "second)"
    )
    return simulated / simulate_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=2500, help="safety steps per run")
    parser.add_argument("--profile", action="store_true", help="profile one 5-node run")
    args = parser.parse_args()
    if args.profile:
        options = SimulationOptions(seed=1, nodes=5, safety_steps=args.steps, faults=FAULT_KINDS)
        profiler = cProfile.Profile()
        profiler.runcall(simulate, options, "benchmark")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        return
    rates = {nodes: measure(nodes, args.steps) for nodes in (3, 5)}
    core = core_events_per_second(nodes=5)
    print(
        f"bare core (impl.raft, 5 nodes): {core:,.0f} events per CPU second; the 5-node "
        f"simulation runs at {rates[5] / core:.0%} of it"
    )


if __name__ == "__main__":
    main()
