"""kube-proxy in the cluster world: ``impl.proxy.machine`` (userspace mode, on the first node)
behind Service and EndpointSlice informers.

As ``serve proxy`` does: each informer change becomes a machine event (``ServiceUpserted``,
``EndpointSliceDeleted``, ...), a relist upserts every item and deletes what vanished, and once
both first lists are in (``InitialListsSynced``) every ``Advance`` is a sync (``SyncDue``).
The routes of the last sync's ``UserspaceTable`` are kept in the slot: what the proxy forwards
to, which the proxy property and the liveness condition judge.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from impl.proxy.machine import init, on_event
from models.controllers.resources import RESOURCES as API_RESOURCES
from models.k8s.base import decode_hook
from models.proxy.config import ProxyConfig
from models.proxy.events import (
    EndpointSliceDeleted,
    EndpointSliceUpserted,
    InitialListsSynced,
    ProxyEvent,
    ServiceDeleted,
    ServiceUpserted,
    SyncApplied,
    SyncDue,
    UserspaceTable,
)
from models.proxy.state import ProxyMachineConfig
from runner.cluster import world_informers as inf
from runner.cluster.world_api import ApiEngine, Work
from runner.cluster.world_state import START_SECONDS, Box, Caller, ProxySlot

NAME: Final = "proxy"
RESOURCES: Final = ("endpointslices", "services")
NODE_ADDRESS: Final = "10.1.0.1"


def _key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace') or 'default'}/{meta.get('name') or ''}"


class ProxyPart:
    """The proxy's half of the cluster engine."""

    def __init__(self, api: ApiEngine) -> None:
        self.api = api
        self.config = ProxyMachineConfig(
            proxy=ProxyConfig(node_name="kubelet-0", local_addresses=(NODE_ADDRESS,)),
            mode="userspace",
        )

    def boot(self) -> ProxySlot:
        return ProxySlot(machine=Box(init(self.config).state, ""))

    def _set(self, work: Work, slot: ProxySlot) -> None:
        work.state = msgspec.structs.replace(work.state, proxy=slot)

    def feed(self, work: Work, event: ProxyEvent) -> None:
        slot = work.state.proxy
        step = on_event(self.config, slot.machine.state, event)
        slot = msgspec.structs.replace(slot, machine=slot.machine.after(step.state, event))
        self._set(work, slot)
        for command in step.commands:
            if isinstance(command, UserspaceTable):
                self._set(work, msgspec.structs.replace(work.state.proxy, routes=command.routes))
        if step.commands:
            self.feed(work, SyncApplied(ok=True))

    def start(self, work: Work) -> None:
        for resource in RESOURCES:
            informers = inf.start_list(
                self.api, work, work.state.proxy.informers, NAME, resource, (), 0
            )
            self._set(work, msgspec.structs.replace(work.state.proxy, informers=informers))

    def tick(self, work: Work) -> None:
        if work.state.proxy.synced:
            now = START_SECONDS + work.state.now_ms / 1000
            self.feed(work, SyncDue(now_seconds=now))

    def inform(self, work: Work, resource: str) -> bool:
        slot = work.state.proxy
        informer = slot.informers.get(resource)
        if informer is None:
            return False
        if inf.needs_list(informer):
            informers = inf.start_list(self.api, work, slot.informers, NAME, resource, (), 0)
            self._set(work, msgspec.structs.replace(work.state.proxy, informers=informers))
            return True
        taken = inf.take_lines(slot.informers, resource)
        if taken is None:
            return False
        self._set(work, msgspec.structs.replace(slot, informers=taken[0]))
        found, failed = inf.changes(taken[1])
        for kind, obj in found:
            self._change(work, resource, obj, deleted=kind == "DELETED")
        if failed:
            informers = inf.list_failed(work.state.proxy.informers, resource)
            self._set(work, msgspec.structs.replace(work.state.proxy, informers=informers))
        return True

    def _change(self, work: Work, resource: str, obj: dict[str, Any], *, deleted: bool) -> None:
        key = _key(obj)
        namespace, name = key.split("/", 1)
        slot = work.state.proxy
        known = f"{resource}/{key}"
        seen = slot.seen - {known} if deleted else slot.seen | {known}
        self._set(work, msgspec.structs.replace(slot, seen=seen))
        model = API_RESOURCES[resource].model
        event: ProxyEvent
        if resource == "services":
            event = (
                ServiceDeleted(namespace=namespace, name=name)
                if deleted
                else ServiceUpserted(service=msgspec.convert(obj, model, dec_hook=decode_hook))
            )
        elif deleted:
            event = EndpointSliceDeleted(namespace=namespace, name=name)
        else:
            slice_ = msgspec.convert(obj, model, dec_hook=decode_hook)
            event = EndpointSliceUpserted(endpoint_slice=slice_)
        self.feed(work, event)

    def answer(self, work: Work, caller: Caller, status: int, body: bytes) -> None:
        slot = work.state.proxy
        if caller.purpose == inf.WATCH:
            informers = inf.watch_answer(slot.informers, caller, status, body)
            self._set(work, msgspec.structs.replace(slot, informers=informers))
            return
        if caller.purpose != inf.LIST:
            return
        found = inf.listed(body) if status == 200 else None
        if found is None:
            informers = inf.list_failed(slot.informers, caller.resource)
            self._set(work, msgspec.structs.replace(slot, informers=informers))
            return
        items, revision = found
        present: set[str] = set()
        for raw in items:
            obj = msgspec.json.decode(raw)
            present.add(f"{caller.resource}/{_key(obj)}")
            self._change(work, caller.resource, obj, deleted=False)
        for gone in sorted(k for k in work.state.proxy.seen if k.startswith(caller.resource + "/")):
            if gone not in present:
                namespace, name = gone.split("/", 1)[1].split("/", 1)
                meta = {"namespace": namespace, "name": name}
                self._change(work, caller.resource, {"metadata": meta}, deleted=True)
        slot = work.state.proxy
        listed = slot.listed | {caller.resource}
        informers = inf.start_watch(
            self.api, work, slot.informers, NAME, caller.resource, (), revision, 0
        )
        self._set(
            work, msgspec.structs.replace(work.state.proxy, informers=informers, listed=listed)
        )
        if not slot.synced and listed >= set(RESOURCES):
            self._set(work, msgspec.structs.replace(work.state.proxy, synced=True))
            self.feed(work, InitialListsSynced())
