"""metrics-server's pipeline from the kubelets' ``/metrics/resource`` to the metrics API
(``metrics.k8s.io/v1beta1``), as pure functions.

- A scrape of one node is a list of samples (name, labels, value, timestamp); ``batch`` keeps
  ``node_cpu_usage_seconds_total``, ``node_memory_working_set_bytes``,
  ``container_cpu_usage_seconds_total``, ``container_memory_working_set_bytes`` and
  ``container_start_time_seconds`` (a sample without a timestamp takes the scrape's time). A
  node whose cpu or memory reads 0 is dropped, and so is a pod one of whose containers does.
- ``store`` keeps the last two points of every node and container: a newer point pushes the
  last one back; a container whose start time is not before the stored point restarted, so its
  old point goes; a container started less than the metric resolution (but at least 10 s) before
  its point gets a synthetic previous point at its start with zero cpu.
- ``usage`` of a node or container is the cpu rate over the window between its two points
  (nanocores: core-nanoseconds used / seconds elapsed) and the last working set; a start time
  or cpu counter that went down gives none. A pod has metrics only when every container it had
  in the last scrape has two points; its timestamp and window are its earliest container's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import msgspec

FRESH_CONTAINER_MIN_NS: Final = 10_000_000_000
"""A container younger than this at its first point gets no synthetic start point."""
NODE_CPU: Final = "node_cpu_usage_seconds_total"
NODE_MEMORY: Final = "node_memory_working_set_bytes"
CONTAINER_CPU: Final = "container_cpu_usage_seconds_total"
CONTAINER_MEMORY: Final = "container_memory_working_set_bytes"
CONTAINER_START: Final = "container_start_time_seconds"


class Point(msgspec.Struct, frozen=True, kw_only=True):
    start_ns: int = 0
    timestamp_ns: int = 0
    cpu_core_ns: int = 0
    memory_bytes: int = 0


PodKey = tuple[str, str]
"""(namespace, name)."""


class Batch(msgspec.Struct, frozen=True, kw_only=True):
    nodes: dict[str, Point] = msgspec.field(default_factory=dict)
    pods: dict[PodKey, dict[str, Point]] = msgspec.field(default_factory=dict)


class Storage(msgspec.Struct, frozen=True, kw_only=True):
    last_nodes: dict[str, Point] = msgspec.field(default_factory=dict)
    prev_nodes: dict[str, Point] = msgspec.field(default_factory=dict)
    last_pods: dict[PodKey, dict[str, Point]] = msgspec.field(default_factory=dict)
    prev_pods: dict[PodKey, dict[str, Point]] = msgspec.field(default_factory=dict)


class Usage(msgspec.Struct, frozen=True, kw_only=True):
    cpu_nanocores: int
    memory_bytes: int
    timestamp_ns: int
    window_ns: int


Sample = tuple[str, Mapping[str, str], float, int | None]
"""A Prometheus sample: name, labels, value, timestamp in ms (None: none written)."""


def batch(node: str, samples: list[Sample], scraped_ms: int) -> Batch:
    """One node's scrape as metrics-server decodes it."""
    node_point = Point()
    containers: dict[PodKey, dict[str, Point]] = {}
    for name, labels, value, timestamp_ms in samples:
        at_ns = (timestamp_ms if timestamp_ms is not None else scraped_ms) * 1_000_000
        if name == NODE_CPU:
            node_point = msgspec.structs.replace(
                node_point, cpu_core_ns=int(value * 1e9), timestamp_ns=at_ns
            )
        elif name == NODE_MEMORY:
            node_point = msgspec.structs.replace(
                node_point, memory_bytes=int(value), timestamp_ns=at_ns
            )
        elif name in (CONTAINER_CPU, CONTAINER_MEMORY, CONTAINER_START):
            key = (labels.get("namespace", ""), labels.get("pod", ""))
            pod = containers.setdefault(key, {})
            container = labels.get("container", "")
            point = pod.get(container, Point())
            if name == CONTAINER_CPU:
                point = msgspec.structs.replace(
                    point, cpu_core_ns=int(value * 1e9), timestamp_ns=at_ns
                )
            elif name == CONTAINER_MEMORY:
                point = msgspec.structs.replace(point, memory_bytes=int(value), timestamp_ns=at_ns)
            else:
                point = msgspec.structs.replace(point, start_ns=int(value * 1e9))
            pod[container] = point
    nodes = (
        {node: node_point}
        if node_point.timestamp_ns and node_point.cpu_core_ns and node_point.memory_bytes
        else {}
    )
    pods = {
        key: points
        for key, points in containers.items()
        if points and all(p.cpu_core_ns and p.memory_bytes for p in points.values())
    }
    return Batch(nodes=nodes, pods=pods)


def merge(batches: list[Batch]) -> Batch:
    """One scrape cycle's batches as one (the first of a duplicate wins)."""
    nodes: dict[str, Point] = {}
    pods: dict[PodKey, dict[str, Point]] = {}
    for each in batches:
        for name, point in each.nodes.items():
            nodes.setdefault(name, point)
        for key, points in each.pods.items():
            pods.setdefault(key, points)
    return Batch(nodes=nodes, pods=pods)


def _kept_previous(
    new: Point, last: Point | None, prev: Point | None, require_same_start: bool
) -> Point | None:
    """The previous point to keep beside ``new`` (the stored last, or the stored previous)."""
    if last is None:
        return None
    if require_same_start and not new.start_ns < last.timestamp_ns:
        return None
    if new.timestamp_ns > last.timestamp_ns:
        return last
    if prev is not None and prev.timestamp_ns < new.timestamp_ns:
        return prev
    return None


def store(storage: Storage, scraped: Batch, resolution_ns: int) -> Storage:
    """The storage after one scrape cycle (nodes and pods not in it are forgotten)."""
    prev_nodes: dict[str, Point] = {}
    for name, point in scraped.nodes.items():
        kept = _kept_previous(
            point, storage.last_nodes.get(name), storage.prev_nodes.get(name), False
        )
        if kept is not None:
            prev_nodes[name] = kept
    prev_pods: dict[PodKey, dict[str, Point]] = {}
    for key, containers in scraped.pods.items():
        kept_containers: dict[str, Point] = {}
        last_pod = storage.last_pods.get(key, {})
        prev_pod = storage.prev_pods.get(key, {})
        for name, point in containers.items():
            age = point.timestamp_ns - point.start_ns
            if (
                point.start_ns < point.timestamp_ns
                and FRESH_CONTAINER_MIN_NS <= age < resolution_ns
            ):
                kept_containers[name] = Point(
                    start_ns=point.start_ns,
                    timestamp_ns=point.start_ns,
                    cpu_core_ns=0,
                    memory_bytes=point.memory_bytes,
                )
                continue
            kept = _kept_previous(point, last_pod.get(name), prev_pod.get(name), True)
            if kept is not None:
                kept_containers[name] = kept
        if kept_containers:
            prev_pods[key] = kept_containers
    return Storage(
        last_nodes=dict(scraped.nodes),
        prev_nodes=prev_nodes,
        last_pods={key: dict(points) for key, points in scraped.pods.items()},
        prev_pods=prev_pods,
    )


def _usage(last: Point, prev: Point) -> Usage | None:
    if last.start_ns < prev.start_ns or last.cpu_core_ns < prev.cpu_core_ns:
        return None
    window = last.timestamp_ns - prev.timestamp_ns
    if window <= 0:
        return None
    return Usage(
        cpu_nanocores=(last.cpu_core_ns - prev.cpu_core_ns) * 1_000_000_000 // window,
        memory_bytes=last.memory_bytes,
        timestamp_ns=last.timestamp_ns,
        window_ns=window,
    )


def node_usage(storage: Storage, node: str) -> Usage | None:
    last, prev = storage.last_nodes.get(node), storage.prev_nodes.get(node)
    if last is None or prev is None:
        return None
    return _usage(last, prev)


def pod_usage(storage: Storage, key: PodKey) -> tuple[Usage, tuple[tuple[str, Usage], ...]] | None:
    """The pod's time (its earliest container's) and each container's usage, by name."""
    last, prev = storage.last_pods.get(key), storage.prev_pods.get(key)
    if last is None or prev is None:
        return None
    containers: list[tuple[str, Usage]] = []
    earliest: Usage | None = None
    for name, point in sorted(last.items()):
        before = prev.get(name)
        if before is None:
            return None
        used = _usage(point, before)
        if used is None:
            continue
        containers.append((name, used))
        if earliest is None or used.timestamp_ns < earliest.timestamp_ns:
            earliest = used
    if earliest is None:
        return None
    return earliest, tuple(containers)
