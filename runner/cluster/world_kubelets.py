"""Kubelets in the cluster world: ``impl.kubelet`` with the simulated runtime
(``runner.kubelet.pump``) behind a pod informer (``fieldSelector=spec.nodeName=<node>``) and a
node informer, writing through the API server as the real kubelet does
(``runner.kubelet.writes``: register, node status, Lease, pod status, final delete).

A node's clock is the world's plus its skew. A crashed node loses its kubelet and runtime (the
containers die with it); booted again, it starts from nothing, registers and lists. The world
keeps each pod the node's informer knows and when it learned of a deletion, which the
deleted-pod property judges the runtime against. The mutant ``kubelet-runs-deleted-pod``
never tells the kubelet that a pod is being deleted (``deletionTimestamp``) or gone.
"""

from __future__ import annotations

import json
from typing import Any, Final

import msgspec

from models.apiserver.messages import ApiRequest
from models.k8s.base import decode_hook
from models.k8s.codec import encode_json
from models.k8s.core.node import Node
from models.k8s.core.pod import Pod
from models.kubelet.config import KubeletConfig
from models.kubelet.events import (
    LEASE_NAMESPACE,
    ApiAnswered,
    DeletePod,
    Event,
    NodeObserved,
    PatchPodStatus,
    PodObserved,
    PodRemoved,
    RegisterNode,
    RenewLease,
    Tick,
    UpdateNodeStatus,
)
from runner.cluster import world_informers as inf
from runner.cluster.world_api import ApiEngine, Work
from runner.cluster.world_state import START_SECONDS, Box, Caller, KubeletSlot
from runner.kubelet import pump
from runner.kubelet.simulated import Runtime
from runner.kubelet.writes import STRATEGIC, status_patch

DELETED_MUTANT: Final = "kubelet-runs-deleted-pod"
LEASES: Final = f"/apis/coordination.k8s.io/v1/namespaces/{LEASE_NAMESPACE}/leases"


def node_name(index: int) -> str:
    return f"kubelet-{index}"


def index_of(component: str) -> int:
    return int(component.rsplit("-", 1)[1])


def node_ms(state_now_ms: int, slot: KubeletSlot) -> int:
    """The node's clock (epoch ms): the world's time plus its skew."""
    return START_SECONDS * 1000 + state_now_ms + slot.skew_ms


def running_uids(box: Box | None) -> frozenset[str]:
    """The pods whose containers the node's runtime runs."""
    if box is None:
        return frozenset()
    runtime: Runtime = box.state[1]
    return frozenset(instance.uid for instance in runtime.running)


class KubeletPart:
    """The kubelets' half of the cluster engine."""

    def __init__(self, api: ApiEngine, nodes: int, mutant: str) -> None:
        self.api = api
        self.mutant = mutant
        self.configs = tuple(
            KubeletConfig(node_name=node_name(i), boot_id=node_name(i), kubelet_port=0)
            for i in range(nodes)
        )

    def _set(self, work: Work, index: int, slot: KubeletSlot) -> None:
        kubelets = work.state.kubelets
        work.state = msgspec.structs.replace(
            work.state, kubelets=(*kubelets[:index], slot, *kubelets[index + 1 :])
        )

    def _queries(self, index: int, resource: str) -> tuple[tuple[str, str], ...]:
        if resource == "pods":
            return (("fieldSelector", f"spec.nodeName={node_name(index)}"),)
        return (("fieldSelector", f"metadata.name={node_name(index)}"),)

    def boot(self, work: Work, index: int) -> None:
        """(Re)start node ``index``: a fresh kubelet and runtime; its informers list."""
        slot = work.state.kubelets[index]
        config = msgspec.structs.replace(
            self.configs[index], boot_id=f"{node_name(index)}-{slot.boots + 1}"
        )
        booted = pump.boot(config, node_ms(work.state.now_ms, slot), index)
        slot = KubeletSlot(
            machine=Box((booted.state, booted.runtime), f"boot-{slot.boots + 1}"),
            skew_ms=slot.skew_ms,
            boots=slot.boots + 1,
        )
        self._set(work, index, slot)
        self._writes(work, index, booted.api)
        for resource in ("nodes", "pods"):
            slot = work.state.kubelets[index]
            informers = inf.start_list(
                self.api, work, slot.informers, node_name(index), resource,
                self._queries(index, resource), slot.boots,
            )  # fmt: skip
            self._set(
                work,
                index,
                msgspec.structs.replace(work.state.kubelets[index], informers=informers),
            )

    def crash(self, work: Work, index: int) -> None:
        slot = work.state.kubelets[index]
        self._set(work, index, KubeletSlot(machine=None, skew_ms=slot.skew_ms, boots=slot.boots))

    def feed(self, work: Work, index: int, event: Event) -> None:
        slot = work.state.kubelets[index]
        if slot.machine is None:
            return
        state, runtime = slot.machine.state
        pumped = pump.pump(self._config(index, slot), state, runtime, event)
        box = slot.machine.after((pumped.state, pumped.runtime), event)
        self._set(work, index, msgspec.structs.replace(slot, machine=box))
        self._writes(work, index, pumped.api)

    def _config(self, index: int, slot: KubeletSlot) -> KubeletConfig:
        return msgspec.structs.replace(
            self.configs[index], boot_id=f"{node_name(index)}-{slot.boots}"
        )

    def tick(self, work: Work, index: int) -> None:
        slot = work.state.kubelets[index]
        self.feed(work, index, Tick(now_ms=node_ms(work.state.now_ms, slot)))

    # Writes -------------------------------------------------------------------------------

    def _writes(self, work: Work, index: int, writes: tuple[pump.ApiCommand, ...]) -> None:
        for write in writes:
            self._write(work, index, write)

    def _write(self, work: Work, index: int, write: pump.ApiCommand) -> None:
        name = node_name(index)
        boots = work.state.kubelets[index].boots
        caller = Caller(component=name, purpose="kubelet", incarnation=boots)
        match write:
            case RegisterNode():
                request = _json("POST", "/api/v1/nodes", encode_json(write.node))
                self.api.send(work, request, msgspec.structs.replace(caller, text="register"))
            case UpdateNodeStatus():
                body = status_patch("status", encode_json(write.status))
                request = _patch(f"/api/v1/nodes/{write.name}/status", body)
                self.api.send(work, request, msgspec.structs.replace(caller, text="status"))
            case RenewLease():
                lease_name = (write.lease.metadata.name if write.lease.metadata else "") or name
                request = _json("PUT", f"{LEASES}/{lease_name}", encode_json(write.lease))
                self.api.send(work, request, msgspec.structs.replace(
                    caller, text="lease", resource=encode_json(write.lease).decode()
                ))  # fmt: skip
            case PatchPodStatus():
                body = status_patch("status", encode_json(write.status), write.uid)
                path = f"/api/v1/namespaces/{write.namespace}/pods/{write.name}/status"
                self.api.send(work, _patch(path, body), caller)
            case DeletePod():
                options = {
                    "kind": "DeleteOptions",
                    "apiVersion": "v1",
                    "gracePeriodSeconds": 0,
                    "preconditions": {"uid": write.uid},
                }
                path = f"/api/v1/namespaces/{write.namespace}/pods/{write.name}"
                request = _json("DELETE", path, json.dumps(options).encode())
                self.api.send(work, request, caller)

    # Answers and informers ----------------------------------------------------------------

    def answer(self, work: Work, caller: Caller, status: int, body: bytes) -> None:
        index = index_of(caller.component)
        slot = work.state.kubelets[index]
        if slot.machine is None or caller.incarnation != slot.boots:
            return  # the process that asked is gone
        if caller.purpose == inf.LIST:
            self._listed(work, index, caller, status, body)
        elif caller.purpose == inf.WATCH:
            informers = inf.watch_answer(slot.informers, caller, status, body)
            self._set(work, index, msgspec.structs.replace(slot, informers=informers))
        elif caller.text == "lease" and status == 404 and caller.resource:
            request = _json("POST", LEASES, caller.resource.encode())
            self.api.send(work, request, msgspec.structs.replace(caller, resource=""))
        elif caller.text in ("register", "status", "lease"):
            code = 201 if caller.text == "register" and status == 409 else status
            self.feed(work, index, ApiAnswered(request=caller.text, code=code))  # type: ignore[arg-type]

    def _listed(self, work: Work, index: int, caller: Caller, status: int, body: bytes) -> None:
        slot = work.state.kubelets[index]
        found = inf.listed(body) if status == 200 else None
        if found is None:
            informers = inf.list_failed(slot.informers, caller.resource)
            self._set(work, index, msgspec.structs.replace(slot, informers=informers))
            return
        items, revision = found
        present: set[str] = set()
        for raw in items:
            obj = msgspec.json.decode(raw)
            present.add(str((obj.get("metadata") or {}).get("uid") or ""))
            self._change(work, index, caller.resource, obj, deleted=False)
        if caller.resource == "pods":
            for uid in sorted(set(work.state.kubelets[index].known.keys()) - present):
                meta = {"uid": uid}
                self._change(work, index, "pods", {"metadata": meta}, deleted=True)
        slot = work.state.kubelets[index]
        informers = inf.start_watch(
            self.api, work, slot.informers, node_name(index), caller.resource,
            self._queries(index, caller.resource), revision, slot.boots,
        )  # fmt: skip
        self._set(
            work, index, msgspec.structs.replace(work.state.kubelets[index], informers=informers)
        )

    def inform(self, work: Work, index: int, resource: str) -> bool:
        slot = work.state.kubelets[index]
        informer = slot.informers.get(resource)
        if slot.machine is None or informer is None:
            return False
        if inf.needs_list(informer):
            informers = inf.start_list(
                self.api, work, slot.informers, node_name(index), resource,
                self._queries(index, resource), slot.boots,
            )  # fmt: skip
            self._set(
                work,
                index,
                msgspec.structs.replace(work.state.kubelets[index], informers=informers),
            )
            return True
        taken = inf.take_lines(slot.informers, resource)
        if taken is None:
            return False
        self._set(work, index, msgspec.structs.replace(slot, informers=taken[0]))
        found, failed = inf.changes(taken[1])
        for kind, obj in found:
            self._change(work, index, resource, obj, deleted=kind == "DELETED")
        if failed:
            informers = inf.list_failed(work.state.kubelets[index].informers, resource)
            self._set(
                work,
                index,
                msgspec.structs.replace(work.state.kubelets[index], informers=informers),
            )
        return True

    def _change(
        self, work: Work, index: int, resource: str, obj: dict[str, Any], *, deleted: bool
    ) -> None:
        if resource == "nodes":
            node = None if deleted else msgspec.convert(obj, Node, dec_hook=decode_hook)
            self.feed(work, index, NodeObserved(node=node))
            return
        uid = str((obj.get("metadata") or {}).get("uid") or "")
        slot = work.state.kubelets[index]
        if deleted:
            if uid not in slot.known:
                return
            slot = msgspec.structs.replace(
                slot,
                known=slot.known.delete(uid),
                deleted_ms=slot.deleted_ms.set(uid, work.state.now_ms + slot.skew_ms),
            )
            self._set(work, index, slot)
            if self.mutant != DELETED_MUTANT:
                self.feed(work, index, PodRemoved(uid=uid))
            return
        meta = obj.get("metadata") or {}
        terminating = slot.terminating
        if meta.get("deletionTimestamp") and uid not in terminating:
            grace = int(meta.get("deletionGracePeriodSeconds") or 0)
            terminating = terminating.set(uid, (work.state.now_ms + slot.skew_ms, grace))
        self._set(work, index, msgspec.structs.replace(
            slot, known=slot.known.set(uid, msgspec.json.encode(obj)), terminating=terminating
        ))  # fmt: skip
        if self.mutant == DELETED_MUTANT:
            meta = dict(obj.get("metadata") or {})
            meta.pop("deletionTimestamp", None)
            meta.pop("deletionGracePeriodSeconds", None)
            obj = {**obj, "metadata": meta}
        self.feed(work, index, PodObserved(pod=msgspec.convert(obj, Pod, dec_hook=decode_hook)))


def _json(method: str, path: str, body: bytes) -> ApiRequest:
    return ApiRequest(method=method, path=path, content_type="application/json", body=body)


def _patch(path: str, body: bytes) -> ApiRequest:
    return ApiRequest(method="PATCH", path=path, content_type=STRATEGIC, body=body)
