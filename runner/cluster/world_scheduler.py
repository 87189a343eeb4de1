"""The scheduler in the cluster world: ``impl.scheduler.machine`` behind pod and node informers,
binding through ``pods/binding``.

Informer changes reach the machine as the live driver hands them over
(``runner.scheduler.world.informer_events``: a bound pod leaves the queue, a terminal one is
gone); a deleted object is deleted; a relist replays every item and deletes what vanished.
``Cycle`` runs one scheduling cycle; each ``Bind`` is posted and its answer goes back as
``BindingSucceeded`` or ``BindingFailed``; a preemption victim is deleted. The world keeps each
node as the informer last delivered it (``nodes_seen``), which the taint property judges a
binding against. The mutant ``scheduler-ignores-taint-update`` hands the machine a node update
without its taints.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from impl.scheduler.machine import SchedulerConfig, init, on_event
from impl.scheduler.profile import default_profile
from models.apiserver.messages import ApiRequest
from models.k8s.codec import encode_json
from models.scheduling.events import (
    Bind,
    BindingFailed,
    BindingSucceeded,
    Evict,
    NodeDeleted,
    PodDeleted,
    ScheduleNext,
    SchedulerCommand,
    SchedulerEvent,
    Tick,
)
from runner.cluster import world_informers as inf
from runner.cluster.world_api import ApiEngine, Work
from runner.cluster.world_state import Box, Caller, SchedulerSlot
from runner.scheduler.world import Change, informer_events

NAME: Final = "scheduler"
RESOURCES: Final = ("nodes", "pods")
TAINT_MUTANT: Final = "scheduler-ignores-taint-update"


class BindIssued(msgspec.Struct, frozen=True, kw_only=True):
    """An output: the scheduler posted a binding, with the node as its informer had it."""

    key: str
    node: str
    node_seen: bytes
    pod: bytes
    tainted: tuple[str, ...] = ()
    """The nodes whose informer view carries a taint when the binding is posted."""


def _key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    if obj.get("kind") == "Node" or "namespace" not in meta:
        return str(meta.get("name") or "")
    return f"{meta.get('namespace')}/{meta.get('name')}"


def _taints(raw: bytes) -> bool:
    node: Any = msgspec.json.decode(raw)
    return bool((node.get("spec") or {}).get("taints"))


def _without_taints(raw: bytes) -> bytes:
    node: Any = msgspec.json.decode(raw)
    (node.get("spec") or {}).pop("taints", None)
    return msgspec.json.encode(node)


class SchedulerPart:
    """The scheduler's half of the cluster engine."""

    def __init__(self, api: ApiEngine, mutant: str) -> None:
        self.api = api
        self.mutant = mutant
        self.config = SchedulerConfig({"default-scheduler": default_profile()})

    def boot(self) -> SchedulerSlot:
        return SchedulerSlot(machine=Box(init(self.config).state, ""))

    def slot(self, work: Work) -> SchedulerSlot:
        return work.state.scheduler

    def _set(self, work: Work, slot: SchedulerSlot) -> None:
        work.state = msgspec.structs.replace(work.state, scheduler=slot)

    def feed(self, work: Work, event: SchedulerEvent) -> None:
        slot = self.slot(work)
        step = on_event(self.config, slot.machine.state, event)
        self._set(
            work, msgspec.structs.replace(slot, machine=slot.machine.after(step.state, event))
        )
        for command in step.commands:
            self._carry_out(work, command)

    def _carry_out(self, work: Work, command: SchedulerCommand) -> None:
        match command:
            case Bind(key=key, node=node):
                namespace, name = key.split("/", 1)
                body = {
                    "apiVersion": "v1",
                    "kind": "Binding",
                    "metadata": {"name": name, "namespace": namespace},
                    "target": {"apiVersion": "v1", "kind": "Node", "name": node},
                }
                seen = self.slot(work).nodes_seen.get(node, b"")
                pod = self._pod_raw(work, key)
                tainted = tuple(
                    name for name, raw in sorted(self.slot(work).nodes_seen.items()) if _taints(raw)
                )
                issued = BindIssued(key=key, node=node, node_seen=seen, pod=pod, tainted=tainted)
                work.outputs.append((NAME, issued))
                request = ApiRequest(
                    method="POST",
                    path=f"/api/v1/namespaces/{namespace}/pods/{name}/binding",
                    content_type="application/json",
                    body=msgspec.json.encode(body),
                )
                self.api.send(
                    work, request, Caller(component=NAME, purpose="bind", text=f"{key}|{node}")
                )
            case Evict(key=key):
                namespace, name = key.split("/", 1)
                request = ApiRequest(
                    method="DELETE", path=f"/api/v1/namespaces/{namespace}/pods/{name}"
                )
                self.api.send(work, request, Caller(component=NAME, purpose="ignore"))
            case _:
                pass  # Nominate and ReportFailure only inform users

    def _pod_raw(self, work: Work, key: str) -> bytes:
        state = self.slot(work).machine.state
        for info in state.snapshot.in_order():
            for pod in info.pods:
                if pod.key == key:
                    return encode_json(pod.pod)
        return b""

    # Informers ----------------------------------------------------------------------------

    def start(self, work: Work) -> None:
        slot = self.slot(work)
        informers = slot.informers
        for resource in RESOURCES:
            informers = inf.start_list(self.api, work, informers, NAME, resource, (), 0)
            self._set(work, msgspec.structs.replace(self.slot(work), informers=informers))

    def inform(self, work: Work, resource: str) -> bool:
        slot = self.slot(work)
        informer = slot.informers.get(resource)
        if informer is None:
            return False
        if inf.needs_list(informer):
            informers = inf.start_list(self.api, work, slot.informers, NAME, resource, (), 0)
            self._set(work, msgspec.structs.replace(self.slot(work), informers=informers))
            return True
        taken = inf.take_lines(slot.informers, resource)
        if taken is None:
            return False
        self._set(work, msgspec.structs.replace(slot, informers=taken[0]))
        found, failed = inf.changes(taken[1])
        for kind, obj in found:
            self.change(work, resource, obj, deleted=kind == "DELETED")
        if failed:
            informers = inf.list_failed(self.slot(work).informers, resource)
            self._set(work, msgspec.structs.replace(self.slot(work), informers=informers))
        return True

    def change(self, work: Work, resource: str, obj: dict[str, Any], *, deleted: bool) -> None:
        key = _key(obj)
        raw = msgspec.json.encode(obj)
        slot = self.slot(work)
        if resource == "nodes":
            known = key in slot.nodes_seen
            seen = slot.nodes_seen.delete(key) if deleted and known else slot.nodes_seen
            if not deleted:
                seen = seen.set(key, raw)
            self._set(work, msgspec.structs.replace(slot, nodes_seen=seen))
            if deleted:
                if known:
                    self.feed(work, NodeDeleted(name=key))
                return
            if known and self.mutant == TAINT_MUTANT:
                raw = _without_taints(raw)
            change = Change(kind="node", name=key, raw=raw)
        else:
            if deleted:
                if _known_pod(slot, key):
                    self.feed(work, PodDeleted(key=key))
                return
            change = Change(kind="pod", name=key, raw=raw)
        for event in informer_events(self.slot(work).machine.state, change):
            self.feed(work, event)

    def answer(self, work: Work, caller: Caller, status: int, body: bytes) -> None:
        slot = self.slot(work)
        if caller.purpose == inf.LIST:
            found = inf.listed(body) if status == 200 else None
            if found is None:
                self._set(work, msgspec.structs.replace(
                    slot, informers=inf.list_failed(slot.informers, caller.resource)
                ))  # fmt: skip
                return
            items, revision = found
            self._relisted(work, caller.resource, items)
            informers = inf.start_watch(
                self.api, work, self.slot(work).informers, NAME, caller.resource, (), revision, 0
            )
            self._set(work, msgspec.structs.replace(self.slot(work), informers=informers))
        elif caller.purpose == inf.WATCH:
            informers = inf.watch_answer(slot.informers, caller, status, body)
            self._set(work, msgspec.structs.replace(slot, informers=informers))
        elif caller.purpose == "bind":
            key, node = caller.text.split("|", 1)
            if status == 201:
                self.feed(work, BindingSucceeded(key=key, node=node))
            else:
                self.feed(work, BindingFailed(key=key, node=node, reason=f"status {status}"))

    def _relisted(self, work: Work, resource: str, items: tuple[bytes, ...]) -> None:
        present: set[str] = set()
        for raw in items:
            obj = msgspec.json.decode(raw)
            present.add(_key(obj))
            self.change(work, resource, obj, deleted=False)
        slot = self.slot(work)
        if resource == "nodes":
            gone = sorted(set(slot.nodes_seen.keys()) - present)
            for name in gone:
                self.change(
                    work, resource, {"kind": "Node", "metadata": {"name": name}}, deleted=True
                )
            return
        for key in sorted(_pod_keys(slot) - present):
            namespace, name = key.split("/", 1)
            meta = {"namespace": namespace, "name": name}
            self.change(work, resource, {"kind": "Pod", "metadata": meta}, deleted=True)

    # Cycles and time ----------------------------------------------------------------------

    def can_cycle(self, slot: SchedulerSlot) -> bool:
        return bool(slot.machine.state.queue.active)

    def cycle(self, work: Work, draw: int) -> bool:
        if not self.can_cycle(self.slot(work)):
            return False
        self.feed(work, ScheduleNext(random=draw))
        return True

    def tick(self, work: Work) -> None:
        self.feed(work, Tick(now_ms=work.state.now_ms))


def _pod_keys(slot: SchedulerSlot) -> set[str]:
    state = slot.machine.state
    keys = {p.key for info in state.snapshot.in_order() for p in info.pods}
    keys |= set(state.assumed.keys())
    return keys | set(state.queue.queued_keys())


def _known_pod(slot: SchedulerSlot, key: str) -> bool:
    return key in _pod_keys(slot)
