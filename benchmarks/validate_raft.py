"""Benchmark: how fast ``kubeoracle validate raft`` checks traces, in events per second.

Generates consistent etcd-raft-format traces of 25k, 50k and 100k events (a 3-node cluster with
elections every few dozen rounds, see ``runner.raft.synthetic_trace``), validates each, and
prints wall and CPU time (CPU time is steadier on a shared machine) and events per second,
reading included; then the same for etcd-io/raft's own example.ndjson and for a simulator run
exported to both formats. Linear scaling shows as a constant events-per-second figure across
sizes.

    python -m benchmarks.validate_raft [--sizes 25000 50000 100000] [--nodes 3]
                                       [--simulator-steps 20000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from runner.raft.synthetic_trace import synthetic_etcd_trace
from runner.raft.trace_input import read_traces
from spec.raft_validation import Summary, validate

EXAMPLE = (
    Path(__file__).resolve().parent.parent / "tests/validate/corpus/etcd-raft/example.ndjson.gz"
)


def measure(path: Path) -> tuple[int, float, float, str]:
    """(trace lines, wall seconds, CPU seconds, verdict) for validating ``path``."""
    wall, cpu = time.perf_counter(), time.process_time()
    trace = read_traces([path], "auto")
    verdict = validate(trace.events, trace.options)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return trace.records, wall, cpu, "pass" if isinstance(verdict, Summary) else "VIOLATION"


def report(label: str, path: Path) -> None:
    lines, wall, cpu, verdict = measure(path)
    print(
        f"{label:<28} {lines:>8} events  {verdict:<9} wall {wall:6.2f} s  cpu {cpu:6.2f} s  "
        f"{lines / cpu:>9,.0f} events/s (cpu)  {lines / wall:>9,.0f} events/s (wall)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[25_000, 50_000, 100_000])
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--simulator-steps", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        for size in args.sizes:
            path = Path(directory) / f"synthetic-{size}.ndjson"
            path.write_text("\n".join(synthetic_etcd_trace(size, args.nodes, seed=1)) + "\n")
            report(f"synthetic etcd-raft {size}", path)
    report("etcd-io/raft example.ndjson", EXAMPLE)
    with tempfile.TemporaryDirectory() as directory:
        for trace_format in ("kubeoracle", "etcd-raft"):
            path = Path(directory) / f"simulated-{trace_format}.jsonl"
            path.write_text("\n".join(simulated_lines(args.simulator_steps, trace_format)) + "\n")
            report(f"simulator run, {trace_format}", path)


def simulated_lines(steps: int, trace_format: str) -> list[str]:
    """A simulator run (seed 1, 5 nodes, swarm faults) exported as Raft events."""
    from runner.cli.worlds import WORLDS
    from runner.raft.simulator import SimulationOptions, simulate
    from runner.raft.trace_export import node_events
    from runner.raft.trace_writers import etcd_lines, kubeoracle_lines
    from runner.sim.trace import parse_trace

    result = simulate(SimulationOptions(seed=1, safety_steps=steps, liveness_steps=2000))
    events = node_events(parse_trace(result.trace.content(), "benchmark", WORLDS))
    if trace_format == "kubeoracle":
        return kubeoracle_lines(events, "benchmark")
    return etcd_lines(events)


if __name__ == "__main__":
    main()
