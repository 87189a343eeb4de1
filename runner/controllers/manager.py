"""The controller manager in real time: the pure controller machines driven by reflectors,
a clock and a REST client, against any API server.

Theory of operation. One driver thread owns every controller's state. Reflector threads
(``informers.py``) put list and watch results on one queue; the driver hands each to the
controllers that watch that resource, then tells every controller the time (``Tick``) and
offers workers (``Work``) while a controller has a ready key. Each ``Call`` a controller
emits is sent at once on the driver's REST client and its answer fed back (``Answered``)
before anything else happens, so a controller sees the world in the order it acted on it.
``Reconciled`` commands become the reconcile and work-duration metrics.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any, Final

from impl.controllers import machine
from impl.controllers import queue as wq
from impl.controllers.plan import ControllerDef
from models.controllers.config import ControllerConfig
from models.controllers.messages import (
    Answered,
    ControllerCommand,
    ControllerEvent,
    Reconciled,
    Tick,
    Work,
)
from runner.apiserver.client import Endpoint
from runner.controllers.local import Hosted
from runner.controllers.metrics import ManagerMetrics
from runner.served.informers import Informers
from runner.served.rest import RestClient

IDLE_SECONDS: Final = 0.02
"""How long the driver waits for a watch event before ticking the clock again."""


def now_ms() -> int:
    return int(time.time() * 1000)


class Manager:
    """The controllers, their informers and the driver loop."""

    def __init__(
        self,
        endpoint: Endpoint,
        definitions: Sequence[ControllerDef[Any]],
        config: ControllerConfig,
        metrics: ManagerMetrics,
    ) -> None:
        self.endpoint = endpoint
        self.config = config
        self.metrics = metrics
        self.hosts = {d.name: Hosted(d, config, now_ms()) for d in definitions}
        self.rest = RestClient(endpoint, metrics.observe_request)
        self.informers = Informers(endpoint, {w.resource for d in definitions for w in d.watches})
        self.enqueued: dict[tuple[str, str], float] = {}

    def queues(self) -> dict[str, wq.WorkQueue]:
        return {name: host.state.queue for name, host in self.hosts.items()}

    def run(self, stop: threading.Event) -> None:
        """Drive the controllers until ``stop``."""
        try:
            self.informers.drive(stop, self._broadcast, self._work, IDLE_SECONDS)
        finally:
            self.rest.close()

    def _work(self) -> None:
        tick = Tick(now_ms=now_ms())
        for host in self.hosts.values():
            self._feed(host, tick)
        for host in self.hosts.values():
            while machine.has_work(host.definition, host.config, host.state):
                self._feed(host, Work())

    def _broadcast(self, resource: str, event: ControllerEvent) -> None:
        for host in self.hosts.values():
            if any(w.resource == resource for w in host.definition.watches):
                self._feed(host, event)

    def _feed(self, host: Hosted, event: ControllerEvent) -> None:
        pending = list(self._fed(host, event))
        while pending:
            command = pending.pop(0)
            if isinstance(command, Reconciled):
                self._reconciled(command)
                continue
            status, body = self.rest.send(command.call)
            answer = Answered(request_id=command.request_id, status=status, body=body)
            pending.extend(self._fed(host, answer))

    def _fed(self, host: Hosted, event: ControllerEvent) -> tuple[ControllerCommand, ...]:
        before = host.state.running
        commands = host.feed(event)
        name = host.definition.name
        now = time.monotonic()
        for key in host.state.queue.dirty - host.state.queue.processing:
            self.enqueued.setdefault((name, key), now)
        for key in host.state.running:
            if key not in before:
                waited = now - self.enqueued.pop((name, key), now)
                self.metrics.queue_duration.labels(name).observe(waited)
        return commands

    def _reconciled(self, command: Reconciled) -> None:
        self.metrics.reconciles.labels(command.controller, command.outcome).inc()
        seconds = max(0, command.ended_ms - command.started_ms) / 1000
        self.metrics.work_duration.labels(command.controller).observe(seconds)
