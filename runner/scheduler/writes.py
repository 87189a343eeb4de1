"""What kube-scheduler writes to the API server, as HTTP requests: the binding, the pod's
PodScheduled condition and nominated node (a strategic merge patch of ``pods/status``, sent
only when something changed, as ``updatePod`` does), the preemption of a victim (the
DisruptionTarget condition, then a delete), and the ``core/v1`` Events ``kubectl describe``
lists, with kube-scheduler's reasons and messages.

Events are recorded off the scheduling path, as client-go's broadcaster does: ``EventRecorder``
posts them from its own thread and connection, in order. They repeat as client-go's correlator
makes them repeat: the same reason and message on the
same pod again bump the first Event's ``count`` and ``lastTimestamp`` (a merge patch) instead of
creating a new one. The event source is the pod's ``schedulerName`` (kube-scheduler makes one
recorder per profile), so ``kubectl describe`` shows ``From: default-scheduler``.
"""

from __future__ import annotations

import datetime
import json
import queue
import threading
import time
from typing import Any, Final

import msgspec

from models.controllers.messages import ApiCall
from models.k8s.core.pod import Pod
from runner.served.rest import RestClient

STRATEGIC: Final = "application/strategic-merge-patch+json"
MERGE: Final = "application/merge-patch+json"
EVENT_CACHE_SIZE: Final = 4096
STOP_SECONDS: Final = 5.0
"""Events remembered for counting repeats (client-go's correlator keeps an LRU of 4096)."""


def rfc3339(unix_seconds: float, micro: bool = False) -> str:
    moment = datetime.datetime.fromtimestamp(unix_seconds, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


def _pod_path(namespace: str, name: str, subresource: str = "") -> str:
    path = f"/api/v1/namespaces/{namespace}/pods/{name}"
    return f"{path}/{subresource}" if subresource else path


def _json(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def error_message(status: int, body: bytes) -> str:
    """The message of a Kubernetes Status answer (or the raw text)."""
    try:
        decoded = msgspec.json.decode(body)
    except msgspec.DecodeError:
        decoded = None
    if isinstance(decoded, dict) and isinstance(decoded.get("message"), str):
        return str(decoded["message"])
    return body.decode("utf-8", "replace") or f"status {status}"


class Writer:
    """kube-scheduler's API writes but Events, on one REST client (the driver thread's)."""

    def __init__(self, rest: RestClient) -> None:
        self.rest = rest

    def bind(self, pod: Pod, node: str) -> tuple[int, str]:
        """POST ``pods/binding`` (the pod's UID as precondition); status and error message."""
        namespace, name = pod.meta.namespace or "default", pod.meta.name or ""
        body = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "namespace": namespace, "uid": pod.meta.uid},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
        call = ApiCall(
            method="POST",
            path=_pod_path(namespace, name, "binding"),
            content_type="application/json",
            body=_json(body),
        )
        status, answer = self.rest.send(call)
        return status, "" if status == 201 else error_message(status, answer)

    def scheduled_condition(
        self, pod: Pod, reason: str, message: str, nominated: str | None
    ) -> None:
        """Set PodScheduled=False (``reason``, ``message``) and, when ``nominated`` is not
        None, ``status.nominatedNodeName`` ("" clears it); nothing when both are as they are."""
        status = pod.pod_status
        current = next((c for c in status.conditions or () if c.type == "PodScheduled"), None)
        same = current is not None and (current.status, current.reason, current.message) == (
            "False",
            reason,
            message,
        )
        nomination_same = nominated is None or (status.nominated_node_name or "") == nominated
        if same and nomination_same:
            return
        patch: dict[str, Any] = {}
        if not same:
            now = rfc3339(time.time())
            moved = current is None or current.status != "False"
            transition = now if moved or current is None else current.last_transition_time
            patch["conditions"] = [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": reason,
                    "message": message,
                    "lastProbeTime": None,
                    "lastTransitionTime": transition if isinstance(transition, str) else now,
                }
            ]
        if not nomination_same:
            patch["nominatedNodeName"] = nominated or None
        self._patch_status(pod, patch)

    def preempt(self, victim: Pod, scheduler: str) -> int:
        """kube-scheduler's victim handling: DisruptionTarget, then delete; the delete's status."""
        condition = {
            "type": "DisruptionTarget",
            "status": "True",
            "reason": "PreemptionByScheduler",
            "message": f"{scheduler}: preempting to accommodate a higher priority pod",
            "lastTransitionTime": rfc3339(time.time()),
        }
        self._patch_status(victim, {"conditions": [condition]})
        namespace, name = victim.meta.namespace or "default", victim.meta.name or ""
        status, _ = self.rest.send(ApiCall(method="DELETE", path=_pod_path(namespace, name)))
        return status

    def _patch_status(self, pod: Pod, status: dict[str, Any]) -> None:
        namespace, name = pod.meta.namespace or "default", pod.meta.name or ""
        call = ApiCall(
            method="PATCH",
            path=_pod_path(namespace, name, "status"),
            content_type=STRATEGIC,
            body=_json({"status": status}),
        )
        self.rest.send(call)


class _Event(msgspec.Struct, frozen=True, kw_only=True):
    pod: Pod
    kind: str
    reason: str
    action: str
    message: str
    source: str


class EventRecorder:
    """Posts Events from its own thread, in the order they were recorded."""

    def __init__(self, rest: RestClient, instance: str) -> None:
        self.rest = rest
        self.instance = instance
        self.events: dict[tuple[str, str, str, str], tuple[str, int]] = {}
        self.queue: queue.Queue[_Event | None] = queue.Queue()
        self.thread = threading.Thread(target=self._run, daemon=True, name="event-recorder")

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """Post what is queued (for at most a few seconds), then stop."""
        self.queue.put(None)
        self.thread.join(timeout=STOP_SECONDS)
        self.rest.close()

    def record(
        self, pod: Pod, kind: str, reason: str, action: str, message: str, source: str = ""
    ) -> None:
        """Record an Event about ``pod`` (``kind``: Normal or Warning) from ``source`` (by
        default the pod's scheduler)."""
        source = source or pod.pod_spec.scheduler_name or "default-scheduler"
        self.queue.put(
            _Event(pod=pod, kind=kind, reason=reason, action=action, message=message, source=source)
        )

    def _run(self) -> None:
        while (item := self.queue.get()) is not None:
            self._post(item)

    def _post(self, item: _Event) -> None:
        pod, source, reason, message = item.pod, item.source, item.reason, item.message
        namespace, name = pod.meta.namespace or "default", pod.meta.name or ""
        now = time.time()
        key = (f"{namespace}/{name}/{pod.meta.uid or ''}", source, reason, message)
        seen = self.events.get(key)
        if seen is not None:
            event_name, count = seen
            patch = {"count": count + 1, "lastTimestamp": rfc3339(now)}
            call = ApiCall(
                method="PATCH",
                path=f"/api/v1/namespaces/{namespace}/events/{event_name}",
                content_type=MERGE,
                body=_json(patch),
            )
            if self.rest.send(call)[0] == 200:
                self.events[key] = (event_name, count + 1)
                return
            del self.events[key]
        event_name = f"{name}.{time.time_ns():x}"
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": event_name, "namespace": namespace},
            "involvedObject": {
                "apiVersion": "v1",
                "kind": "Pod",
                "namespace": namespace,
                "name": name,
                "uid": pod.meta.uid,
                "resourceVersion": pod.meta.resource_version,
            },
            "reason": reason,
            "message": message,
            "type": item.kind,
            "action": item.action,
            "source": {"component": source},
            "reportingComponent": source,
            "reportingInstance": f"{source}-{self.instance}",
            "firstTimestamp": rfc3339(now),
            "lastTimestamp": rfc3339(now),
            "eventTime": None,
            "count": 1,
        }
        call = ApiCall(
            method="POST",
            path=f"/api/v1/namespaces/{namespace}/events",
            content_type="application/json",
            body=_json(body),
        )
        if self.rest.send(call)[0] == 201:
            self.events[key] = (event_name, 1)
            while len(self.events) > EVENT_CACHE_SIZE:
                del self.events[next(iter(self.events))]
