"""Exploration speed: ``python -m benchmarks.explore [--seeds 1..200] [--workers 2]``.

Runs the same exploration (Raft, the reference and every mutant unless ``--mutant`` says
otherwise, ``--steps`` safety steps per run) on each engine: in this process, a local process
pool and a Dask ``LocalCluster`` of ``--workers`` workers; prints runs per second, the ratio
to the in-process engine and whether every engine produced the same table. Figures only, no
assertion: wall-clock speed depends on the machine and its load (printed with the figures).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from runner.cli.explore import parse_mutants, parse_seeds
from runner.cli.worlds import EXPLORABLE
from runner.explore.engine import DaskEngine, Engine, InProcessEngine, LocalEngine
from runner.explore.exploration import Exploration, explore
from runner.explore.simulation import RunChoices

ENGINES = ("in-process", "local", "dask")


def make(name: str, workers: int) -> Engine:
    if name == "in-process":
        return InProcessEngine()
    return LocalEngine(workers) if name == "local" else DaskEngine(workers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--world", default="raft")
    parser.add_argument("--seeds", default="1..100")
    parser.add_argument("--mutant", default="all")
    parser.add_argument("--steps", type=int, default=None, help="default: the world's")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--engines", default=",".join(ENGINES))
    args = parser.parse_args()
    target = EXPLORABLE[args.world]
    steps = target.safety_steps if args.steps is None else args.steps
    exploration = Exploration(
        args.world,
        target,
        parse_mutants(args.mutant, target.mutants),
        parse_seeds(args.seeds),
        RunChoices(steps, 10000, None, "benchmark"),
    )
    runs = len(exploration.tasks())
    print(
        f"explore {args.world}, seeds {args.seeds}, {len(exploration.mutants)} targets,"
        f" {runs} runs of {steps} safety steps; {os.cpu_count()} CPUs,"
        f" load average {os.getloadavg()[0]:.1f} at the start"
    )
    tables: list[dict[str, Any]] = []
    baseline: float | None = None
    for name in args.engines.split(","):
        engine = make(name, args.workers)
        try:
            started = time.perf_counter()
            report = explore(exploration, engine)
            seconds = time.perf_counter() - started
        finally:
            engine.close()
        rate = runs / seconds
        baseline = baseline or rate
        tables.append({key: value for key, value in report.items() if key != "run"})
        print(
            f"  {name:<10} {engine.workers} workers: {seconds:8.1f} s, {rate:7.2f} runs/s,"
            f" {rate / baseline:5.2f}x the first engine"
        )
    same = all(table == tables[0] for table in tables)
    print(
        f"  tables identical across engines: {'yes' if same else 'NO'};"
        f" load average {os.getloadavg()[0]:.1f} at the end"
    )


if __name__ == "__main__":
    main()
