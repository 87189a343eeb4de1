"""SchedulingBasic in the style of kube-scheduler's scheduler_perf: 5000 nodes, 1000 pods
scheduled first, then 10000 pods scheduled and timed with the default profile; prints pods per
second and peak memory.

Nodes follow scheduler_perf's ``node-default.yaml`` (4 cpu, 32Gi, 110 pods) and pods its
``pod-default.yaml`` (one container requesting 100m cpu and 500Mi). kube-scheduler's CI
requires at least 270 pods/s on this workload (``performance-config.yaml``, integration
harness with an in-process API server). The pods go through the scheduler machine
(``impl.scheduler.machine``) as events, with every binding answered at once.

    python -m benchmarks.scheduler_perf [--nodes 5000] [--initial 1000] [--pods 10000]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import immutables

from impl.scheduler.machine import SchedulerConfig, init
from impl.scheduler.profile import default_profile
from impl.scheduler.run import drive
from models.k8s.core.node import Node, NodeStatus
from models.k8s.core.pod import Container, Pod, PodSpec, ResourceRequirements
from models.k8s.meta import ObjectMeta
from models.quantity import parse_quantity_or_raise
from models.scheduling.cluster import ClusterState


def make_nodes(count: int) -> list[Node]:
    """``node-default.yaml``: 4 cpu, 32Gi memory, 110 pods."""
    allocatable = immutables.Map(
        {
            name: parse_quantity_or_raise(value)
            for name, value in (("cpu", "4"), ("memory", "32Gi"), ("pods", "110"))
        }
    )
    return [
        Node(
            api_version="v1",
            kind="Node",
            metadata=ObjectMeta(
                name=f"node-{index}",
                labels=immutables.Map({"kubernetes.io/hostname": f"node-{index}"}),
            ),
            status=NodeStatus(allocatable=allocatable),
        )
        for index in range(count)
    ]


def make_pods(prefix: str, count: int) -> list[Pod]:
    """``pod-default.yaml``: one pause container requesting 100m cpu and 500Mi memory."""
    requests = immutables.Map(
        {"cpu": parse_quantity_or_raise("100m"), "memory": parse_quantity_or_raise("500Mi")}
    )
    container = Container(
        name="pause",
        image="registry.k8s.io/pause:3.10",
        resources=ResourceRequirements(requests=requests),
    )
    spec = PodSpec(containers=(container,))
    return [
        Pod(
            api_version="v1",
            kind="Pod",
            metadata=ObjectMeta(name=f"{prefix}-{index}", namespace="default"),
            spec=spec,
        )
        for index in range(count)
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the workload and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--initial", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=10000)
    args = parser.parse_args(argv)
    profile = default_profile()
    config = SchedulerConfig({profile.scheduler_name: profile})
    state = init(config, ClusterState(nodes=tuple(make_nodes(args.nodes)))).state
    started = time.perf_counter()
    attempts, state = drive(config, state, make_pods("init", args.initial))
    initial_seconds = time.perf_counter() - started
    assert all(a.node for a in attempts), "an initial pod did not schedule"
    measured = make_pods("pod", args.pods)
    started = time.perf_counter()
    cpu_started = time.process_time()
    attempts, state = drive(config, state, measured)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    scheduled = sum(1 for a in attempts if a.node)
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
