"""One kubelet with the simulated runtime and an API server that accepts every write, stepped
one second at a time; it keeps every command and the latest status written per pod."""

from __future__ import annotations

from typing import Any, Final

import msgspec

from models.k8s.base import decode_hook
from models.k8s.core.node import Node
from models.k8s.core.pod import ContainerStatus, Pod, PodStatus
from models.k8s.meta import ObjectMeta
from models.kubelet.config import KubeletConfig
from models.kubelet.events import (
    ApiAnswered,
    Command,
    DeletePod,
    Event,
    NodeObserved,
    PatchPodStatus,
    PodObserved,
    RegisterNode,
    RenewLease,
    Tick,
    UpdateNodeStatus,
)
from models.kubelet.state import KubeletState
from runner.kubelet import pump
from runner.kubelet.simulated import Runtime
from spec.kubelet import properties
from spec.property import Violation

T0: Final = 1_800_000_000_000
"""2027-01-15T08:00:00Z in Unix milliseconds."""


def make_pod(
    name: str, spec: dict[str, Any], annotations: dict[str, str] | None = None, node: str = "node-0"
) -> Pod:
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": f"uid-{name}",
            "annotations": annotations or {},
        },
        "spec": {"nodeName": node, **spec},
        "status": {"phase": "Pending"},
    }
    return msgspec.convert(body, Pod, dec_hook=decode_hook)


class Harness:
    def __init__(
        self, config: KubeletConfig | None = None, *, answer: int = 200, strict: bool = True
    ) -> None:
        self.config = config or KubeletConfig(node_name="node-0")
        self.answer = answer
        self.strict = strict
        self.commands: list[Command] = []
        self.statuses: dict[str, list[PodStatus]] = {}
        self.now_ms = T0
        self.violations: list[Violation] = []
        self.shown: set[str] = set()
        booted = pump.boot(self.config, T0, 0)
        self.state: KubeletState = booted.state
        self.runtime: Runtime = booted.runtime
        self._take(booted)

    def _take(self, pumped: pump.Pumped) -> None:
        found = properties.judge_step(self.config, self.state, pumped.state)
        assert not self.strict or found == [], found
        self.violations.extend(found)
        self.shown |= properties.companions(self.state, pumped.state)
        self.state, self.runtime = pumped.state, pumped.runtime
        self.commands.extend(pumped.runtime_commands)
        for command in pumped.api:
            self.commands.append(command)
            self._answer(command)

    def _answer(self, command: Command) -> None:
        match command:
            case RegisterNode():
                self.feed(ApiAnswered(request="register", code=self.answer))
                if 200 <= self.answer < 300:
                    node = msgspec.structs.replace(
                        command.node,
                        metadata=ObjectMeta(name=self.config.node_name, uid="node-uid"),
                    )
                    self.feed(NodeObserved(node=node))
            case RenewLease():
                self.feed(ApiAnswered(request="lease", code=self.answer))
            case UpdateNodeStatus():
                self.feed(ApiAnswered(request="status", code=self.answer))
            case PatchPodStatus():
                self.statuses.setdefault(command.uid, []).append(command.status)
            case DeletePod():
                pass
            case _:
                pass

    def feed(self, event: Event) -> None:
        self._take(pump.pump(self.config, self.state, self.runtime, event))

    def add(self, pod: Pod) -> None:
        self.feed(PodObserved(pod=pod))

    def run(self, seconds: int) -> None:
        for _ in range(seconds):
            self.now_ms += 1000
            self.feed(Tick(now_ms=self.now_ms))

    def status(self, uid: str) -> PodStatus:
        return self.statuses[uid][-1]

    def container(self, uid: str, name: str) -> ContainerStatus:
        status = self.status(uid)
        for item in (*(status.container_statuses or ()), *(status.init_container_statuses or ())):
            if item.name == name:
                return item
        raise AssertionError(f"no status for {name}")

    def of_type(self, kind: type[Any]) -> list[Any]:
        return [c for c in self.commands if isinstance(c, kind)]

    def node(self) -> Node | None:
        return self.state.node
