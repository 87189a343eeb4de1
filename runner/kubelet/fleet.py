"""N simulated kubelets in one process against an API server (``serve kubelet``).

One driver thread owns every node's kubelet state and simulated runtime (``pump``). It learns
pods and nodes from two reflectors (``runner.served.informers``), ticks every node once a
second on the wall clock, and hands each node's API writes to one of a few writer threads (a
node always to the same one, so its writes stay in order). The answers to node-level writes
come back to the driver as ``ApiAnswered`` events. Nodes boot spread over the first lease
renew interval, as a real fleet's kubelets start at different times, so heartbeats spread out.
Every 10 s each node that runs containers observes its scripted usage (``UsageObserved``:
memory with its growth, disk, inodes, processes), so memory pressure and eviction happen live.
A node whose config has a ``kubelet_port`` serves the kubelet API (``runner.kubelet.api``) on
its IP and that port, its stats read from its runtime (simulated: the scripted usage).
"""

from __future__ import annotations

import queue
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from impl.controllers.cache import decode
from impl.kubelet.recorder import node_events, recorded
from models.controllers.messages import ControllerEvent, Listed, Observed
from models.controllers.resources import RESOURCES
from models.k8s.core.node import Node, NodeCondition
from models.k8s.core.pod import Pod
from models.kubelet.config import KubeletConfig
from models.kubelet.events import (
    ApiAnswered,
    Command,
    Event,
    NodeObserved,
    PodObserved,
    PodRemoved,
    RegisterNode,
    StartContainer,
    Tick,
    UpdateNodeStatus,
)
from models.kubelet.state import KubeletState
from models.kubelet.stats import NodeStats
from runner.apiserver.client import Endpoint
from runner.kubelet import pump, simulated
from runner.kubelet.api import ExecContext, KubeletApi
from runner.kubelet.simulated import Runtime
from runner.kubelet.writes import Write, Writer
from runner.served.informers import Informers
from runner.served.rest import RestClient

TICK_MS: Final = 1000
USAGE_MS: Final = 10_000
"""How often the usage is observed (cAdvisor's housekeeping feeds the eviction manager)."""
IDLE_SECONDS: Final = 0.05


class Counters:
    """What the fleet did (read by /metrics and the benchmark)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.writes: dict[tuple[str, int], int] = {}
        self.lease_seconds: list[float] = []
        self.tick_lag_ms = 0

    def count(self, kind: str, code: int, seconds: float) -> None:
        with self.lock:
            key = (kind, code)
            self.writes[key] = self.writes.get(key, 0) + 1
            if kind == "lease":
                self.lease_seconds.append(seconds)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Fleet:
    def __init__(self, endpoint: Endpoint, configs: Sequence[KubeletConfig], writers: int) -> None:
        self.endpoint = endpoint
        self.configs = list(configs)
        self.by_name = {c.node_name: i for i, c in enumerate(self.configs)}
        self.states: list[KubeletState | None] = [None] * len(self.configs)
        self.runtimes: list[Runtime] = [Runtime(node_index=i) for i in range(len(self.configs))]
        self.pods: list[dict[str, Pod]] = [{} for _ in self.configs]
        self.nodes: list[Node | None] = [None for _ in self.configs]
        self.outboxes: list[queue.Queue[tuple[int, Write] | None]] = [
            queue.Queue() for _ in range(max(1, writers))
        ]
        self.images: list[set[str]] = [set() for _ in self.configs]
        """Images each node has pulled (for the kubelet's Pulled events)."""
        self.conditions: list[tuple[NodeCondition, ...] | None] = [None] * len(self.configs)
        """The node conditions each kubelet last posted since it started (node events)."""
        self.answers: queue.Queue[tuple[int, Event]] = queue.Queue()
        """Answers to node-level writes, and (process runtime) what the runtime saw."""
        self.counters = Counters()
        self.started_ms = _now_ms()
        self.last_tick_ms = 0
        self.last_usage_ms = self.started_ms
        self.apis = [
            KubeletApi(
                config.node_name,
                config.node_ip,
                config.kubelet_port,
                self._pods_of(index),
                self._log_path_of(index),
                self._stats_of(index),
                self._exec_context_of(index),
            )
            for index, config in enumerate(self.configs)
            if config.kubelet_port
        ]

    def _pods_of(self, index: int) -> Callable[[], list[Pod]]:
        return lambda: list(dict(self.pods[index]).values())

    def _log_path_of(self, index: int) -> Callable[[str, str], Path]:
        """The simulated runtime writes no logs: a path that does not exist."""
        del index
        missing = Path(tempfile.gettempdir()) / "kubeoracle-simulated-has-no-logs"
        return lambda uid, container: missing / uid / container

    def _exec_context_of(self, index: int) -> ExecContext | None:
        """The simulated runtime runs no commands: ``kubectl exec`` gets its refusal."""
        del index
        return None

    def _stats_of(self, index: int) -> Callable[[], NodeStats]:
        def read() -> NodeStats:
            return simulated.stats(
                self.runtimes[index],
                _now_ms(),
                self.configs[index].node_name,
                dict(self.pods[index]),
            )

        return read

    # The driver thread -------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        threads = [
            threading.Thread(
                target=self._write_loop, args=(outbox,), daemon=True, name=f"kubelet-writer-{n}"
            )
            for n, outbox in enumerate(self.outboxes)
        ]
        for thread in threads:
            thread.start()
        for api in self.apis:
            api.start()
        try:
            Informers(self.endpoint, ["pods", "nodes"]).drive(
                stop, self._handle, self._then, IDLE_SECONDS
            )
        finally:
            for api in self.apis:
                api.close()
            for outbox in self.outboxes:
                outbox.put(None)
            for thread in threads:
                thread.join(timeout=5)

    def _boot_due(self, index: int, now_ms: int) -> bool:
        spread = self.configs[index].lease_renew_interval_ms
        return now_ms - self.started_ms >= index * spread // max(1, len(self.configs))

    def _take(self, index: int, pumped: pump.Pumped) -> None:
        self.states[index] = pumped.state
        self.runtimes[index] = pumped.runtime
        outbox = self.outboxes[index % len(self.outboxes)]
        for command in pumped.api:
            outbox.put((index, command))
        self._record(index, pumped.state, pumped.log)
        self._record_node(index, pumped.api)

    def _record_node(self, index: int, writes: Sequence[Write]) -> None:
        """Post the node events of the statuses among ``writes`` (after them)."""
        outbox = self.outboxes[index % len(self.outboxes)]
        for write in writes:
            if isinstance(write, RegisterNode):
                status = write.node.status
            elif isinstance(write, UpdateNodeStatus):
                status = write.status
            else:
                continue
            after = (status.conditions if status is not None else None) or ()
            node = self.configs[index].node_name
            for event in node_events(node, self.conditions[index], after):
                outbox.put((index, event))
            self.conditions[index] = after

    def _record(self, index: int, state: KubeletState, log: tuple[Command | Event, ...]) -> None:
        """Post the events the kubelet records for what its runtime did (after the writes
        that caused them, on the node's writer)."""
        outbox = self.outboxes[index % len(self.outboxes)]
        node, images = self.configs[index].node_name, self.images[index]
        for item in log:
            for event in recorded(node, state, item, frozenset(images)):
                outbox.put((index, event))
            if isinstance(item, StartContainer) and item.container.image:
                images.add(item.container.image)

    def _feed(self, index: int, event: Event) -> None:
        state = self.states[index]
        if state is None:
            return
        self._step(index, state, event)

    def _step(self, index: int, state: KubeletState, event: Event) -> None:
        """Hand one event to a node (the simulated runtime answers within)."""
        self._take(index, pump.pump(self.configs[index], state, self.runtimes[index], event))

    def _start(self, index: int, config: KubeletConfig, now_ms: int) -> None:
        """Boot a node's kubelet."""
        self.conditions[index] = None
        self._take(index, pump.boot(config, now_ms, index))

    def _then(self) -> None:
        while True:
            try:
                index, answer = self.answers.get_nowait()
            except queue.Empty:
                break
            self._feed(index, answer)
        now = _now_ms()
        if now - self.last_tick_ms < TICK_MS:
            return
        self.counters.tick_lag_ms = (
            max(0, now - self.last_tick_ms - TICK_MS) if self.last_tick_ms else 0
        )
        self.last_tick_ms = now
        for index, config in enumerate(self.configs):
            if self.states[index] is None:
                if self._boot_due(index, now):
                    self._boot(index, config, now)
            else:
                self._feed(index, Tick(now_ms=now))
        if now - self.last_usage_ms >= USAGE_MS:
            self.last_usage_ms = now
            self._observe_usage(now)

    def _observe_usage(self, now_ms: int) -> None:
        """Every ``USAGE_MS``: the scripted usage of each node that runs containers (or was
        observed before, so that pressure can clear), for eviction."""
        for index, state in enumerate(self.states):
            runtime = self.runtimes[index]
            if state is None or not (runtime.running or state.memory_available_bytes is not None):
                continue
            memory = self.configs[index].capacity.memory_bytes
            self._feed(index, simulated.usage(runtime, memory, now_ms))

    def _boot(self, index: int, config: KubeletConfig, now_ms: int) -> None:
        """Start a node's kubelet and tell it what the informers already saw."""
        self._start(index, config, now_ms)
        if self.nodes[index] is not None:
            self._feed(index, NodeObserved(node=self.nodes[index]))
        for _, pod in sorted(self.pods[index].items()):
            self._feed(index, PodObserved(pod=pod))

    def _node(self, node: Node | None, name: str) -> None:
        index = self.by_name.get(name)
        if index is not None:
            self.nodes[index] = node
            self._feed(index, NodeObserved(node=node))

    def _handle(self, resource: str, change: ControllerEvent) -> None:
        match change:
            case Observed():
                obj = decode(RESOURCES[resource], change.raw, False)
                if isinstance(obj, Pod):
                    self._pod(obj, change.change == "DELETED")
                elif isinstance(obj, Node):
                    index = self.by_name.get(obj.meta.name or "")
                    if index is not None:
                        self._feed(
                            index, NodeObserved(node=None if change.change == "DELETED" else obj)
                        )
            case Listed():
                self._listed(resource, change.items)
            case _:
                pass

    def _pod(self, pod: Pod, deleted: bool) -> None:
        index = self.by_name.get(pod.pod_spec.node_name or "")
        uid = pod.meta.uid or ""
        if index is None or not uid:
            return
        if deleted:
            self.pods[index].pop(uid, None)
            self._feed(index, PodRemoved(uid=uid))
        else:
            self.pods[index][uid] = pod
            self._feed(index, PodObserved(pod=pod))

    def _listed(self, resource: str, items: tuple[bytes, ...]) -> None:
        seen: set[str] = set()
        for raw in items:
            obj = decode(RESOURCES[resource], raw, False)
            if isinstance(obj, Pod):
                seen.add(obj.meta.uid or "")
                self._pod(obj, False)
            elif isinstance(obj, Node):
                self._node(obj, obj.meta.name or "")
        if resource == "pods":
            for index, known in enumerate(self.pods):
                for uid in sorted(set(known) - seen):
                    self._pod_gone(index, uid)

    def _pod_gone(self, index: int, uid: str) -> None:
        self.pods[index].pop(uid, None)
        self._feed(index, PodRemoved(uid=uid))

    # Writer threads ----------------------------------------------------------------------

    def _write_loop(self, outbox: queue.Queue[tuple[int, Write] | None]) -> None:
        writer = Writer(RestClient(self.endpoint, user_agent="kubelet/v1.35.0 (kubeoracle)"))
        while True:
            item = outbox.get()
            if item is None:
                break
            index, command = item
            started = time.monotonic()
            kind, code = writer.write(command)
            self.counters.count(
                type(command).__name__ if kind is None else kind, code, time.monotonic() - started
            )
            if kind is not None:
                self.answers.put((index, ApiAnswered(request=kind, code=code)))
        writer.client.close()

    def snapshot(self) -> list[KubeletState]:
        """The nodes' states (those booted)."""
        return [s for s in self.states if s is not None]

    def backlog(self) -> int:
        return sum(o.qsize() for o in self.outboxes)


def configs(count: int, prefix: str, mutant: str, port: int = 10250) -> list[KubeletConfig]:
    """Node i is ``<prefix><i>``; its kubelet API port is ``port + i`` (0: no API)."""
    return [
        KubeletConfig(
            node_name=f"{prefix}{index}",
            boot_id=f"{prefix}{index}-boot",
            mutant=mutant,
            kubelet_port=port + index if port else 0,
        )
        for index in range(count)
    ]
