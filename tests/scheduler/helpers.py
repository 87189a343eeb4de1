"""Builders for scheduler tests: Kubernetes-shaped dicts decoded by the real object model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from returns.result import Success

from impl.scheduler.features import DEFAULT_FEATURES, SchedulerFeatures
from impl.scheduler.podinfo import pod_info
from impl.scheduler.profile import Profile, build_profiles, default_profile
from impl.scheduler.schedule import ScheduleOutcome, outcome_report, schedule_one
from impl.scheduler.snapshot import Snapshot, build_snapshot
from models.feature_gates import DEFAULT_GATES
from models.k8s.codec import decode_data
from models.k8s.core.node import Node
from models.k8s.core.pod import Pod
from models.scheduler_config import decode_configuration
from models.scheduling.cluster import SCHEDULER_KINDS, ClusterState, cluster_state

GI = 1024**3
MI = 1024**2


def decode(raw: dict[str, Any]) -> object:
    """One object through the strict decoder."""
    result = decode_data(raw, SCHEDULER_KINDS)
    assert isinstance(result, Success), result
    return result.unwrap()


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
    decoded = decode(raw)
    assert isinstance(decoded, Node)
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
    metadata: dict[str, Any] | None = None,
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
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels or {},
            **(metadata or {}),
        },
        "spec": body,
        "status": status or {},
    }
    decoded = decode(raw)
    assert isinstance(decoded, Pod)
    return decoded


def cluster(objects: Sequence[object]) -> ClusterState:
    """A cluster state of decoded objects."""
    result = cluster_state((f"object {i}", item) for i, item in enumerate(objects))
    assert isinstance(result, Success), result
    state: ClusterState = result.unwrap()
    return state


def snapshot(
    objects: Sequence[object],
    pods: Sequence[Pod] = (),
    features: SchedulerFeatures = DEFAULT_FEATURES,
) -> Snapshot:
    """A snapshot of nodes and the pods bound to them (and any other objects given)."""
    return build_snapshot(cluster([*objects, *pods]), features)


def run(
    nodes: Sequence[Node],
    incoming: Pod,
    pods: Sequence[Pod] = (),
    profile: Profile | None = None,
) -> ScheduleOutcome:
    """Schedule ``incoming`` with the default profile (or ``profile``)."""
    chosen = profile or default_profile()
    outcome, _ = schedule_one(
        chosen, snapshot(nodes, pods, chosen.features), pod_info(incoming, chosen.features)
    )
    return outcome


def report(
    nodes: Sequence[Node],
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


def profiles(*raw: dict[str, Any], features: SchedulerFeatures = DEFAULT_FEATURES) -> list[Profile]:
    """Profiles of a KubeSchedulerConfiguration with these ``profiles`` entries."""
    config = decode_configuration(
        {
            "apiVersion": "kubescheduler.config.k8s.io/v1",
            "kind": "KubeSchedulerConfiguration",
            "profiles": list(raw),
        }
    )
    assert isinstance(config, Success), config
    built = build_profiles(config.unwrap(), DEFAULT_GATES, features)
    assert isinstance(built, Success), built
    return list(built.unwrap().values())


def profile_with(plugin_config: list[dict[str, Any]]) -> Profile:
    """The default profile with a pluginConfig."""
    return profiles({"schedulerName": "default-scheduler", "pluginConfig": plugin_config})[0]
