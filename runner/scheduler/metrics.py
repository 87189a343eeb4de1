"""The scheduler's Prometheus metrics, with kube-scheduler's (v1.35) family names, buckets and
labels, on top of the families every served component has (:mod:`runner.served.metrics`).

Read from the machine's state when scraped: ``scheduler_pending_pods{queue}`` (active, backoff,
unschedulable, gated), ``scheduler_unschedulable_pods{plugin,profile}`` and
``scheduler_scheduler_cache_size{type}`` (nodes, pods, assumed_pods), and
``scheduler_goroutines{operation="binding"}`` (bindings in flight). Observed by the driver:
``scheduler_schedule_attempts_total{result,profile}``,
``scheduler_scheduling_attempt_duration_seconds{result,profile}`` (the cycle and the binding),
``scheduler_scheduling_algorithm_duration_seconds`` (the cycle),
``scheduler_pod_scheduling_attempts``, ``scheduler_pod_scheduling_sli_duration_seconds
{attempts}`` (from the pod's first arrival in the queue to its binding),
``scheduler_queue_incoming_pods_total{queue,event}`` (pods entering a pool, found by comparing
the pools before and after each event), ``scheduler_event_handling_duration_seconds{event}``,
``scheduler_preemption_attempts_total``, ``scheduler_preemption_victims``,
``scheduler_framework_extension_point_duration_seconds{extension_point,status,profile}`` (only
the Bind point: the binding call) and ``scheduler_plugin_execution_duration_seconds
{plugin,extension_point,status}`` (the plugin calls of sampled cycles: :mod:`.timing`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Final

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from impl.scheduler.framework import QueuedPodInfo
from impl.scheduler.machine import SchedulerState
from models.scheduling.events import (
    BindingFailed,
    BindingSucceeded,
    NodeAdded,
    NodeDeleted,
    NodeUpdated,
    PodAdded,
    PodDeleted,
    PodUpdated,
    ScheduleNext,
    SchedulerEvent,
    Tick,
)
from runner.served.metrics import ClientMetrics


def exponential(start: float, factor: float, count: int) -> tuple[float, ...]:
    """Prometheus's ``ExponentialBuckets``."""
    return tuple(start * factor**index for index in range(count))


ATTEMPT_BUCKETS: Final = exponential(0.001, 2, 15)
SLI_BUCKETS: Final = exponential(0.01, 2, 20)
ATTEMPTS_BUCKETS: Final = exponential(1, 2, 5)
EVENT_BUCKETS: Final = exponential(0.0001, 2, 12)
VICTIM_BUCKETS: Final = exponential(1, 2, 7)
PLUGIN_BUCKETS: Final = exponential(0.00001, 1.5, 20)
EXTENSION_BUCKETS: Final = exponential(0.0001, 2, 12)
POOLS: Final = ("active", "backoff", "unschedulable", "gated")

StateSource = Callable[[], SchedulerState | None]
CountSource = Callable[[], int]


def _pools(state: SchedulerState) -> dict[str, tuple[QueuedPodInfo, ...]]:
    queue = state.queue
    return {
        "active": queue.active,
        "backoff": queue.backoff,
        "unschedulable": queue.unschedulable,
        "gated": queue.gated,
    }


class _StateCollector(Collector):
    """The gauges read from the machine's state when scraped."""

    def __init__(self, state: StateSource, bindings: CountSource) -> None:
        self.state = state
        self.bindings = bindings

    def collect(self) -> Iterator[Metric]:
        state = self.state()
        goroutines = GaugeMetricFamily(
            "scheduler_goroutines",
            "Number of running goroutines split by the work they do such as binding.",
            labels=["operation"],
        )
        goroutines.add_metric(["binding"], self.bindings())
        pending = GaugeMetricFamily(
            "scheduler_pending_pods",
            "Number of pending pods, by the queue type. 'active' means number of pods in "
            "activeQ; 'backoff' means number of pods in backoffQ; 'unschedulable' means number "
            "of pods in unschedulablePods that the scheduler attempted to schedule and failed; "
            "'gated' is the number of unschedulable pods that the scheduler never attempted to "
            "schedule because they are gated.",
            labels=["queue"],
        )
        unschedulable = GaugeMetricFamily(
            "scheduler_unschedulable_pods",
            "The number of unschedulable pods broken down by plugin name. A pod will increment "
            "the gauge for all plugins that caused it to not schedule and so this metric have "
            "meaning only when broken down by plugin.",
            labels=["plugin", "profile"],
        )
        cache = GaugeMetricFamily(
            "scheduler_scheduler_cache_size",
            "Number of nodes, pods, and assumed (bound) pods in the scheduler cache.",
            labels=["type"],
        )
        if state is not None:
            for name, pool in _pools(state).items():
                pending.add_metric([name], len(pool))
            counts: dict[tuple[str, str], int] = {}
            for item in state.queue.unschedulable:
                for plugin in item.unschedulable_plugins:
                    key = (plugin, item.info.scheduler_name)
                    counts[key] = counts.get(key, 0) + 1
            for (plugin, profile), count in sorted(counts.items()):
                unschedulable.add_metric([plugin, profile], count)
            nodes = state.snapshot.in_order()
            cache.add_metric(["nodes"], len(nodes))
            cache.add_metric(["pods"], sum(len(node.pods) for node in nodes))
            cache.add_metric(["assumed_pods"], len(state.assumed))
        yield pending
        yield unschedulable
        yield cache
        yield goroutines


def _event_label(event: SchedulerEvent) -> str:
    """kube-scheduler's label for what moved a pod into a queue."""
    match event:
        case PodAdded():
            return "PodAdd"
        case PodUpdated():
            return "PodUpdate"
        case PodDeleted():
            return "AssignedPodDelete"
        case NodeAdded():
            return "NodeAdd"
        case NodeUpdated():
            return "NodeUpdate"
        case NodeDeleted():
            return "NodeDelete"
        case ScheduleNext() | BindingFailed() | BindingSucceeded():
            return "ScheduleAttemptFailure"
        case Tick():
            return "BackoffComplete"
        case _:
            return type(event).__name__


class SchedulerMetrics(ClientMetrics):
    """One registry per scheduler."""

    def __init__(self, state: StateSource, host: str, bindings: CountSource = lambda: 0) -> None:
        super().__init__(host)
        self.registry.register(_StateCollector(state, bindings))
        self.first_queued: dict[str, float] = {}
        self.attempts = Counter(
            "scheduler_schedule_attempts",
            "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod "
            "could not be scheduled, while 'error' means an internal scheduler problem.",
            ["result", "profile"],
            registry=self.registry,
        )
        self.attempt_duration = Histogram(
            "scheduler_scheduling_attempt_duration_seconds",
            "Scheduling attempt latency in seconds (scheduling algorithm + binding)",
            ["result", "profile"],
            buckets=ATTEMPT_BUCKETS,
            registry=self.registry,
        )
        self.algorithm_duration = Histogram(
            "scheduler_scheduling_algorithm_duration_seconds",
            "Scheduling algorithm latency in seconds",
            buckets=ATTEMPT_BUCKETS,
            registry=self.registry,
        )
        self.pod_attempts = Histogram(
            "scheduler_pod_scheduling_attempts",
            "Number of attempts to successfully schedule a pod.",
            buckets=ATTEMPTS_BUCKETS,
            registry=self.registry,
        )
        self.sli_duration = Histogram(
            "scheduler_pod_scheduling_sli_duration_seconds",
            "E2e latency for a pod being scheduled, from the time the pod enters the scheduling "
            "queue and might involve multiple scheduling attempts.",
            ["attempts"],
            buckets=SLI_BUCKETS,
            registry=self.registry,
        )
        self.incoming = Counter(
            "scheduler_queue_incoming_pods",
            "Number of pods added to scheduling queues by event and queue type.",
            ["queue", "event"],
            registry=self.registry,
        )
        self.event_duration = Histogram(
            "scheduler_event_handling_duration_seconds",
            "Event handling latency in seconds.",
            ["event"],
            buckets=EVENT_BUCKETS,
            registry=self.registry,
        )
        self.plugin_duration = Histogram(
            "scheduler_plugin_execution_duration_seconds",
            "Duration for running a plugin at a specific extension point.",
            ["plugin", "extension_point", "status"],
            buckets=PLUGIN_BUCKETS,
            registry=self.registry,
        )
        self.extension_duration = Histogram(
            "scheduler_framework_extension_point_duration_seconds",
            "Latency for running all plugins of a specific extension point.",
            ["extension_point", "status", "profile"],
            buckets=EXTENSION_BUCKETS,
            registry=self.registry,
        )
        self.preemption_attempts = Counter(
            "scheduler_preemption_attempts",
            "Total preemption attempts in the cluster till now",
            registry=self.registry,
        )
        self.preemption_victims = Histogram(
            "scheduler_preemption_victims",
            "Number of selected preemption victims",
            buckets=VICTIM_BUCKETS,
            registry=self.registry,
        )

    def observe_event(
        self, event: SchedulerEvent, before: SchedulerState, after: SchedulerState, seconds: float
    ) -> None:
        """Count pods entering each pool, and time informer events."""
        label = _event_label(event)
        if not isinstance(event, ScheduleNext | Tick | BindingSucceeded | BindingFailed):
            self.event_duration.labels(label).observe(seconds)
        old_pools, new_pools = _pools(before), _pools(after)
        for name in POOLS[:3]:
            new, old = new_pools[name], old_pools[name]
            if new is old:
                continue
            known = {item.info.key for item in old}
            for item in new:
                if item.info.key not in known:
                    self.incoming.labels(name, label).inc()
                    self.first_queued.setdefault(item.info.key, time.monotonic())
        if isinstance(event, PodDeleted):
            self.first_queued.pop(event.key, None)
        if isinstance(event, ScheduleNext):
            self.algorithm_duration.observe(seconds)

    def observe_attempt(
        self, key: str, profile: str, result: str, attempt: int, seconds: float
    ) -> None:
        """One scheduling attempt ended (``result``: scheduled, unschedulable, error)."""
        self.attempts.labels(result, profile).inc()
        self.attempt_duration.labels(result, profile).observe(seconds)
        if result == "scheduled":
            self.pod_attempts.observe(attempt)
            queued = self.first_queued.pop(key, None)
            if queued is not None:
                self.sli_duration.labels(str(attempt)).observe(time.monotonic() - queued)

    def observe_plugin(self, plugin: str, point: str, status: str, seconds: float) -> None:
        """One timed plugin call (in a sampled cycle)."""
        self.plugin_duration.labels(plugin, point, status).observe(seconds)

    def observe_binding(self, profile: str, status: str, seconds: float) -> None:
        """The Bind extension point: the ``pods/binding`` call."""
        self.extension_duration.labels("Bind", status, profile).observe(seconds)

    def observe_preemption(self, victims: int) -> None:
        self.preemption_attempts.inc()
        self.preemption_victims.observe(victims)
