"""kube-scheduler in real time: the pure scheduler machine (:mod:`impl.scheduler.machine`)
driven by reflectors on nodes and pods, a clock and a REST client, against any API server.

Theory of operation. One driver thread owns the machine's state. Reflector threads
(:mod:`runner.served.informers`) put list and watch results on one queue. The driver waits
until nodes and pods have both been listed (client-go's ``WaitForCacheSync``), then loops:
hand every informer change to the machine as a pod or node event, tell it the time
(``Tick``, milliseconds since start), and run cycles (``ScheduleNext``, with a random draw for
ties) while a pod is ready. Each command is carried out at once on the REST client and its
result fed back before the next cycle, except bindings: as kube-scheduler's binding cycle,
``Bind`` is posted to ``pods/binding`` by worker threads (:mod:`.binder`) while the driver
schedules the next pods (the pod stays assumed), and each answer is handed back at the next
turn of the loop as ``BindingSucceeded`` (event Scheduled) or ``BindingFailed`` (event
FailedScheduling, condition reason SchedulerError);
``ReportFailure`` records FailedScheduling with the cycle's message and sets PodScheduled=False
(reason Unschedulable), with the nominated node of the same cycle's ``Nominate``; ``Evict``
preempts the victim through the API.

As kube-scheduler's informers do, the driver keeps terminal pods (Succeeded, Failed) and
unassigned pods being deleted out of the machine, and gives an assigned pod to the machine
again when its node appears. Which pods a process schedules is the machine's business: only
those whose ``schedulerName`` names one of its profiles.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Final, Protocol

import msgspec

from impl.scheduler.machine import SchedulerConfig, SchedulerState, init, on_event
from models.controllers.messages import ControllerEvent, Listed, Observed
from models.k8s.base import decode_hook
from models.k8s.core.node import Node
from models.k8s.core.pod import Pod
from models.scheduling.cluster import TERMINAL_PHASES, pod_key
from models.scheduling.events import (
    Bind,
    BindingFailed,
    BindingSucceeded,
    Evict,
    NodeAdded,
    NodeDeleted,
    NodeUpdated,
    Nominate,
    PodAdded,
    PodDeleted,
    PodUpdated,
    ReportFailure,
    ScheduleNext,
    SchedulerCommand,
    SchedulerEvent,
    Tick,
)
from runner.apiserver.client import Endpoint
from runner.scheduler.binder import Binder, Binding, Bound
from runner.scheduler.timing import SAMPLE_PERCENT, PluginTimer
from runner.scheduler.writes import EventRecorder, Writer
from runner.served.informers import Informers
from runner.served.rest import RestClient

IDLE_SECONDS: Final = 0.02
"""How long the driver waits for a watch event before ticking the clock again."""
BURST: Final = 64
"""Cycles run before the driver looks at the informers again."""
USER_AGENT: Final = "kube-scheduler/kubeoracle"


class Watcher(Protocol):
    """What the driver reports (the metrics)."""

    def observe_request(self, method: str, code: str, seconds: float) -> None:
        """An API request ended with ``code`` (the HTTP status or ``<error>``)."""

    def observe_event(
        self, event: SchedulerEvent, before: SchedulerState, after: SchedulerState, seconds: float
    ) -> None:
        """The machine handled ``event``."""

    def observe_attempt(
        self, key: str, profile: str, result: str, attempt: int, seconds: float
    ) -> None:
        """A scheduling attempt ended: scheduled, unschedulable or error."""

    def observe_preemption(self, victims: int) -> None:
        """A cycle nominated its pod after choosing ``victims`` to preempt."""

    def observe_binding(self, profile: str, status: str, seconds: float) -> None:
        """A ``pods/binding`` call ended (``status``: Success or Error)."""


def _decode(resource: str, raw: bytes) -> Pod | Node | None:
    model: type[Pod] | type[Node] = Pod if resource == "pods" else Node
    try:
        return msgspec.json.decode(raw, type=model, dec_hook=decode_hook)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


def _node_name(node: Node) -> str:
    return (node.metadata.name if node.metadata else None) or ""


def _wanted(pod: Pod) -> bool:
    """Whether the scheduler's informers keep the pod (not terminal, not an unassigned pod
    being deleted)."""
    if (pod.pod_status.phase or "") in TERMINAL_PHASES:
        return False
    return bool(pod.pod_spec.node_name) or pod.meta.deletion_timestamp is None


class LiveScheduler:
    """The machine, its informers and the driver loop."""

    def __init__(
        self,
        endpoint: Endpoint,
        config: SchedulerConfig,
        watcher: Watcher,
        seed: int | None = None,
        instance: str = "kubeoracle",
        timer: PluginTimer | None = None,
    ) -> None:
        self.config = config
        self.state = init(config).state
        self.watcher = watcher
        self.informers = Informers(endpoint, ("nodes", "pods"))
        self.rest = RestClient(endpoint, watcher.observe_request, user_agent=USER_AGENT)
        self.writer = Writer(self.rest)
        self.binder = Binder(
            lambda: RestClient(endpoint, watcher.observe_request, user_agent=USER_AGENT)
        )
        self.recorder = EventRecorder(
            RestClient(endpoint, watcher.observe_request, user_agent=USER_AGENT), instance
        )
        self.random = random.Random(seed)
        self.timer = timer
        self.sampler = random.Random()
        self.pods: dict[str, Pod] = {}
        self.nodes: dict[str, Node] = {}
        self.listed: set[str] = set()
        self.started = time.monotonic()
        self.synced = threading.Event()

    def run(self, stop: threading.Event) -> None:
        """Schedule until ``stop``."""
        self.recorder.start()
        self.binder.start()
        try:
            self.informers.drive(stop, self._informed, self._schedule, IDLE_SECONDS)
        finally:
            self.binder.stop()
            self.recorder.stop()
            self.rest.close()

    def _now_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)

    def _handle(self, event: SchedulerEvent) -> tuple[SchedulerCommand, ...]:
        before = self.state
        started = time.perf_counter()
        step = on_event(self.config, before, event)
        self.state = step.state
        self.watcher.observe_event(event, before, step.state, time.perf_counter() - started)
        return step.commands

    def _schedule(self) -> None:
        for answer in self.binder.done():
            self._answered(answer)
        if not self.synced.is_set():
            return
        self._handle(Tick(now_ms=self._now_ms()))
        for _ in range(BURST):
            pending = self.state.queue
            if not pending.active and not (
                self.config.features.pop_from_backoff and pending.backoff
            ):
                break
            self._cycle()

    # Informers --------------------------------------------------------------------------------

    def _informed(self, resource: str, change: ControllerEvent) -> None:
        if isinstance(change, Listed):
            self._relisted(resource, change)
        elif isinstance(change, Observed):
            decoded = _decode(resource, change.raw)
            if decoded is not None:
                self._changed(decoded, gone=change.change == "DELETED")
        if not self.synced.is_set() and {"nodes", "pods"} <= self.listed:
            self.synced.set()

    def _relisted(self, resource: str, listed: Listed) -> None:
        decoded = [_decode(resource, raw) for raw in listed.items]
        fresh = [item for item in decoded if item is not None]
        if resource == "nodes":
            names = {_node_name(n) for n in fresh if isinstance(n, Node)}
            for name in sorted(set(self.nodes) - names):
                self._node_gone(name)
        else:
            keys = {pod_key(p) for p in fresh if isinstance(p, Pod)}
            for key in sorted(set(self.pods) - keys):
                self._pod_gone(key)
        for item in fresh:
            self._changed(item, gone=False)
        self.listed.add(resource)

    def _changed(self, item: Pod | Node, gone: bool) -> None:
        if isinstance(item, Node):
            if gone:
                self._node_gone(_node_name(item))
            else:
                self._node_seen(item)
        elif gone or not _wanted(item):
            self._pod_gone(pod_key(item))
        else:
            self._pod_seen(item)

    def _node_seen(self, node: Node) -> None:
        name = _node_name(node)
        old = self.nodes.get(name)
        if old is not None and old.metadata == node.metadata:
            return
        self.nodes[name] = node
        if old is not None:
            self._handle(NodeUpdated(node=node))
            return
        self._handle(NodeAdded(node=node))
        for pod in list(self.pods.values()):
            if pod.pod_spec.node_name == name:
                self._handle(PodAdded(pod=pod))

    def _node_gone(self, name: str) -> None:
        if self.nodes.pop(name, None) is not None:
            self._handle(NodeDeleted(name=name))

    def _pod_seen(self, pod: Pod) -> None:
        key = pod_key(pod)
        old = self.pods.get(key)
        if old is not None and old.meta.resource_version == pod.meta.resource_version:
            return
        self.pods[key] = pod
        if old is None:
            self._handle(PodAdded(pod=pod))
        elif pod.pod_spec.node_name and not old.pod_spec.node_name:
            if self.state.assumed.get(key) == pod.pod_spec.node_name:
                return  # this scheduler's binding, seen before its answer: it stays assumed
            # Bound by another: it leaves the queue for the cache.
            self._handle(PodDeleted(key=key))
            self._handle(PodAdded(pod=pod))
        else:
            self._handle(PodUpdated(pod=pod))

    def _pod_gone(self, key: str) -> None:
        if self.pods.pop(key, None) is not None:
            self._handle(PodDeleted(key=key))

    # Cycles -----------------------------------------------------------------------------------

    def _cycle(self) -> None:
        started = time.perf_counter()
        if self.timer is not None:
            self.timer.sampling = self.sampler.randrange(100) < SAMPLE_PERCENT
        commands = self._handle(ScheduleNext(random=self.random.randrange(2**31)))
        if self.timer is not None:
            self.timer.sampling = False
        nominated: str | None = None
        victims = [command for command in commands if isinstance(command, Evict)]
        if any(isinstance(command, Nominate) and command.node for command in commands):
            self.watcher.observe_preemption(len(victims))
        for command in commands:
            match command:
                case Bind(key=key, node=node, attempt=attempt):
                    self._bind(key, node, attempt, started)
                case Nominate(node=node):
                    nominated = node
                case Evict(key=key, preemptor=preemptor):
                    self._evict(key, preemptor, nominated or "")
                case ReportFailure(key=key, attempt=attempt, message=message):
                    self._failed(key, message, nominated, "Unschedulable")
                    self._attempted(key, "unschedulable", attempt, started)
                case _:
                    pass

    def _attempted(self, key: str, result: str, attempt: int, started: float) -> None:
        pod = self.pods.get(key)
        profile = (pod.pod_spec.scheduler_name if pod else None) or "default-scheduler"
        seconds = time.perf_counter() - started
        self.watcher.observe_attempt(key, profile, result, attempt, seconds)

    def _bind(self, key: str, node: str, attempt: int, started: float) -> None:
        pod = self.pods.get(key)
        if pod is None:
            self._handle(BindingFailed(key=key, node=node, reason="the pod is gone"))
            self._attempted(key, "error", attempt, started)
            return
        self.binder.submit(Binding(key=key, pod=pod, node=node, attempt=attempt, started=started))

    def _answered(self, answer: Bound) -> None:
        """A binding's answer came back (the binding cycle's end)."""
        binding = answer.binding
        key, node, pod = binding.key, binding.node, binding.pod
        profile = pod.pod_spec.scheduler_name or "default-scheduler"
        outcome = "Success" if answer.status == 201 else "Error"
        self.watcher.observe_binding(profile, outcome, answer.seconds)
        if answer.status == 201:
            self._handle(BindingSucceeded(key=key, node=node))
            namespace = pod.meta.namespace or "default"
            message = f"Successfully assigned {namespace}/{pod.meta.name} to {node}"
            self.recorder.record(pod, "Normal", "Scheduled", "Binding", message)
            self._attempted(key, "scheduled", binding.attempt, binding.started)
            return
        self._handle(BindingFailed(key=key, node=node, reason=answer.error))
        self._failed(key, answer.error, None, "SchedulerError")
        self._attempted(key, "error", binding.attempt, binding.started)

    def _failed(self, key: str, message: str, nominated: str | None, reason: str) -> None:
        pod = self.pods.get(key)
        if pod is None:
            return
        self.recorder.record(pod, "Warning", "FailedScheduling", "Scheduling", message)
        self.writer.scheduled_condition(pod, reason, message, nominated)

    def _evict(self, key: str, preemptor: str, node: str) -> None:
        victim, by = self.pods.get(key), self.pods.get(preemptor)
        if victim is None or by is None:
            return
        scheduler = by.pod_spec.scheduler_name or "default-scheduler"
        self.writer.preempt(victim, scheduler)
        message = f"Preempted by pod {by.meta.uid} on node {node}"
        self.recorder.record(victim, "Normal", "Preempted", "Preempting", message, scheduler)
