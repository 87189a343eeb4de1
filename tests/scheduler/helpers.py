"""Builders for scheduler tests: Kubernetes-shaped dicts decoded by the real decoder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from returns.result import Success

from impl.scheduler.nodeinfo import Snapshot, build_snapshot, pod_info
from impl.scheduler.profile import Profile, build_profile
from impl.scheduler.schedule import ScheduleOutcome, outcome_report, schedule_one
from models.scheduling import Node, Pod
from models.scheduling_decode import decode_node, decode_pod

GI = 1024**3
MI = 1024**2


def node(
    name: str,
    *,
    cpu: str = "4",
    memory: str = "8Gi",
    pods: str = "110",
    labels: dict[str, str] | None = None,
    taints: list[dict[str, str]] | None = None,
    unschedulable: bool = False,
    images: list[dict[str, Any]] | None = None,
    extra: dict[str, str] | None = None,
) -> Node:
    """A Node as kubectl shows it."""
    allocatable = {"cpu": cpu, "memory": memory, "pods": pods, **(extra or {})}
    raw = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": {"taints": taints or [], "unschedulable": unschedulable},
        "status": {"allocatable": allocatable, "images": images or []},
    }
    result = decode_node(raw)
    assert isinstance(result, Success)
    decoded: Node = result.unwrap()
    return decoded


def pod(
    name: str,
    *,
    namespace: str = "default",
    cpu: str | None = None,
    memory: str | None = None,
    node_name: str = "",
    labels: dict[str, str] | None = None,
    priority: int | None = None,
    spec: dict[str, Any] | None = None,
    containers: list[dict[str, Any]] | None = None,
    status: dict[str, Any] | None = None,
    index: int = 0,
) -> Pod:
    """A Pod with one container requesting ``cpu``/``memory`` (or the given containers)."""
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    default_container = {"name": "c", "image": "app", "resources": {"requests": requests}}
    body: dict[str, Any] = {"containers": containers or [default_container], **(spec or {})}
    if node_name:
        body["nodeName"] = node_name
    if priority is not None:
        body["priority"] = priority
    raw = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": body,
        "status": status or {},
    }
    result = decode_pod(raw, index=index)
    assert isinstance(result, Success), result
    decoded: Pod = result.unwrap()
    return decoded


def snapshot(nodes: list[Node], pods: Sequence[Pod] = ()) -> Snapshot:
    """A snapshot of nodes and bound pods."""
    return build_snapshot(nodes, pods)


def run(
    nodes: list[Node],
    incoming: Pod,
    pods: Sequence[Pod] = (),
    profile: Profile | None = None,
) -> ScheduleOutcome:
    """Schedule ``incoming`` with the default profile (or ``profile``)."""
    return schedule_one(profile or build_profile(), snapshot(nodes, pods), pod_info(incoming))


def report(
    nodes: list[Node],
    incoming: Pod,
    pods: Sequence[Pod] = (),
    profile: Profile | None = None,
) -> dict[str, Any]:
    """The JSON report of scheduling ``incoming``."""
    return outcome_report(run(nodes, incoming, pods, profile))


def verdict(result: dict[str, Any], name: str) -> tuple[str, str, list[str]]:
    """(code, plugin, reasons) of one node."""
    entry = result["nodes"][name]["filter"]
    return entry["code"], entry["plugin"], entry["reasons"]


def scores(result: dict[str, Any], plugin: str) -> dict[str, tuple[int, int, int]]:
    """(raw, normalized, weighted) per node for one score plugin."""
    return {
        name: (s["raw"], s["normalized"], s["weighted"])
        for name, entry in result["nodes"].items()
        if (s := entry["scores"].get(plugin)) is not None
    }
