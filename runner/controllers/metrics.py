"""The controller manager's Prometheus metrics, with kube-controller-manager's family names.

Work queues (``workqueue_depth``, ``workqueue_adds_total``, ``workqueue_retries_total`` read
from each controller's queue at scrape time; ``workqueue_queue_duration_seconds`` and
``workqueue_work_duration_seconds`` observed by the manager), the REST client
(``rest_client_request_duration_seconds`` by verb, ``rest_client_requests_total`` by code and
method), leader election (``leader_election_master_status``), process and Python runtime
metrics (prometheus_client's collectors: kube-controller-manager's ``go_*`` have no Python
counterpart), and reconcile counts per controller and outcome
(``kubeoracle_controller_reconciles_total``: kube-controller-manager has no such family).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Final

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from impl.controllers import queue as wq

# client-go's workqueue buckets: 1e-8 s times 10^k, k = 0..9.
QUEUE_BUCKETS: Final = tuple(10.0**exponent for exponent in range(-8, 2))
# client-go's rest_client_request_duration_seconds buckets.
REST_BUCKETS: Final = (0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"

QueueSource = Callable[[], dict[str, wq.WorkQueue]]


class _QueueCollector(Collector):
    """Depth, adds and retries of every controller's queue, read when scraped."""

    def __init__(self, queues: QueueSource) -> None:
        self.queues = queues

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("workqueue_depth", "Current depth of workqueue", labels=["name"])
        adds = CounterMetricFamily(
            "workqueue_adds", "Total number of adds handled by workqueue", labels=["name"]
        )
        retries = CounterMetricFamily(
            "workqueue_retries", "Total number of retries handled by workqueue", labels=["name"]
        )
        for name, queue in sorted(self.queues().items()):
            depth.add_metric([name], queue.depth)
            adds.add_metric([name], queue.adds)
            retries.add_metric([name], queue.retries)
        yield depth
        yield adds
        yield retries


class ManagerMetrics:
    """One registry per manager (tests run several in one process)."""

    def __init__(self, queues: QueueSource, host: str) -> None:
        self.host = host
        self.registry = CollectorRegistry()
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.registry.register(collector)
        self.registry.register(_QueueCollector(queues))
        self.queue_duration = Histogram(
            "workqueue_queue_duration_seconds",
            "How long in seconds an item stays in workqueue before being requested.",
            ["name"],
            buckets=QUEUE_BUCKETS,
            registry=self.registry,
        )
        self.work_duration = Histogram(
            "workqueue_work_duration_seconds",
            "How long in seconds processing an item from workqueue takes.",
            ["name"],
            buckets=QUEUE_BUCKETS,
            registry=self.registry,
        )
        self.request_duration = Histogram(
            "rest_client_request_duration_seconds",
            "Request latency in seconds. Broken down by verb, and host.",
            ["verb", "host"],
            buckets=REST_BUCKETS,
            registry=self.registry,
        )
        self.requests = Counter(
            "rest_client_requests",
            "Number of HTTP requests, partitioned by status code, method, and host.",
            ["code", "method", "host"],
            registry=self.registry,
        )
        self.leader = Gauge(
            "leader_election_master_status",
            "Gauge of if the reporting system is master of the relevant lease, 0 indicates "
            "backup, 1 indicates master. 'name' is the string used to identify the lease.",
            ["name"],
            registry=self.registry,
        )
        self.reconciles = Counter(
            "kubeoracle_controller_reconciles",
            "Syncs each controller finished, by outcome (success, error, requeue).",
            ["controller", "outcome"],
            registry=self.registry,
        )

    def observe_request(self, method: str, code: str, seconds: float) -> None:
        self.request_duration.labels(method, self.host).observe(seconds)
        self.requests.labels(code, method, self.host).inc()

    def text(self) -> bytes:
        return generate_latest(self.registry)
