"""``serve kubelet --runtime process``: the fleet (``runner.kubelet.fleet``) with each node's
containers run as local processes (``runner.kubelet.process``) instead of simulated.

The kubelet machine's runtime commands go to the node's ``ProcessRuntime``; what the runtime
sees (started, exited, probe answers, usage every 10 s) comes back on the fleet's queue and is
handed to the machine by the driver thread, like the answers to API writes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from impl.kubelet import machine
from models.kubelet.config import KubeletConfig
from models.kubelet.events import Command, Event
from models.kubelet.state import KubeletState
from models.kubelet.stats import NodeStats
from runner.apiserver.client import Endpoint
from runner.kubelet import pump
from runner.kubelet.api import ExecContext
from runner.kubelet.fleet import Fleet
from runner.kubelet.process import ProcessRuntime


class ProcessFleet(Fleet):
    def __init__(self, endpoint: Endpoint, configs: Sequence[KubeletConfig], writers: int) -> None:
        super().__init__(endpoint, configs, writers)
        self.processes = [
            ProcessRuntime(config.node_ip, self._reporter(index))
            for index, config in enumerate(self.configs)
        ]

    def _log_path_of(self, index: int) -> Callable[[str, str], Path]:
        return lambda uid, container: self.processes[index].log_path(uid, container)

    def _exec_context_of(self, index: int) -> ExecContext:
        return lambda uid, container: self.processes[index].exec_target(uid, container)

    def _stats_of(self, index: int) -> Callable[[], NodeStats]:
        def read() -> NodeStats:
            pods = dict(self.pods[index])
            return self.processes[index].stats(self.configs[index].node_name, pods)

        return read

    def _reporter(self, index: int) -> Reporter:
        return Reporter(self, index)

    def run(self, stop: threading.Event) -> None:
        try:
            super().run(stop)
        finally:
            for runtime in self.processes:
                runtime.close()

    def _start(self, index: int, config: KubeletConfig, now_ms: int) -> None:
        self.conditions[index] = None
        step = machine.init(config, now_ms)
        self._apply(index, step.state, step.commands)

    def _step(self, index: int, state: KubeletState, event: Event) -> None:
        step = machine.on_event(self.configs[index], state, event)
        self._apply(index, step.state, step.commands, event)

    def _apply(
        self,
        index: int,
        state: KubeletState,
        commands: tuple[Command, ...],
        fed: Event | None = None,
    ) -> None:
        self.states[index] = state
        outbox = self.outboxes[index % len(self.outboxes)]
        writes, requests = pump.split(commands)
        for write in writes:
            outbox.put((index, write))
        self._record_node(index, writes)
        for request in requests:
            self.processes[index].run(request)
        self._record(index, state, ((fed,) if fed is not None else ()) + tuple(requests))

    def _observe_usage(self, now_ms: int) -> None:
        """Every 10 s (the fleet's ``USAGE_MS``): each node's processes, measured."""
        del now_ms
        for index, runtime in enumerate(self.processes):
            if self.states[index] is not None:
                usage = runtime.usage(self.configs[index].capacity.memory_bytes)
                self.answers.put((index, usage))


class Reporter:
    """Puts what one node's runtime saw on the fleet's queue (any thread)."""

    def __init__(self, fleet: Fleet, index: int) -> None:
        self.fleet, self.index = fleet, index

    def __call__(self, event: Event) -> None:
        self.fleet.answers.put((self.index, event))
