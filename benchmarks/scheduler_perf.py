"""SchedulingBasic in the style of kube-scheduler's scheduler_perf: 5000 nodes, 1000 pods
scheduled first, then 10000 pods scheduled and timed with the default profile; prints pods per
second and peak memory.

Nodes follow scheduler_perf's ``node-default.yaml`` (4 cpu, 32Gi, 110 pods) and pods its
``pod-default.yaml`` (one container requesting 100m cpu and 500Mi). kube-scheduler's CI
requires at least 270 pods/s on this workload (``performance-config.yaml``, integration
harness with an in-process API server).

    python -m benchmarks.scheduler_perf [--nodes 5000] [--initial 1000] [--pods 10000]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import immutables

from impl.scheduler.nodeinfo import build_snapshot
from impl.scheduler.profile import build_profile
from impl.scheduler.queue import run_queue
from models.scheduling import Container, Node, Pod


def make_nodes(count: int) -> list[Node]:
    """``node-default.yaml``: 4 cpu, 32Gi memory, 110 pods."""
    allocatable = immutables.Map({"cpu": 4000, "memory": 32 * 1024**3, "pods": 110})
    return [
        Node(
            name=f"node-{index}",
            labels=immutables.Map({"kubernetes.io/hostname": f"node-{index}"}),
            allocatable=allocatable,
        )
        for index in range(count)
    ]


def make_pods(prefix: str, count: int, start_index: int) -> list[Pod]:
    """``pod-default.yaml``: one pause container requesting 100m cpu and 500Mi memory."""
    container = Container(
        name="pause",
        image="registry.k8s.io/pause:3.10",
        requests=immutables.Map({"cpu": 100, "memory": 500 * 1024**2}),
    )
    return [
        Pod(name=f"{prefix}-{index}", containers=(container,), creation_index=start_index + index)
        for index in range(count)
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the workload and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--initial", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=10000)
    args = parser.parse_args(argv)
    profile = build_profile()
    profiles = {profile.scheduler_name: profile}
    snapshot = build_snapshot(make_nodes(args.nodes), [])
    initial = make_pods("init", args.initial, 0)
    started = time.perf_counter()
    bindings, snapshot = run_queue(profiles, snapshot, initial)
    initial_seconds = time.perf_counter() - started
    assert all(b.node for b in bindings), "an initial pod did not schedule"
    measured = make_pods("pod", args.pods, args.initial)
    started = time.perf_counter()
    cpu_started = time.process_time()
    bindings, snapshot = run_queue(profiles, snapshot, measured)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    scheduled = sum(1 for b in bindings if b.node)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"SchedulingBasic {args.nodes}Nodes_{args.pods}Pods (initial {args.initial} pods)")
    print(f"initial pods: {args.initial} in {initial_seconds:.2f} s")
    print(f"measured pods scheduled: {scheduled}/{args.pods} in {seconds:.2f} s")
    print(f"throughput: {scheduled / seconds:.1f} pods/s (kube-scheduler CI threshold: 270)")
    print(f"per CPU second: {scheduled / cpu_seconds:.1f} pods (CPU time {cpu_seconds:.2f} s)")
    print(f"peak memory (max RSS): {peak_kib / 1024:.0f} MiB")
    return 0 if scheduled == args.pods else 1


if __name__ == "__main__":
    sys.exit(main())
