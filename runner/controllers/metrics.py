"""The controller manager's Prometheus metrics, with kube-controller-manager's family names.

Work queues (``workqueue_depth``, ``workqueue_adds_total``, ``workqueue_retries_total`` read
from each controller's queue at scrape time; ``workqueue_queue_duration_seconds`` and
``workqueue_work_duration_seconds`` observed by the manager) and reconcile counts per controller
and outcome (``kubeoracle_controller_reconciles_total``: kube-controller-manager has no such
family), on top of the families every served component has (:mod:`runner.served.metrics`: REST
client, leader election, process).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Final

from prometheus_client import Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from impl.controllers import queue as wq
from runner.served.metrics import ClientMetrics

# client-go's workqueue buckets: 1e-8 s times 10^k, k = 0..9.
QUEUE_BUCKETS: Final = tuple(10.0**exponent for exponent in range(-8, 2))

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


class ManagerMetrics(ClientMetrics):
    """One registry per manager (tests run several in one process)."""

    def __init__(self, queues: QueueSource, host: str) -> None:
        super().__init__(host)
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
        self.reconciles = Counter(
            "kubeoracle_controller_reconciles",
            "Syncs each controller finished, by outcome (success, error, requeue).",
            ["controller", "outcome"],
            registry=self.registry,
        )
