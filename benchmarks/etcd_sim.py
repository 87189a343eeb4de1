"""etcd world simulation and replay speed: ``python -m benchmarks.etcd_sim``.

Prints simulated steps per CPU second (and per wall second) of ``simulate etcd`` with 3 and 5
members and every fault kind on, fingerprints, deltas and trace lines included, with and
without the history check at the end (linearizability and watch guarantees; its share is
printed too), and replay speed in trace lines per second. Figures only, no assertion: speed
depends on the machine and its load; CPU seconds are the fair measure on a shared machine.
"""

from __future__ import annotations

import argparse
import random
import time

from runner.cli.worlds import WORLDS
from runner.etcd.world_checks import judge
from runner.etcd.world_choices import FAULT_KINDS
from runner.etcd.world_kind import ETCD, draw_setup
from runner.sim.replay import replay
from runner.sim.simulate import RunOptions, Simulation, make_header
from runner.sim.trace import parse_trace

SEEDS = (1, 2, 3)


def measure(members: int, steps: int) -> None:
    """Simulate and replay every seed; print the rates."""
    simulated = lines = operations = 0
    simulate_cpu = simulate_wall = check_cpu = replay_cpu = 0.0
    for seed in SEEDS:
        options = RunOptions(seed=seed, safety_steps=steps, faults=FAULT_KINDS)
        cpu, wall = time.process_time(), time.perf_counter()
        prng = random.Random(seed)
        header = make_header(
            ETCD, options, prng, lambda p, s: draw_setup(p, s, members=members), "benchmark"
        )
        simulation = Simulation(ETCD, header, prng)
        result = simulation.execute()
        simulate_cpu += time.process_time() - cpu
        simulate_wall += time.perf_counter() - wall
        assert result.result.status == "pass", result.result
        simulated += result.result.steps
        operations += len(simulation.run.state.operations)
        cpu = time.process_time()
        judge(simulation.run.state)  # once more, to time the history check alone
        check_cpu += time.process_time() - cpu
        content = result.trace.content()
        cpu = time.process_time()
        report = replay(parse_trace(content, "benchmark.jsonl", WORLDS))
        replay_cpu += time.process_time() - cpu
        assert report.divergence is None, report.divergence
        lines += len(result.trace.lines)
    print(
        f"{members} members, faults {','.join(FAULT_KINDS)}, seeds {SEEDS}: {simulated} steps,"
        f" {operations} client operations: {simulated / simulate_cpu:,.0f} simulated steps per"
        f" CPU second with the history check ({simulated / simulate_wall:,.0f} per wall"
        f" second), {simulated / (simulate_cpu - check_cpu):,.0f} without it (the check takes"
        f" {check_cpu / simulate_cpu:.0%}); replay of {lines} trace lines:"
        f" {lines / replay_cpu:,.0f} lines per CPU second"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=2000, help="safety steps per run")
    args = parser.parse_args()
    for members in (3, 5):
        measure(members, args.steps)


if __name__ == "__main__":
    main()
