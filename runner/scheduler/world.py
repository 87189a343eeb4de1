"""The ``scheduler`` world: two scheduler machines racing against one API server, with watch
lag, bindings in flight, nodes that shrink and grow, and kubelets that admit or refuse what is
bound to them (:mod:`spec.scheduler.live` says what must hold).

Theory of operation. The API server is the truth: nodes and pods (as Kubernetes JSON), and an
append-only log of their changes that every scheduler's informer reads at its own pace
(``Inform`` delivers the next change, as the live driver of :mod:`runner.scheduler.live`
translates it: a pod bound by anyone leaves the queue for the cache, a terminal pod is gone).
``Cycle`` runs one scheduling cycle of one scheduler; a ``Bind`` it issues is in flight until
``Complete``, where the API server accepts it (the pod is still there and unbound) or refuses
it, and the answer goes back to the machine. ``Resize`` changes a node's allocatable cpu (the
fault ``node-churn``); ``Admit`` is the node's kubelet deciding on a bound pod: it runs it when
it fits beside the pods it runs, else the pod fails (``OutOfcpu``). ``Advance`` moves one
scheduler's clock a second (backoffs, the unschedulable timeout).

The schedulers are ``sched-a`` and ``sched-b`` (profiles of the default plugins under those
names); each pod names one of them. A machine's state is kept in the world as a
:class:`MachineBox` whose fingerprint is a digest of the events the machine was given (the
machine is deterministic, so its state is a function of them).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping, Sequence
from typing import Any, Final, TypeAlias, final

import immutables
import msgspec

from impl.scheduler.machine import SchedulerConfig, SchedulerState, init, on_event
from impl.scheduler.profile import Profile, default_profile
from models.k8s.base import decode_hook
from models.k8s.codec import encode_json
from models.k8s.core.node import Node
from models.k8s.core.pod import Pod
from models.scheduling.cluster import TERMINAL_PHASES
from models.scheduling.events import (
    Bind,
    BindingFailed,
    BindingSucceeded,
    NodeAdded,
    NodeUpdated,
    PodAdded,
    PodDeleted,
    PodUpdated,
    ScheduleNext,
    SchedulerCommand,
    SchedulerEvent,
    Tick,
)
from models.scheduling.step import Admission, LiveBinding, SchedulingStep
from models.trace import SwarmOptions
from runner.sim.world import ActionKind, Applied, Choice, NotEnabled, Violation, check_world_kind
from spec.property import Property
from spec.scheduler.live import ADMISSION_PROPERTIES, BINDING_PROPERTIES
from spec.scheduler.properties import no_overcommit

SCHEDULERS: Final = ("sched-a", "sched-b")
SKIPS_FIT: Final = "sched-b-skips-fit"
NODE_CPUS: Final = (1000, 1500, 2000, 3000)
SECOND_MS: Final = 1000


class SchedulerSetup(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything replay needs: the seed that shapes nodes and pods, and the mutant."""

    seed: int
    nodes: int = 3
    pods: int = 16
    mutant: str = ""


# Actions --------------------------------------------------------------------------------------


class Inform(msgspec.Struct, frozen=True, kw_only=True, tag="inform"):
    scheduler: int


class Cycle(msgspec.Struct, frozen=True, kw_only=True, tag="cycle"):
    scheduler: int
    draw: int


class Complete(msgspec.Struct, frozen=True, kw_only=True, tag="complete"):
    scheduler: int


class Advance(msgspec.Struct, frozen=True, kw_only=True, tag="advance"):
    scheduler: int


class Resize(msgspec.Struct, frozen=True, kw_only=True, tag="resize"):
    node: str
    cpu_milli: int


class Admit(msgspec.Struct, frozen=True, kw_only=True, tag="admit"):
    pod: str


SchedulerAction: TypeAlias = Inform | Cycle | Complete | Advance | Resize | Admit


# Outputs --------------------------------------------------------------------------------------


@final
class Attempted(msgspec.Struct, frozen=True, kw_only=True):
    """A cycle chose a node: the binding as its scheduler saw the cluster."""

    key: str
    binding: LiveBinding


@final
class Accepted(msgspec.Struct, frozen=True, kw_only=True):
    """The API server accepted a binding: the cluster as it held it."""

    key: str
    scheduler: str
    truth: SchedulingStep


Output: TypeAlias = Attempted | Accepted | Admission


# State ----------------------------------------------------------------------------------------


@final
class MachineBox:
    """A scheduler machine's state, fingerprinted by the digest of the events it was given."""

    __slots__ = ("digest", "state")

    def __init__(self, state: SchedulerState, digest: str) -> None:
        self.state = state
        self.digest = digest

    def to_builtins(self) -> object:
        return {"events": self.digest}

    def after(self, state: SchedulerState, event: SchedulerEvent) -> MachineBox:
        data = self.digest.encode() + encode_json(event)
        return MachineBox(state, hashlib.blake2b(data, digest_size=16).hexdigest())


class Change(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of the API server's change log: a node or pod (its JSON) as it is now."""

    kind: str
    name: str
    raw: bytes


class Slot(msgspec.Struct, frozen=True, kw_only=True):
    """One scheduler: its machine, how far its informer read the log, its bindings in flight."""

    machine: MachineBox
    cursor: int = 0
    binds: tuple[Bind, ...] = ()
    now_ms: int = 0


class WorldState(msgspec.Struct, frozen=True, kw_only=True):
    nodes: immutables.Map[str, bytes]
    pods: immutables.Map[str, bytes]
    log: tuple[Change, ...]
    slots: tuple[Slot, ...]
    admitted: immutables.Map[str, bool] = immutables.Map()
    """Pods a kubelet decided on: True admitted, False refused."""


def _node_json(name: str, cpu_milli: int) -> bytes:
    resources = {"cpu": f"{cpu_milli}m", "memory": "8Gi", "pods": "110"}
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "status": {"allocatable": resources, "capacity": resources},
        },
        sort_keys=True,
    ).encode()


def _pod_json(name: str, cpu_milli: int, scheduler: str) -> bytes:
    container = {"name": "c", "image": "app", "resources": {"requests": {"cpu": f"{cpu_milli}m"}}}
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
            "spec": {"schedulerName": scheduler, "containers": [container]},
        },
        sort_keys=True,
    ).encode()


def node_of(raw: bytes) -> Node:
    return msgspec.json.decode(raw, type=Node, dec_hook=decode_hook)


def pod_of(raw: bytes) -> Pod:
    return msgspec.json.decode(raw, type=Pod, dec_hook=decode_hook)


def _with(pod: Pod, **spec: Any) -> Pod:
    return msgspec.structs.replace(pod, spec=msgspec.structs.replace(pod.pod_spec, **spec))


def _profile(name: str, skip_fit: bool) -> Profile:
    base = default_profile()
    filters = tuple(p for p in base.filter if not (skip_fit and p.name == "NodeResourcesFit"))
    return base.replaced(scheduler_name=name, filter=filters)


def _terminal(pod: Pod) -> bool:
    return (pod.pod_status.phase or "") in TERMINAL_PHASES


def _known(state: SchedulerState, key: str) -> bool:
    cached = any(key == p.key for info in state.snapshot.in_order() for p in info.pods)
    return cached or state.queue.has(key) or key in state.assumed


def informer_events(state: SchedulerState, change: Change) -> list[SchedulerEvent]:
    """What the live driver hands the machine for one change (see :mod:`runner.scheduler.live`)."""
    if change.kind == "node":
        node = node_of(change.raw)
        if state.snapshot.has_node(change.name):
            return [NodeUpdated(node=node)]
        return [NodeAdded(node=node)]
    pod = pod_of(change.raw)
    if _terminal(pod):
        return [PodDeleted(key=change.name)] if _known(state, change.name) else []
    if pod.pod_spec.node_name and state.queue.has(change.name):
        return [PodDeleted(key=change.name), PodAdded(pod=pod)]
    if _known(state, change.name):
        return [PodUpdated(pod=pod)]
    return [PodAdded(pod=pod)]


def seen_step(state: SchedulerState, pod: Pod) -> SchedulingStep:
    """The cluster as a scheduler's cache holds it, with ``pod`` as bound."""
    infos = state.snapshot.in_order()
    return SchedulingStep(
        nodes=tuple(info.view.node for info in infos),
        pods_before=tuple(p.pod for info in infos for p in info.pods if p.key != _key(pod)),
        pod=pod,
        verdicts=(),
    )


def _key(pod: Pod) -> str:
    return f"{pod.meta.namespace or 'default'}/{pod.meta.name or ''}"


def running_on(world: WorldState, node: str) -> list[Pod]:
    """Pods the node's kubelet runs (admitted, not terminal)."""
    pods = [pod_of(raw) for key, raw in world.pods.items() if world.admitted.get(key)]
    return [p for p in pods if p.pod_spec.node_name == node and not _terminal(p)]


@final
class SchedulerWorld:
    """One run's world (see the module docstring)."""

    def __init__(self, setup: SchedulerSetup) -> None:
        self.setup = setup
        self.configs = tuple(
            SchedulerConfig({name: _profile(name, setup.mutant == SKIPS_FIT and name == "sched-b")})
            for name in SCHEDULERS
        )

    def initial(self) -> Applied[WorldState, Output]:
        shape = random.Random(self.setup.seed)
        nodes = {f"node-{i}": _node_json(f"node-{i}", 2000) for i in range(self.setup.nodes)}
        pods = {
            f"default/pod-{i}": _pod_json(
                f"pod-{i}", shape.choice((300, 500, 700, 900)), SCHEDULERS[i % 2]
            )
            for i in range(self.setup.pods)
        }
        log = tuple(Change(kind="node", name=n, raw=raw) for n, raw in sorted(nodes.items()))
        log += tuple(Change(kind="pod", name=k, raw=raw) for k, raw in sorted(pods.items()))
        slots = tuple(Slot(machine=MachineBox(init(c).state, "")) for c in self.configs)
        world = WorldState(
            nodes=immutables.Map(nodes), pods=immutables.Map(pods), log=log, slots=slots
        )
        return Applied(world, ())

    def _feed(
        self, index: int, slot: Slot, event: SchedulerEvent
    ) -> tuple[Slot, tuple[SchedulerCommand, ...]]:
        step = on_event(self.configs[index], slot.machine.state, event)
        return msgspec.structs.replace(
            slot, machine=slot.machine.after(step.state, event)
        ), step.commands

    def _slots(self, world: WorldState, index: int, slot: Slot) -> tuple[Slot, ...]:
        return tuple(slot if i == index else s for i, s in enumerate(world.slots))

    def apply(
        self, world: WorldState, action: SchedulerAction
    ) -> Applied[WorldState, Output] | NotEnabled:
        match action:
            case Inform(scheduler=index):
                return self._inform(world, index)
            case Cycle(scheduler=index, draw=draw):
                return self._cycle(world, index, draw)
            case Complete(scheduler=index):
                return self._complete(world, index)
            case Advance(scheduler=index):
                slot = world.slots[index]
                now = slot.now_ms + SECOND_MS
                slot, _ = self._feed(
                    index, msgspec.structs.replace(slot, now_ms=now), Tick(now_ms=now)
                )
                return Applied(
                    msgspec.structs.replace(world, slots=self._slots(world, index, slot)), ()
                )
            case Resize(node=name, cpu_milli=cpu):
                if name not in world.nodes:
                    return NotEnabled(f"no node {name}")
                raw = _node_json(name, cpu)
                changed = msgspec.structs.replace(
                    world,
                    nodes=world.nodes.set(name, raw),
                    log=(*world.log, Change(kind="node", name=name, raw=raw)),
                )
                return Applied(changed, ())
            case Admit(pod=key):
                return self._admit(world, key)
        raise AssertionError(action)

    def _inform(self, world: WorldState, index: int) -> Applied[WorldState, Output] | NotEnabled:
        slot = world.slots[index]
        if slot.cursor >= len(world.log):
            return NotEnabled("the informer is up to date")
        change = world.log[slot.cursor]
        slot = msgspec.structs.replace(slot, cursor=slot.cursor + 1)
        for event in informer_events(slot.machine.state, change):
            slot, _ = self._feed(index, slot, event)
        return Applied(msgspec.structs.replace(world, slots=self._slots(world, index, slot)), ())

    def _cycle(
        self, world: WorldState, index: int, draw: int
    ) -> Applied[WorldState, Output] | NotEnabled:
        slot = world.slots[index]
        if not slot.machine.state.queue.active:
            return NotEnabled("no pod is ready")
        before = slot.machine.state
        slot, commands = self._feed(index, slot, ScheduleNext(random=draw))
        outputs: list[Output] = []
        binds = list(slot.binds)
        for command in commands:
            if isinstance(command, Bind):
                binds.append(command)
                pod = _with(pod_of(world.pods[command.key]), node_name=command.node)
                binding = LiveBinding(scheduler=SCHEDULERS[index], seen=seen_step(before, pod))
                outputs.append(Attempted(key=command.key, binding=binding))
        slot = msgspec.structs.replace(slot, binds=tuple(binds))
        return Applied(
            msgspec.structs.replace(world, slots=self._slots(world, index, slot)), tuple(outputs)
        )

    def _complete(self, world: WorldState, index: int) -> Applied[WorldState, Output] | NotEnabled:
        slot = world.slots[index]
        if not slot.binds:
            return NotEnabled("no binding in flight")
        bind, rest = slot.binds[0], slot.binds[1:]
        slot = msgspec.structs.replace(slot, binds=rest)
        raw = world.pods.get(bind.key)
        pod = pod_of(raw) if raw is not None else None
        if pod is None or pod.pod_spec.node_name or _terminal(pod):
            slot, _ = self._feed(
                index, slot, BindingFailed(key=bind.key, node=bind.node, reason="409")
            )
            return Applied(
                msgspec.structs.replace(world, slots=self._slots(world, index, slot)), ()
            )
        bound = _with(pod, node_name=bind.node)
        truth = SchedulingStep(
            nodes=tuple(node_of(r) for _, r in sorted(world.nodes.items())),
            pods_before=tuple(
                p
                for p in (pod_of(r) for k, r in sorted(world.pods.items()) if k != bind.key)
                if p.pod_spec.node_name and not _terminal(p)
            ),
            pod=bound,
            verdicts=(),
        )
        bound_raw = encode_json(bound)
        slot, _ = self._feed(index, slot, BindingSucceeded(key=bind.key, node=bind.node))
        changed = msgspec.structs.replace(
            world,
            pods=world.pods.set(bind.key, bound_raw),
            log=(*world.log, Change(kind="pod", name=bind.key, raw=bound_raw)),
            slots=self._slots(world, index, slot),
        )
        return Applied(changed, (Accepted(key=bind.key, scheduler=SCHEDULERS[index], truth=truth),))

    def _admit(self, world: WorldState, key: str) -> Applied[WorldState, Output] | NotEnabled:
        raw = world.pods.get(key)
        if raw is None or key in world.admitted:
            return NotEnabled("not a pod waiting for its kubelet")
        pod = pod_of(raw)
        name = pod.pod_spec.node_name or ""
        if not name or _terminal(pod):
            return NotEnabled("not bound")
        node = node_of(world.nodes[name])
        running = tuple(running_on(world, name))
        fits = no_overcommit(
            SchedulingStep(nodes=(node,), pods_before=running, pod=pod, verdicts=())
        )
        decision = Admission(node=node, running=running, pod=pod, admitted=fits)
        if fits:
            return Applied(
                msgspec.structs.replace(world, admitted=world.admitted.set(key, True)), (decision,)
            )
        status = msgspec.structs.replace(pod.pod_status, phase="Failed", reason="OutOfcpu")
        failed_raw = encode_json(msgspec.structs.replace(pod, status=status))
        changed = msgspec.structs.replace(
            world,
            pods=world.pods.set(key, failed_raw),
            log=(*world.log, Change(kind="pod", name=key, raw=failed_raw)),
            admitted=world.admitted.set(key, False),
        )
        return Applied(changed, (decision,))

    def waiting_for_kubelet(self, world: WorldState) -> list[str]:
        return [
            key
            for key, raw in sorted(world.pods.items())
            if key not in world.admitted
            and (p := pod_of(raw)).pod_spec.node_name
            and not _terminal(p)
        ]

    def choices(
        self, world: WorldState, last: Applied[WorldState, Output]
    ) -> Sequence[Choice[SchedulerAction]]:
        del last
        lagging = [i for i, s in enumerate(world.slots) if s.cursor < len(world.log)]
        ready = [i for i, s in enumerate(world.slots) if s.machine.state.queue.active]
        flying = [i for i, s in enumerate(world.slots) if s.binds]
        waiting = self.waiting_for_kubelet(world)
        names = sorted(world.nodes)
        out: list[Choice[SchedulerAction]] = []
        if lagging:
            out.append(Choice("inform", lambda prng: Inform(scheduler=prng.choice(lagging))))
        if ready:
            out.append(
                Choice(
                    "cycle",
                    lambda prng: Cycle(scheduler=prng.choice(ready), draw=prng.randrange(2**31)),
                )
            )
        if flying:
            out.append(Choice("complete", lambda prng: Complete(scheduler=prng.choice(flying))))
        if waiting:
            out.append(Choice("admit", lambda prng: Admit(pod=prng.choice(waiting))))
        out.append(
            Choice("advance", lambda prng: Advance(scheduler=prng.randrange(len(SCHEDULERS))))
        )
        out.append(
            Choice(
                "resize",
                lambda prng: Resize(node=prng.choice(names), cpu_milli=prng.choice(NODE_CPUS)),
            )
        )
        return out

    def checkers(self) -> tuple[LiveChecker]:
        return (LiveChecker(),)

    def progress(self) -> Settled:
        return Settled()

    def driver(self, prng: random.Random) -> FairDriver:
        del prng
        return FairDriver(self)

    def statistics(self) -> Tally:
        return Tally()


def _judge(
    properties: Sequence[Property[Any]],
    value: object,
    index: int,
    coverage: dict[str, int | None],
    what: str,
) -> list[Violation]:
    found = []
    for prop in properties:
        holds = prop.holds(value)
        if prop.kind == "always" and not holds:
            found.append(Violation(property_name=prop.name, nodes=(), reason=what))
        elif prop.kind == "sometimes" and holds and coverage.get(prop.name) is None:
            coverage[prop.name] = index
    return found


def _binding_words(binding: LiveBinding) -> str:
    pod = binding.seen.pod
    node = pod.pod_spec.node_name or ""
    load = sum(1 for p in binding.seen.pods_before if p.pod_spec.node_name == node)
    return (
        f"{binding.scheduler} bound {_key(pod)} (schedulerName {pod.pod_spec.scheduler_name}) "
        f"to {node}, where its own snapshot already held {load} pods"
    )


def _admission_words(admission: Admission) -> str:
    verdict = "admitted" if admission.admitted else "refused"
    name = admission.node.metadata.name if admission.node.metadata else ""
    beside = len(admission.running)
    return f"the kubelet of {name} {verdict} {_key(admission.pod)} beside {beside} pods"


@final
class LiveChecker:
    """The properties of :mod:`spec.scheduler.live` on every binding and admission."""

    def __init__(self) -> None:
        self.seen: dict[str, LiveBinding] = {}
        names = [p.name for p in BINDING_PROPERTIES if p.kind == "sometimes"]
        names += [p.name for p in ADMISSION_PROPERTIES if p.kind == "sometimes"]
        self.covered: dict[str, int | None] = dict.fromkeys(names)

    def start(self, state: WorldState) -> tuple[Violation, ...]:
        del state
        return ()

    def step(
        self,
        index: int,
        action: SchedulerAction,
        before: WorldState,
        after: WorldState,
        outputs: tuple[Output, ...],
    ) -> tuple[Violation, ...]:
        del before, after
        found: list[Violation] = []
        for output in outputs:
            if isinstance(output, Attempted):
                self.seen[output.key] = output.binding
                words = _binding_words(output.binding)
                found += _judge(BINDING_PROPERTIES, output.binding, index, self.covered, words)
            elif isinstance(output, Accepted):
                seen = self.seen.get(output.key)
                if seen is not None:
                    binding = msgspec.structs.replace(seen, truth=output.truth)
                    words = _binding_words(binding)
                    found += _judge(BINDING_PROPERTIES, binding, index, self.covered, words)
            else:
                words = _admission_words(output)
                found += _judge(ADMISSION_PROPERTIES, output, index, self.covered, words)
        del action
        return tuple(found)

    def finish(self, state: WorldState, index: int) -> tuple[Violation, ...]:
        del state, index
        return ()

    def coverage(self) -> Mapping[str, int | None]:
        return dict(self.covered)


@final
class Settled:
    """Liveness: once faults stop, every pod is bound and decided by its kubelet, failed, or
    fits on no node beside what the nodes run."""

    name = "scheduler.live.every_pod_settles"

    def observe(self, state: WorldState, outputs: tuple[Output, ...]) -> bool:
        del outputs
        for key, raw in state.pods.items():
            pod = pod_of(raw)
            if _terminal(pod) or key in state.admitted:
                continue
            if pod.pod_spec.node_name:
                return False
            for name, node_raw in state.nodes.items():
                node = node_of(node_raw)
                occupied = tuple(
                    p
                    for p in (pod_of(r) for r in state.pods.values())
                    if p.pod_spec.node_name == name and not _terminal(p)
                )
                probe = SchedulingStep(
                    nodes=(node,), pods_before=occupied, pod=_with(pod, node_name=name), verdicts=()
                )
                if no_overcommit(probe):
                    return False
        return True

    def failure(self, bound: int) -> str:
        return f"a pod that fits somewhere was still pending or unadmitted after {bound} steps"


@final
class FairDriver:
    """The liveness phase: complete bindings, bring informers up to date, let kubelets decide,
    run cycles, and let time pass for backoffs."""

    def __init__(self, world: SchedulerWorld) -> None:
        self.world = world
        self.turn = 0

    def next_action(self, state: WorldState, index: int) -> SchedulerAction:
        for i, slot in enumerate(state.slots):
            if slot.binds:
                return Complete(scheduler=i)
        for i, slot in enumerate(state.slots):
            if slot.cursor < len(state.log):
                return Inform(scheduler=i)
        waiting = self.world.waiting_for_kubelet(state)
        if waiting:
            return Admit(pod=waiting[0])
        for i, slot in enumerate(state.slots):
            if slot.machine.state.queue.active:
                return Cycle(scheduler=i, draw=index)
        self.turn += 1
        return Advance(scheduler=self.turn % len(SCHEDULERS))

    def observe(self, index: int, applied: Applied[WorldState, Output]) -> None:
        del index, applied


@final
class Tally:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def count(self, action: SchedulerAction, outputs: tuple[Output, ...]) -> None:
        name = type(action).__name__.lower()
        self.counts[name] = self.counts.get(name, 0) + 1
        for output in outputs:
            if isinstance(output, Accepted):
                self.counts["bound"] = self.counts.get("bound", 0) + 1
            elif isinstance(output, Admission) and not output.admitted:
                self.counts["refused_by_kubelet"] = self.counts.get("refused_by_kubelet", 0) + 1

    def summary(self) -> dict[str, object]:
        return dict(sorted(self.counts.items()))


@final
class SchedulerWorldKind:
    name: Final = "scheduler"
    setup_type: Final = SchedulerSetup
    action_type: Final[Any] = SchedulerAction
    action_kinds: Final = (
        ActionKind("inform", None, 10, 30),
        ActionKind("cycle", None, 5, 20),
        ActionKind("complete", None, 5, 20),
        ActionKind("admit", None, 3, 10),
        ActionKind("advance", None, 1, 3),
        ActionKind("resize", "node-churn", 1, 4),
    )
    fault_kinds: Final = ("node-churn",)

    def build(self, setup: SchedulerSetup, swarm: SwarmOptions) -> SchedulerWorld:
        del swarm
        return SchedulerWorld(setup)


SCHEDULER_WORLD: Final = SchedulerWorldKind()
check_world_kind(SCHEDULER_WORLD)
