"""The kubelet API's usage pages from one ``NodeStats`` reading: ``/metrics/resource`` and
``/metrics/cadvisor`` (Prometheus text, written by prometheus_client) and ``/stats/summary``
(the Summary API's JSON).

- ``/metrics/resource`` (what metrics-server scrapes): ``node_``/``pod_``/
  ``container_cpu_usage_seconds_total`` (counters, core-seconds), ``node_``/``pod_``/
  ``container_memory_working_set_bytes``, ``container_start_time_seconds``, and
  ``resource_scrape_error`` 0; labels ``container``, ``namespace``, ``pod``; every sample
  carries the reading's timestamp, as the kubelet's do.
- ``/metrics/cadvisor``: cAdvisor's ``container_cpu_usage_seconds_total``,
  ``container_memory_working_set_bytes``, ``container_memory_rss`` and
  ``container_start_time_seconds`` with cAdvisor's labels ``container``, ``id`` (the cgroup),
  ``image``, ``name`` (the runtime's container name), ``namespace``, ``pod``: one series per
  container, one per pod cgroup (``container=""``) and the root cgroup ``id="/"`` for the node.
  No ``container_network_*``: pods here share the host's network (process runtime) or have none
  (simulated), where cAdvisor reports none per pod either.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from models.kubelet.stats import ContainerStats, NodeStats

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Once:
    """A collector that yields the given families (one exposition)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


def _text(families: list[Metric]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Once(families))
    return generate_latest(registry)


def _pods(stats: NodeStats) -> dict[tuple[str, str, str], list[ContainerStats]]:
    pods: dict[tuple[str, str, str], list[ContainerStats]] = {}
    for container in stats.containers:
        pods.setdefault((container.namespace, container.pod, container.pod_uid), []).append(
            container
        )
    return pods


def resource_metrics(stats: NodeStats) -> bytes:
    at = stats.timestamp_ms / 1000
    containers = sorted(stats.containers, key=lambda c: (c.namespace, c.pod, c.container))
    labels = ["container", "namespace", "pod"]
    cpu = CounterMetricFamily(
        "container_cpu_usage_seconds_total",
        "[STABLE] Cumulative cpu time consumed by the container in core-seconds",
        labels=labels,
    )
    memory = GaugeMetricFamily(
        "container_memory_working_set_bytes",
        "[STABLE] Current working set of the container in bytes",
        labels=labels,
    )
    started = GaugeMetricFamily(
        "container_start_time_seconds",
        "[STABLE] Start time of the container since unix epoch in seconds",
        labels=labels,
    )
    for c in containers:
        values = [c.container, c.namespace, c.pod]
        cpu.add_metric(values, c.cpu_core_ns / 1e9, timestamp=at)
        memory.add_metric(values, c.memory_working_set_bytes, timestamp=at)
        started.add_metric(values, c.start_ms / 1000, timestamp=at)
    node_cpu = CounterMetricFamily(
        "node_cpu_usage_seconds_total",
        "[STABLE] Cumulative cpu time consumed by the node in core-seconds",
    )
    node_cpu.add_metric([], stats.cpu_core_ns / 1e9, timestamp=at)
    node_memory = GaugeMetricFamily(
        "node_memory_working_set_bytes", "[STABLE] Current working set of the node in bytes"
    )
    node_memory.add_metric([], stats.memory_working_set_bytes, timestamp=at)
    pod_cpu = CounterMetricFamily(
        "pod_cpu_usage_seconds_total",
        "[STABLE] Cumulative cpu time consumed by the pod in core-seconds",
        labels=["namespace", "pod"],
    )
    pod_memory = GaugeMetricFamily(
        "pod_memory_working_set_bytes",
        "[STABLE] Current working set of the pod in bytes",
        labels=["namespace", "pod"],
    )
    for (namespace, pod, _), members in sorted(_pods(stats).items()):
        pod_cpu.add_metric(
            [namespace, pod], sum(c.cpu_core_ns for c in members) / 1e9, timestamp=at
        )
        pod_memory.add_metric(
            [namespace, pod], sum(c.memory_working_set_bytes for c in members), timestamp=at
        )
    scrape_error = GaugeMetricFamily(
        "resource_scrape_error",
        "[STABLE] 1 if there was an error while getting container metrics, 0 otherwise",
    )
    scrape_error.add_metric([], 0)
    return _text([cpu, memory, started, node_cpu, node_memory, pod_cpu, pod_memory, scrape_error])


def cgroup(container: ContainerStats | None, pod_uid: str, qos: str) -> str:
    """The cgroup cAdvisor names a pod's (or a container's) series by."""
    tier = "" if qos == "Guaranteed" else f"/{qos.lower()}"
    base = f"/kubepods{tier}/pod{pod_uid}"
    return f"{base}/{runtime_name(container)}" if container is not None else base


def runtime_name(container: ContainerStats) -> str:
    """The runtime's name of the container instance: 64 hex digits, as containerd's ids are
    (here a digest of the instance's ``containerID``)."""
    return hashlib.sha256(container.container_id.encode()).hexdigest()


def cadvisor_metrics(stats: NodeStats, qos: dict[str, str]) -> bytes:
    """``qos``: each pod UID's QoS class (its cgroup tier)."""
    at = stats.timestamp_ms / 1000
    labels = ["container", "id", "image", "name", "namespace", "pod"]
    cpu = CounterMetricFamily(
        "container_cpu_usage_seconds_total",
        "Cumulative cpu time consumed in seconds.",
        labels=labels,
    )
    working = GaugeMetricFamily(
        "container_memory_working_set_bytes", "Current working set in bytes.", labels=labels
    )
    rss = GaugeMetricFamily("container_memory_rss", "Size of RSS in bytes.", labels=labels)
    started = GaugeMetricFamily(
        "container_start_time_seconds",
        "Start time of the container since unix epoch in seconds.",
        labels=labels,
    )
    rows: list[tuple[list[str], float, int, int, float]] = [
        (
            ["", "/", "", "", "", ""],
            stats.cpu_core_ns / 1e9,
            stats.memory_working_set_bytes,
            stats.memory_working_set_bytes,
            stats.start_ms / 1000,
        )
    ]
    for (namespace, pod, uid), members in sorted(_pods(stats).items()):
        tier = qos.get(uid, "BestEffort")
        rows.append(
            (
                ["", cgroup(None, uid, tier), "", "", namespace, pod],
                sum(c.cpu_core_ns for c in members) / 1e9,
                sum(c.memory_working_set_bytes for c in members),
                sum(c.memory_rss_bytes for c in members),
                min(c.start_ms for c in members) / 1000,
            )
        )
        for c in sorted(members, key=lambda c: c.container):
            rows.append(
                (
                    [c.container, cgroup(c, uid, tier), c.image, runtime_name(c), namespace, pod],
                    c.cpu_core_ns / 1e9,
                    c.memory_working_set_bytes,
                    c.memory_rss_bytes,
                    c.start_ms / 1000,
                )
            )
    for values, cpu_seconds, working_bytes, rss_bytes, start in rows:
        cpu.add_metric(values, cpu_seconds, timestamp=at)
        working.add_metric(values, working_bytes, timestamp=at)
        rss.add_metric(values, rss_bytes, timestamp=at)
        started.add_metric(values, start, timestamp=at)
    return _text([cpu, working, rss, started])


def summary(stats: NodeStats, rfc3339: str) -> dict[str, Any]:
    """The Summary API (``/stats/summary``): node and per pod/container cpu and memory;
    ``rfc3339``: the reading's time as the API writes it."""

    def cpu(nanocores: int, core_ns: int) -> dict[str, Any]:
        return {"time": rfc3339, "usageNanoCores": nanocores, "usageCoreNanoSeconds": core_ns}

    def memory(working: int, rss: int) -> dict[str, Any]:
        return {"time": rfc3339, "workingSetBytes": working, "rssBytes": rss}

    pods = []
    for (namespace, pod, uid), members in sorted(_pods(stats).items()):
        pods.append(
            {
                "podRef": {"name": pod, "namespace": namespace, "uid": uid},
                "cpu": cpu(
                    sum(c.cpu_nanocores for c in members), sum(c.cpu_core_ns for c in members)
                ),
                "memory": memory(
                    sum(c.memory_working_set_bytes for c in members),
                    sum(c.memory_rss_bytes for c in members),
                ),
                "containers": [
                    {
                        "name": c.container,
                        "cpu": cpu(c.cpu_nanocores, c.cpu_core_ns),
                        "memory": memory(c.memory_working_set_bytes, c.memory_rss_bytes),
                    }
                    for c in sorted(members, key=lambda c: c.container)
                ],
            }
        )
    node = {
        "nodeName": stats.node,
        "cpu": cpu(stats.cpu_nanocores, stats.cpu_core_ns),
        "memory": memory(stats.memory_working_set_bytes, stats.memory_working_set_bytes),
    }
    return {"node": node, "pods": pods}
