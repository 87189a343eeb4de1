"""The simple default plugins: PrioritySort, NodeUnschedulable, NodeName, NodePorts,
TaintToleration, ImageLocality and DefaultBinder.

Reason strings and codes are kube-scheduler's (v1.30; the TaintToleration reason names the first
untolerated taint, as ``node(s) had untolerated taint {key: value}``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, final

from impl.scheduler.arithmetic import INTEGERS, default_normalize_score, image_locality_score
from impl.scheduler.framework import (
    PRE_FILTER_SKIP,
    PRE_FILTER_SUCCESS,
    SUCCESS,
    CycleContext,
    Plugin,
    PreFilterResult,
    Status,
    unresolvable,
    unschedulable,
)
from impl.scheduler.nodeinfo import NodeInfo, PodInfo
from models.scheduling import Taint, Toleration, tolerations_tolerate

REASON_UNSCHEDULABLE: Final = "node(s) were unschedulable"
REASON_NODE_NAME: Final = "node(s) didn't match the requested node name"
REASON_NODE_PORTS: Final = "node(s) didn't have free ports for the requested pod ports"
UNSCHEDULABLE_TAINT: Final = Taint(key="node.kubernetes.io/unschedulable", effect="NoSchedule")


@final
class PrioritySort(Plugin):
    """QueueSort: higher ``spec.priority`` first, then earlier arrival."""

    name = "PrioritySort"

    def less(self, left: PodInfo, right: PodInfo) -> bool:
        if left.pod.priority != right.pod.priority:
            return left.pod.priority > right.pod.priority
        return left.pod.creation_index < right.pod.creation_index


@final
class NodeUnschedulable(Plugin):
    """Filter: a cordoned node (``spec.unschedulable``) unless the pod tolerates
    ``node.kubernetes.io/unschedulable:NoSchedule``."""

    name = "NodeUnschedulable"

    def filter_memo_key(self, context: CycleContext) -> object | None:
        return ()

    def filter(self, context: CycleContext, node: NodeInfo) -> Status:
        if not node.node.unschedulable:
            return SUCCESS
        if tolerations_tolerate(context.pod.pod.tolerations, UNSCHEDULABLE_TAINT):
            return SUCCESS
        return unresolvable(REASON_UNSCHEDULABLE)


@final
class NodeName(Plugin):
    """Filter: ``spec.nodeName`` empty or equal to the node."""

    name = "NodeName"

    def filter_memo_key(self, context: CycleContext) -> object | None:
        return ()

    def filter(self, context: CycleContext, node: NodeInfo) -> Status:
        wanted = context.pod.pod.node_name
        if not wanted or wanted == node.name:
            return SUCCESS
        return unresolvable(REASON_NODE_NAME)


def port_conflicts(used: frozenset[tuple[str, str, int]], wanted: tuple[str, str, int]) -> bool:
    """``HostPortInfo.CheckConflict``: 0.0.0.0 on either side conflicts with every IP."""
    ip, protocol, port = wanted
    if ip == "0.0.0.0":
        return any(p == protocol and n == port for _, p, n in used)
    return (ip, protocol, port) in used or ("0.0.0.0", protocol, port) in used


@final
class NodePorts(Plugin):
    """PreFilter (Skip without host ports) and Filter: requested host ports must be free."""

    name = "NodePorts"

    def filter_memo_key(self, context: CycleContext) -> object | None:
        return ()

    def pre_filter(self, context: CycleContext) -> PreFilterResult:
        return PRE_FILTER_SUCCESS if context.pod.host_ports else PRE_FILTER_SKIP

    def filter(self, context: CycleContext, node: NodeInfo) -> Status:
        used = node.used_ports
        if any(port_conflicts(used, wanted) for wanted in context.pod.host_ports):
            return unschedulable(REASON_NODE_PORTS)
        return SUCCESS


def _schedule_blocking(taint: Taint) -> bool:
    return taint.effect in ("NoSchedule", "NoExecute")


@final
class TaintToleration(Plugin):
    """Filter on NoSchedule/NoExecute taints; Score counts untolerated PreferNoSchedule taints
    (fewer is better: normalized in reverse)."""

    name = "TaintToleration"

    def filter_memo_key(self, context: CycleContext) -> object | None:
        return ()

    def score_memo_key(self, context: CycleContext) -> object | None:
        return ()

    def filter(self, context: CycleContext, node: NodeInfo) -> Status:
        tolerations = context.pod.pod.tolerations
        for taint in node.node.taints:
            if _schedule_blocking(taint) and not tolerations_tolerate(tolerations, taint):
                return unresolvable(f"node(s) had untolerated taint {{{taint.key}: {taint.value}}}")
        return SUCCESS

    def pre_score(self, context: CycleContext, nodes: Sequence[NodeInfo]) -> Status:
        preferring: tuple[Toleration, ...] = tuple(
            toleration
            for toleration in context.pod.pod.tolerations
            if toleration.effect in ("", "PreferNoSchedule")
        )
        context.state[self.name] = preferring
        return SUCCESS

    def score(self, context: CycleContext, node: NodeInfo) -> int:
        tolerations = context.state[self.name]
        assert isinstance(tolerations, tuple)
        return sum(
            1
            for taint in node.node.taints
            if taint.effect == "PreferNoSchedule" and not tolerations_tolerate(tolerations, taint)
        )

    def normalize_score(
        self,
        context: CycleContext,
        nodes: Sequence[NodeInfo],
        scores: list[int],
    ) -> list[int]:
        return default_normalize_score(INTEGERS, scores, reverse=True)


def normalized_image_name(name: str) -> str:
    """Append ``:latest`` when the image names no tag after its last ``/``."""
    if name.rfind(":") <= name.rfind("/"):
        return f"{name}:latest"
    return name


@final
class ImageLocality(Plugin):
    """Score: favours nodes that already hold the pod's images, weighted by how widely each
    image is spread over the cluster."""

    name = "ImageLocality"

    def score_memo_key(self, context: CycleContext) -> object | None:
        # also reads how many nodes hold each image, and how many nodes there are
        return (context.snapshot.image_nodes, len(context.snapshot.infos))

    def score(self, context: CycleContext, node: NodeInfo) -> int:
        pod = context.pod.pod
        snapshot = context.snapshot
        total_nodes = len(snapshot.infos)
        sizes: dict[str, int] = {}
        for image in node.node.images:
            for image_name in image.names:
                sizes[image_name] = image.size_bytes
        image_sum = 0
        for container in (*pod.init_containers, *pod.containers):
            name = normalized_image_name(container.image)
            if name in sizes:
                spread = snapshot.image_nodes.get(name, 0) / total_nodes
                image_sum += int(float(sizes[name]) * spread)
        containers = len(pod.init_containers) + len(pod.containers)
        if containers == 0:
            return 0
        return image_locality_score(INTEGERS, image_sum, containers)


@final
class DefaultBinder(Plugin):
    """Bind: sets ``spec.nodeName`` (the binding itself is a command the caller carries out)."""

    name = "DefaultBinder"

    def implements(self, point: str) -> bool:
        return point == "bind"
