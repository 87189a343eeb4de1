"""The kubelet world on the simulation kernel (``kubeoracle simulate kubelet``).

Theory of operation. Each node is the kubelet machine with the simulated runtime
(``runner.kubelet.pump``); a stand-in for the API server (this module) answers the kubelets'
writes, holds the pods and applies the statuses they write, and tells each reachable node about
its pods as an informer would (a node cut off hears nothing and its writes fail with no answer;
on ``Heal`` and after ``Reboot`` it relists). The world plays the scheduler: a new pod is bound
to the node after the previous one's. Time passes only with ``Advance``; a node's clock is the
world's plus its offset (``ClockJump``).

Checked after every step: every kubelet safety property of ``spec.kubelet`` on each node
(except across that node's reboot, when its state starts again), the API pods' phases move only
along the allowed transitions, and no pod runs on two nodes. Liveness: once faults are healed,
every node's Lease is fresh and every pod's API status has the phase its kubelet computed.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgspec

from models.apiserver.clock import parse_rfc3339, rfc3339
from models.k8s.base import decode_hook
from models.k8s.core.pod import Pod
from models.k8s.meta import ObjectMeta
from models.kubelet.config import KubeletConfig
from models.kubelet.events import (
    ApiAnswered,
    Event,
    NodeObserved,
    PatchPodStatus,
    PodObserved,
    PodRemoved,
    RegisterNode,
    RenewLease,
    SignalObserved,
    Tick,
    UpdateNodeStatus,
    UsageObserved,
)
from models.kubelet.events import DeletePod as DeleteCommand
from models.kubelet.world import (
    Advance,
    ApiPod,
    ClockJump,
    CreatePod,
    DeletePod,
    Heal,
    KubeletAction,
    KubeletOutput,
    KubeletSetup,
    KubeletWorldState,
    NodeSlot,
    Partition,
    Pressure,
    Reboot,
    Wrote,
)
from runner.kubelet import pump, simulated
from runner.kubelet.simulated import Runtime
from runner.sim.world import Applied, NotEnabled

T0: Final = 1_800_000_000_000
MAX_ROUNDS: Final = 32
MIB: Final = 1024 * 1024
GIB: Final = 1024 * MIB
SIGNAL_CAPACITY: Final = {
    "nodefs.available": 100 * GIB,
    "nodefs.inodesFree": 6_553_600,
    "imagefs.available": 100 * GIB,
    "imagefs.inodesFree": 6_553_600,
    "pid.available": 4_194_304,
}
"""The capacity of each filesystem and PID signal on a world's node."""
PRESSURE_SIGNALS: Final = ("memory.available", "memory.available", *SIGNAL_CAPACITY)
PID_THRESHOLD: Final = 100_000
"""The world's nodes opt in to ``pid.available<100000`` and ``imagefs.inodesFree<5%``."""
Step = Applied[KubeletWorldState, KubeletOutput]

TEMPLATES: Final[tuple[tuple[dict[str, Any], dict[str, str]], ...]] = (
    (
        {
            "containers": [
                {"name": "app", "image": "web", "lifecycle": {"preStop": {"sleep": {"seconds": 5}}}}
            ]
        },
        {
            "app.memory-bytes": str(300 * MIB),
            "app.prestop-seconds": "5",
            "app.disk-bytes": str(GIB),
            "app.inodes": "2000",
            "app.processes": "4",
        },
    ),
    (
        {"containers": [{"name": "app", "image": "crash"}]},
        {"app.exit-code": "1", "app.run-seconds": "3"},
    ),
    (
        {"restartPolicy": "Never", "containers": [{"name": "app", "image": "job"}]},
        {"app.exit-code": "0", "app.run-seconds": "20"},
    ),
    (
        {
            "containers": [
                {
                    "name": "app",
                    "image": "probed",
                    "readinessProbe": {"periodSeconds": 2, "successThreshold": 2},
                    "livenessProbe": {"periodSeconds": 3, "failureThreshold": 2},
                }
            ]
        },
        {
            "app.readiness-fail-until": "10",
            "app.liveness-fail-after": "40",
            "app.memory-bytes": str(200 * MIB),
            "app.disk-bytes": str(5 * GIB),
            "app.inodes": "9000",
            "app.processes": "1",
        },
    ),
    (
        {
            "initContainers": [
                {"name": "init", "image": "init"},
                {"name": "proxy", "image": "proxy", "restartPolicy": "Always"},
            ],
            "containers": [
                {
                    "name": "app",
                    "image": "main",
                    "resources": {"requests": {"cpu": "500m", "memory": "100Mi"}},
                }
            ],
        },
        {
            "init.exit-code": "0",
            "init.run-seconds": "4",
            "app.stop-seconds": "60",
            "app.memory-bytes": str(500 * MIB),
            "app.disk-bytes": str(200 * MIB),
            "app.inodes": "500",
            "app.processes": "12",
        },
    ),
    (
        {
            "containers": [
                {"name": "app", "image": "big", "resources": {"requests": {"cpu": "3600m"}}}
            ]
        },
        {},
    ),
)


def _runtime(slot: NodeSlot) -> Runtime:
    return msgspec.msgpack.decode(slot.runtime, type=Runtime, dec_hook=decode_hook)


def _encode_runtime(runtime: Runtime) -> bytes:
    from models.k8s.base import encode_hook

    return msgspec.msgpack.encode(runtime, enc_hook=encode_hook)


def make_pod(index: int, template: int, priority: int, node: str) -> Pod:
    spec, script = TEMPLATES[template % len(TEMPLATES)]
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"p{index}",
            "namespace": "default",
            "uid": f"uid-p{index}",
            "annotations": {f"sim.kubeoracle.io/{k}": v for k, v in script.items()},
        },
        "spec": {**spec, "nodeName": node, "priority": priority},
        "status": {"phase": "Pending"},
    }
    return msgspec.convert(body, Pod, dec_hook=decode_hook)


class Engine:
    """Applies actions to the world's state (pure given the setup)."""

    def __init__(self, setup: KubeletSetup) -> None:
        self.setup = setup
        self.configs = tuple(
            KubeletConfig(
                node_name=f"node-{i}",
                boot_id=f"node-{i}",
                mutant=setup.mutant,
                eviction_hard_imagefs_inodes_free_percent=5,
                eviction_hard_pid_available=PID_THRESHOLD,
            )
            for i in range(setup.nodes)
        )

    def initial(self) -> Step:
        outputs: list[Wrote] = []
        state = KubeletWorldState(now_ms=T0, nodes=())
        for index, config in enumerate(self.configs):
            booted = pump.boot(config, T0, index)
            runtime = _encode_runtime(booted.runtime)
            slot = NodeSlot(name=config.node_name, state=booted.state, runtime=runtime)
            state = msgspec.structs.replace(state, nodes=(*state.nodes, slot))
            state = self._serve(state, index, booted.api, outputs)
        return Applied(state, tuple(outputs))

    # The API stand-in --------------------------------------------------------------------

    def _set(self, state: KubeletWorldState, index: int, slot: NodeSlot) -> KubeletWorldState:
        nodes = tuple(slot if i == index else s for i, s in enumerate(state.nodes))
        return msgspec.structs.replace(state, nodes=nodes)

    def _feed(
        self, state: KubeletWorldState, index: int, event: Event, outputs: list[Wrote]
    ) -> KubeletWorldState:
        slot = state.nodes[index]
        pumped = pump.pump(self.configs[index], slot.state, _runtime(slot), event)
        slot = msgspec.structs.replace(
            slot, state=pumped.state, runtime=_encode_runtime(pumped.runtime)
        )
        return self._serve(self._set(state, index, slot), index, pumped.api, outputs)

    def _serve(
        self,
        state: KubeletWorldState,
        index: int,
        writes: Sequence[pump.ApiCommand],
        outputs: list[Wrote],
    ) -> KubeletWorldState:
        for write in writes:
            state = self._write(state, index, write, outputs)
        return state

    def _write(
        self, state: KubeletWorldState, index: int, write: pump.ApiCommand, outputs: list[Wrote]
    ) -> KubeletWorldState:
        reachable = state.nodes[index].reachable
        code = 200 if reachable else 0
        outputs.append(Wrote(node=index, kind=type(write).__name__, code=code))
        if len(outputs) > 10_000:
            raise AssertionError("runaway writes")
        match write:
            case RegisterNode():
                state = self._feed(
                    state,
                    index,
                    ApiAnswered(request="register", code=201 if reachable else 0),
                    outputs,
                )
                if reachable:
                    node = msgspec.structs.replace(
                        write.node,
                        metadata=ObjectMeta(
                            name=self.configs[index].node_name,
                            uid=f"uid-node-{index}",
                            labels=(write.node.metadata.labels if write.node.metadata else None),
                        ),
                    )
                    state = self._feed(state, index, NodeObserved(node=node), outputs)
                return state
            case RenewLease():
                if reachable:
                    renew = write.lease.spec.renew_time if write.lease.spec else None
                    seconds = parse_rfc3339(renew or "")
                    millis = (
                        int((renew or "x.000").rsplit(".", 1)[-1][:3] or 0)
                        if renew and "." in renew
                        else 0
                    )
                    slot = msgspec.structs.replace(
                        state.nodes[index],
                        lease_renewed_ms=None if seconds is None else seconds * 1000 + millis,
                    )
                    state = self._set(state, index, slot)
                return self._feed(state, index, ApiAnswered(request="lease", code=code), outputs)
            case UpdateNodeStatus():
                return self._feed(state, index, ApiAnswered(request="status", code=code), outputs)
            case PatchPodStatus():
                if not reachable:
                    return state
                pods = tuple(
                    msgspec.structs.replace(
                        p, pod=msgspec.structs.replace(p.pod, status=write.status)
                    )
                    if p.pod.meta.uid == write.uid
                    else p
                    for p in state.pods
                )
                return msgspec.structs.replace(state, pods=pods)
            case DeleteCommand():
                if not reachable:
                    return state
                gone = [p for p in state.pods if p.pod.meta.uid == write.uid]
                if not gone:
                    return state
                state = msgspec.structs.replace(
                    state, pods=tuple(p for p in state.pods if p.pod.meta.uid != write.uid)
                )
                return self._feed(state, index, PodRemoved(uid=write.uid), outputs)

    def _relist(
        self, state: KubeletWorldState, index: int, outputs: list[Wrote]
    ) -> KubeletWorldState:
        """A reachable node's informers list again: its pods, and the ones gone."""
        if not state.nodes[index].reachable:
            return state
        mine = [p.pod for p in state.pods if p.node == index]
        uids = {p.meta.uid for p in mine}
        for record in state.nodes[index].state.pods:
            if record.uid not in uids:
                state = self._feed(state, index, PodRemoved(uid=record.uid), outputs)
        for pod in mine:
            state = self._feed(state, index, PodObserved(pod=pod), outputs)
        return state

    # Actions -----------------------------------------------------------------------------

    def apply(self, state: KubeletWorldState, action: KubeletAction) -> Step | NotEnabled:
        outputs: list[Wrote] = []
        match action:
            case Advance():
                state = msgspec.structs.replace(state, now_ms=state.now_ms + action.seconds * 1000)
                for index, slot in enumerate(state.nodes):
                    state = self._feed(
                        state, index, Tick(now_ms=state.now_ms + slot.clock_offset_ms), outputs
                    )
            case CreatePod():
                if len(state.pods) >= self.setup.max_pods:
                    return NotEnabled("enough pods")
                index = state.created % len(self.configs)
                pod = make_pod(
                    state.created, action.template, action.priority, self.configs[index].node_name
                )
                state = msgspec.structs.replace(
                    state,
                    created=state.created + 1,
                    pods=(*state.pods, ApiPod(pod=pod, node=index)),
                )
                if state.nodes[index].reachable:
                    state = self._feed(state, index, PodObserved(pod=pod), outputs)
            case DeletePod():
                found = [p for p in state.pods if p.pod.meta.name == action.name]
                if not found or found[0].pod.meta.deletion_timestamp is not None:
                    return NotEnabled("no such pod, or already deleting")
                target = found[0]
                meta = msgspec.structs.replace(
                    target.pod.meta,
                    deletion_timestamp=rfc3339(state.now_ms // 1000),
                    deletion_grace_period_seconds=action.grace_seconds,
                )
                deleting = ApiPod(
                    pod=msgspec.structs.replace(target.pod, metadata=meta), node=target.node
                )
                state = msgspec.structs.replace(
                    state, pods=tuple(deleting if p is target else p for p in state.pods)
                )
                if state.nodes[target.node].reachable:
                    state = self._feed(state, target.node, PodObserved(pod=deleting.pod), outputs)
            case Partition():
                if not state.nodes[action.node].reachable:
                    return NotEnabled("already cut off")
                state = self._set(
                    state,
                    action.node,
                    msgspec.structs.replace(state.nodes[action.node], reachable=False),
                )
            case Heal():
                if state.nodes[action.node].reachable:
                    return NotEnabled("not cut off")
                state = self._set(
                    state,
                    action.node,
                    msgspec.structs.replace(state.nodes[action.node], reachable=True),
                )
                state = self._relist(state, action.node, outputs)
            case Reboot():
                slot = state.nodes[action.node]
                booted = pump.boot(
                    self.configs[action.node], state.now_ms + slot.clock_offset_ms, action.node
                )
                slot = msgspec.structs.replace(
                    slot,
                    state=booted.state,
                    runtime=_encode_runtime(booted.runtime),
                    boots=slot.boots + 1,
                )
                state = self._serve(
                    self._set(state, action.node, slot), action.node, booted.api, outputs
                )
                state = self._relist(state, action.node, outputs)
            case ClockJump():
                slot = state.nodes[action.node]
                state = self._set(
                    state,
                    action.node,
                    msgspec.structs.replace(
                        slot, clock_offset_ms=slot.clock_offset_ms + action.seconds * 1000
                    ),
                )
            case Pressure():
                slot = state.nodes[action.node]
                usage = simulated.usage(
                    _runtime(slot),
                    self.configs[action.node].capacity.memory_bytes,
                    state.now_ms + slot.clock_offset_ms,
                )
                capacity = SIGNAL_CAPACITY.get(action.signal, 0)
                signals = (
                    (
                        SignalObserved(
                            signal=action.signal,
                            available=capacity * action.available_permille // 1000,
                            capacity=capacity,
                        ),
                    )
                    if capacity
                    else ()
                )
                memory = (
                    action.available_mib * MIB
                    if action.signal == "memory.available"
                    else usage.memory_available_bytes
                )
                event = UsageObserved(
                    memory_available_bytes=memory, pods=usage.pods, signals=signals
                )
                state = self._feed(state, action.node, event, outputs)
        return Applied(state, tuple(outputs))


def configs_by_node(engine: Engine) -> Mapping[int, KubeletConfig]:
    return dict(enumerate(engine.configs))


def draw_action(
    engine: Engine, state: KubeletWorldState, kind: str, prng: random.Random
) -> KubeletAction:
    nodes = len(engine.configs)
    match kind:
        case "advance":
            return Advance(seconds=prng.choice((1, 1, 1, 2, 5, 10)))
        case "create":
            return CreatePod(
                template=prng.randrange(len(TEMPLATES)), priority=prng.choice((0, 0, 100, 1000))
            )
        case "delete":
            names = sorted(
                p.pod.meta.name or "" for p in state.pods if p.pod.meta.deletion_timestamp is None
            )
            return DeletePod(name=prng.choice(names), grace_seconds=prng.choice((0, 1, 5, 30)))
        case "partition":
            return Partition(
                node=prng.choice([i for i, s in enumerate(state.nodes) if s.reachable])
            )
        case "heal":
            return Heal(node=prng.choice([i for i, s in enumerate(state.nodes) if not s.reachable]))
        case "reboot":
            return Reboot(node=prng.randrange(nodes))
        case "clock-jump":
            return ClockJump(node=prng.randrange(nodes), seconds=prng.choice((-30, -5, 5, 60, 700)))
        case _:
            signal = prng.choice(PRESSURE_SIGNALS)
            return Pressure(
                node=prng.randrange(nodes),
                available_mib=prng.choice((50, 80, 500)),
                signal=signal,
                available_permille=prng.choice((10, 40, 500)),
            )
