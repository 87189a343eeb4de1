"""A stand-in for the scheduler and the kubelets until real ones run: it binds each new pod to
a node, marks it Running and Ready, and finishes the termination of pods being deleted.

It makes only the writes a real pair would make (``pods/binding``, ``pods/status``, and the
kubelet's final ``DELETE`` with grace period 0 and a UID precondition), so the controllers see
what they would see on a cluster. Which pods it acts on, and when, is the caller's choice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from models.apiserver.clock import rfc3339

Caller = Callable[[str, str, Any, str], Any]
"""``(method, path, body, content_type) -> answer`` with ``.status`` and ``.body``."""

NODE = "node-1"


def node_object(name: str = NODE) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "allocatable": {"cpu": "64", "memory": "256Gi", "pods": "5000"},
            "capacity": {"cpu": "64", "memory": "256Gi", "pods": "5000"},
        },
    }


def pending_work(pod: dict[str, Any], unready_images: frozenset[str] = frozenset()) -> str:
    """What the fixture would do next to ``pod``: bind, run, finish, or nothing (""). Pods
    with an image in ``unready_images`` are bound but never become ready (an image that cannot
    be pulled)."""
    metadata = pod.get("metadata", {})
    status = pod.get("status", {})
    if metadata.get("deletionTimestamp"):
        return "finish" if pod.get("spec", {}).get("nodeName") else ""
    if not pod.get("spec", {}).get("nodeName"):
        return "bind"
    if status.get("phase") in ("Succeeded", "Failed"):
        return ""  # a kubelet never runs a finished pod again
    images = {c.get("image") for c in pod.get("spec", {}).get("containers") or ()}
    if images & unready_images:
        return ""
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or ()
    )
    return "" if ready and status.get("phase") == "Running" else "run"


def _pod_path(pod: dict[str, Any], sub: str = "") -> str:
    metadata = pod["metadata"]
    path = f"/api/v1/namespaces/{metadata['namespace']}/pods/{metadata['name']}"
    return f"{path}/{sub}" if sub else path


def act(
    call: Caller,
    pod: dict[str, Any],
    now_seconds: int,
    index: int = 0,
    unready_images: frozenset[str] = frozenset(),
) -> str:
    """Take the next step for ``pod``; what it did."""
    work = pending_work(pod, unready_images)
    metadata = pod.get("metadata", {})
    if work == "bind":
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": metadata["name"], "uid": metadata.get("uid")},
            "target": {"apiVersion": "v1", "kind": "Node", "name": NODE},
        }
        call("POST", _pod_path(pod, "binding"), binding, "application/json")
    elif work == "run":
        now = rfc3339(now_seconds)
        status = {
            "phase": "Running",
            "podIP": f"10.244.{index // 250 % 250}.{index % 250 + 2}",
            "startTime": now,
            "conditions": [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
                {"type": "Initialized", "status": "True", "lastTransitionTime": now},
                {"type": "ContainersReady", "status": "True", "lastTransitionTime": now},
                {"type": "Ready", "status": "True", "lastTransitionTime": now},
            ],
        }
        call("PATCH", _pod_path(pod, "status"), {"status": status}, "application/merge-patch+json")
    elif work == "finish":
        options = {"gracePeriodSeconds": 0, "preconditions": {"uid": metadata.get("uid")}}
        call("DELETE", _pod_path(pod), options, "application/json")
    return work


def pods_needing_work(
    pods: Iterable[dict[str, Any]], unready_images: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    return [pod for pod in pods if pending_work(pod, unready_images)]


def decode(body: bytes) -> Any:
    return msgspec.json.decode(body) if body else None
