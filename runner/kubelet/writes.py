"""The kubelet's API writes as HTTP calls, as the real kubelet makes them.

- ``RegisterNode``: POST the Node (409 AlreadyExists counts as registered).
- ``RenewLease``: PUT the node's Lease with the resourceVersion of the last one written (the
  node lease controller keeps its own copy); on 404 it is created, on 409 it is read again and
  the PUT retried once.
- ``UpdateNodeStatus``: strategic-merge PATCH of ``nodes/<name>/status``.
- ``PatchPodStatus``: strategic-merge PATCH of ``pods/<name>/status`` with the pod's UID as a
  precondition (conditions merge by type).
- ``DeletePod``: DELETE with ``gracePeriodSeconds: 0`` and a UID precondition.
- ``RecordedEvent`` (``impl.kubelet.recorder``): POST a core/v1 Event named
  ``<pod>.<hex nanoseconds>`` with source ``kubelet`` on the node, stamped with the wall
  clock when it is posted; an event equal to one this
  writer posted before (same pod, container, reason and message) is PATCHed instead with
  ``count + 1`` and a new ``lastTimestamp``, as client-go's event correlator aggregates them.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from typing import Final

import msgspec

from models.apiserver.clock import rfc3339
from models.controllers.messages import ApiCall
from models.k8s.codec import encode_json
from models.k8s.meta import ObjectMeta
from models.kubelet.events import (
    LEASE_NAMESPACE,
    ApiRequest,
    DeletePod,
    PatchPodStatus,
    RegisterNode,
    RenewLease,
    UpdateNodeStatus,
)
from models.kubelet.recorded import RecordedEvent
from runner.served.rest import RestClient

STRATEGIC: Final = "application/strategic-merge-patch+json"
LEASES: Final = f"/apis/coordination.k8s.io/v1/namespaces/{LEASE_NAMESPACE}/leases"

Write = RegisterNode | UpdateNodeStatus | RenewLease | PatchPodStatus | DeletePod | RecordedEvent
EVENT_CACHE_SIZE: Final = 4096
"""Events remembered for aggregation (client-go's correlator keeps an LRU of 4096)."""


def _patch(path: str, body: bytes) -> ApiCall:
    return ApiCall(method="PATCH", path=path, content_type=STRATEGIC, body=body)


def status_patch(field: str, encoded: bytes, uid: str = "") -> bytes:
    """``{"metadata": {"uid": uid}, field: value}``; a condition without a reason or message
    says ``null`` for it, so the merge by type drops the one an earlier status had."""
    value = json.loads(encoded)
    for condition in value.get("conditions") or ():
        for key in ("reason", "message"):
            condition.setdefault(key, None)
    body: dict[str, object] = {field: value}
    if uid:
        body["metadata"] = {"uid": uid}
    return json.dumps(body, sort_keys=True).encode()


class _Retrying:
    """A client that sends a call once more when no answer came (a kept-alive connection the
    server had closed)."""

    def __init__(self, client: RestClient) -> None:
        self.client = client

    def send(self, call: ApiCall) -> tuple[int, bytes]:
        answer = self.client.send(call)
        return self.client.send(call) if answer[0] == 0 else answer

    def close(self) -> None:
        self.client.close()


class Writer:
    """Carries out one node's writes, in order, on one connection."""

    def __init__(self, client: RestClient) -> None:
        self.client = _Retrying(client)
        self.lease_versions: dict[str, str] = {}
        self.events: OrderedDict[tuple[str, ...], tuple[str, int]] = OrderedDict()

    def write(self, command: Write) -> tuple[ApiRequest | None, int]:
        """The request kind the kubelet waits on (None for pod writes) and the HTTP code."""
        match command:
            case RegisterNode():
                call = ApiCall(method="POST", path="/api/v1/nodes", body=encode_json(command.node))
                return "register", self.client.send(call)[0]
            case UpdateNodeStatus():
                path = f"/api/v1/nodes/{command.name}/status"
                return "status", self.client.send(
                    _patch(path, status_patch("status", encode_json(command.status)))
                )[0]
            case RenewLease():
                return "lease", self._lease(command)
            case PatchPodStatus():
                path = f"/api/v1/namespaces/{command.namespace}/pods/{command.name}/status"
                body = status_patch("status", encode_json(command.status), command.uid)
                return None, self.client.send(_patch(path, body))[0]
            case DeletePod():
                path = f"/api/v1/namespaces/{command.namespace}/pods/{command.name}"
                options = {
                    "kind": "DeleteOptions",
                    "apiVersion": "v1",
                    "gracePeriodSeconds": 0,
                    "preconditions": {"uid": command.uid},
                }
                call = ApiCall(method="DELETE", path=path, body=json.dumps(options).encode())
                return None, self.client.send(call)[0]
            case RecordedEvent():
                return None, self._event(command)

    def _event(self, event: RecordedEvent) -> int:
        now = rfc3339(int(time.time()))
        events = f"/api/v1/namespaces/{event.namespace}/events"
        key = (event.node, event.uid, event.field_path, event.reason, event.message)
        known = self.events.get(key)
        if known is not None:
            name, count = known
            patch = json.dumps({"count": count + 1, "lastTimestamp": now}).encode()
            call = ApiCall(
                method="PATCH",
                path=f"{events}/{name}",
                content_type="application/merge-patch+json",
                body=patch,
            )
            code = self.client.send(call)[0]
            if code == 200:
                self.events[key] = (name, count + 1)
                self.events.move_to_end(key)
                return code
            del self.events[key]
        name = f"{event.name}.{time.time_ns():x}"
        involved = {"apiVersion": "v1", "kind": event.kind, "name": event.name, "uid": event.uid}
        if event.kind == "Pod":
            involved["namespace"] = event.namespace
        if event.field_path:
            involved["fieldPath"] = event.field_path
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": event.namespace},
            "involvedObject": involved,
            "reason": event.reason,
            "message": event.message,
            "type": event.type,
            "source": {"component": "kubelet", "host": event.node},
            "reportingComponent": "kubelet",
            "reportingInstance": event.node,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        call = ApiCall(method="POST", path=events, body=json.dumps(body).encode())
        code = self.client.send(call)[0]
        if code == 201:
            self.events[key] = (name, 1)
            while len(self.events) > EVENT_CACHE_SIZE:
                self.events.popitem(last=False)
        return code

    def _lease(self, command: RenewLease) -> int:
        meta = command.lease.metadata or ObjectMeta()
        name = meta.name or ""
        for _ in range(2):
            version = self.lease_versions.get(name)
            if version is None:
                code, body = self.client.send(ApiCall(method="GET", path=f"{LEASES}/{name}"))
                if code == 404:
                    return self._store(
                        name,
                        self.client.send(
                            ApiCall(method="POST", path=LEASES, body=encode_json(command.lease))
                        ),
                    )
                if code != 200:
                    return code
                version = str((json.loads(body).get("metadata") or {}).get("resourceVersion") or "")
            lease = msgspec.structs.replace(
                command.lease, metadata=msgspec.structs.replace(meta, resource_version=version)
            )
            code = self._store(
                name,
                self.client.send(
                    ApiCall(method="PUT", path=f"{LEASES}/{name}", body=encode_json(lease))
                ),
            )
            if code not in (404, 409):
                return code
            self.lease_versions.pop(name, None)
            if code == 404:
                return self._store(
                    name,
                    self.client.send(
                        ApiCall(method="POST", path=LEASES, body=encode_json(command.lease))
                    ),
                )
        return 409

    def _store(self, name: str, answer: tuple[int, bytes]) -> int:
        code, body = answer
        if code in (200, 201):
            try:
                version = (json.loads(body).get("metadata") or {}).get("resourceVersion")
            except ValueError:
                version = None
            if isinstance(version, str):
                self.lease_versions[name] = version
        return code
