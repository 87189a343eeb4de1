"""Controllers and the reference API server in one thread: for tests and benchmarks.

``LocalCluster`` runs chosen controllers (``impl.controllers``) against a ``LocalApiServer``:
informers list each watched resource once and then follow one watch per resource; every call
a controller makes is answered at once. ``settle`` runs everything (watch events, ready
workers, and optionally the pod fixture standing in for scheduler and kubelets) until nothing
is left to do; ``advance`` lets time pass. Order is fixed (resources, then controllers, by
name), so a run is reproducible.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from impl.controllers import machine
from impl.controllers.plan import ControllerDef
from models.controllers.config import ControllerConfig
from models.controllers.messages import (
    Answered,
    Call,
    ControllerCommand,
    ControllerEvent,
    Listed,
    Observed,
    Reconciled,
    Tick,
    Work,
)
from models.controllers.resources import RESOURCES
from runner.apiserver.entropy import SeededEntropy
from runner.apiserver.local import LocalApiServer
from runner.controllers import fixture

ROUNDS_MAX = 100_000


class Hosted:
    """One controller machine and its state."""

    def __init__(
        self, definition: ControllerDef[Any], config: ControllerConfig, now_ms: int
    ) -> None:
        self.definition = definition
        self.config = config
        self.state = machine.init(definition, config, now_ms).state

    def feed(self, event: ControllerEvent) -> tuple[ControllerCommand, ...]:
        step = machine.on_event(self.definition, self.config, self.state, event)
        self.state = step.state
        return step.commands


class LocalCluster:
    """Controllers on the reference API server, driven synchronously."""

    def __init__(
        self,
        definitions: Sequence[ControllerDef[Any]],
        config: ControllerConfig | None = None,
        seed: int = 0,
        run_pods: bool = True,
    ) -> None:
        self.entropy = SeededEntropy(seed=seed)
        self.api = LocalApiServer(entropy=self.entropy)
        self.config = config if config is not None else ControllerConfig()
        self.run_pods = run_pods
        self.unready_images: frozenset[str] = frozenset()
        """Images whose pods the fixture never makes ready."""
        self.calls: list[tuple[str, Call, int]] = []
        self.after_call: list[Callable[[str, Call, int], None]] = []
        """Observers called after each controller call is answered (name, call, status)."""
        self.reconciles: list[Reconciled] = []
        self.hosts = {d.name: Hosted(d, self.config, self.now_ms) for d in definitions}
        self._watches: dict[str, int] = {}
        self._cursor: dict[str, int] = {}
        if run_pods:
            self.api.call("POST", "/api/v1/nodes", fixture.node_object())
        self._start_informers()

    @property
    def now_ms(self) -> int:
        return self.entropy.now_seconds() * 1000

    def _resources(self) -> list[str]:
        return sorted({w.resource for h in self.hosts.values() for w in h.definition.watches})

    def _start_informers(self) -> None:
        for name in self._resources():
            resource = RESOURCES[name]
            listed = self.api.call("GET", resource.collection_path())
            assert listed.status == 200, listed.body
            items = tuple(msgspec.json.encode(item) for item in listed.body.get("items") or ())
            revision = listed.body["metadata"]["resourceVersion"]
            self._broadcast(name, Listed(resource=name, items=items))
            self._watches[name] = self.api.watch(
                resource.collection_path(),
                {"resourceVersion": revision, "allowWatchBookmarks": "false"},
            )
            self._cursor[name] = 0

    def _broadcast(self, resource: str, event: ControllerEvent) -> None:
        for host in self.hosts.values():
            if any(w.resource == resource for w in host.definition.watches):
                self._carry_out(host, host.feed(event))

    def _carry_out(self, host: Hosted, commands: tuple[ControllerCommand, ...]) -> None:
        pending = list(commands)
        while pending:
            command = pending.pop(0)
            if isinstance(command, Reconciled):
                self.reconciles.append(command)
                continue
            call = command.call
            self.calls.append((host.definition.name, command, self.now_ms))
            body: Any = call.body if call.body else None
            answer = self.api.call(
                call.method,
                call.path,
                body,
                query=dict(call.query) or None,
                content_type=call.content_type or "application/json",
            )
            for observer in self.after_call:
                observer(host.definition.name, command, answer.status)
            raw = msgspec.json.encode(answer.body) if answer.body is not None else b""
            pending.extend(
                host.feed(Answered(request_id=command.request_id, status=answer.status, body=raw))
            )

    def deliver_watch_events(self) -> int:
        """Hand every watch event that arrived to the controllers; how many there were."""
        delivered = 0
        for name, watch_id in self._watches.items():
            lines = self.api.recorder.streams.get(watch_id, [])
            while self._cursor[name] < len(lines):
                event = msgspec.json.decode(lines[self._cursor[name]])
                self._cursor[name] += 1
                delivered += 1
                if event.get("type") not in ("ADDED", "MODIFIED", "DELETED"):
                    continue
                raw = msgspec.json.encode(event["object"])
                self._broadcast(name, Observed(resource=name, change=event["type"], raw=raw))
        return delivered

    def work(self) -> int:
        """Offer every free worker a key; how many syncs started."""
        started = 0
        for host in self.hosts.values():
            while machine.has_work(host.definition, host.config, host.state):
                self._carry_out(host, host.feed(Work()))
                started += 1
        return started

    def run_pod_fixture(self) -> int:
        if not self.run_pods:
            return 0
        listed = self.api.call("GET", "/api/v1/pods")
        acted = 0
        pods = fixture.pods_needing_work(listed.body.get("items") or (), self.unready_images)
        for index, pod in enumerate(pods):
            now = self.entropy.now_seconds()
            fixture.act(self._fixture_call, pod, now, index, self.unready_images)
            acted += 1
        return acted

    def _fixture_call(self, method: str, path: str, body: Any, content_type: str) -> Any:
        return self.api.call(method, path, body, content_type=content_type)

    def settle(self, rounds: int = ROUNDS_MAX, pods: bool = True) -> int:
        """Run until quiet; the rounds it took."""
        for round_number in range(rounds):
            moved = self.deliver_watch_events() + self.work()
            if pods and not moved:
                moved = self.run_pod_fixture()
            if not moved:
                return round_number
        raise AssertionError("the cluster did not settle")

    def advance(self, seconds: int) -> None:
        """Let ``seconds`` pass for the API server and every controller."""
        self.entropy.advance(seconds)
        self.api.tick(0)
        for host in self.hosts.values():
            self._carry_out(host, host.feed(Tick(now_ms=self.now_ms)))

    def get(self, path: str) -> Any:
        answer = self.api.call("GET", path)
        return answer.body if answer.status == 200 else None

    def items(self, path: str) -> list[Any]:
        body = self.get(path)
        return list(body.get("items") or ()) if body else []
