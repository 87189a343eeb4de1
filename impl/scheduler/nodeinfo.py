"""The scheduler's view of a node and of the cluster in one scheduling cycle.

``NodeInfo`` projects a Node (labels, taints, allocatable amounts with capacity as the
default, image sizes) and sums the pods assigned to it: exact requests, the scoring sums
(100m/200Mi defaults), used host ports, counts of pods with affinity. It is immutable; adding
or removing a pod gives a new one with ``generation`` increased, so results computed for one
generation stay valid for it (kube-scheduler's NodeInfo generation). Node order follows
kube-scheduler's node tree: nodes grouped by zone (region and zone labels), zones interleaved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final, final

import immutables
import msgspec

from impl.scheduler.podinfo import PodInfo
from models.k8s.core.node import Node, Taint
from models.scheduling.amounts import CPU, MEMORY, PODS, resource_amounts

ZONE_LABEL: Final = "topology.kubernetes.io/zone"
REGION_LABEL: Final = "topology.kubernetes.io/region"
EMPTY_AMOUNTS: Final[immutables.Map[str, int]] = immutables.Map()


@final
class NodeView(msgspec.Struct, frozen=True, kw_only=True):
    """What the plugins read of a Node object, interpreted once."""

    node: Node
    name: str
    labels: immutables.Map[str, str]
    unschedulable: bool
    taints: tuple[Taint, ...]
    allocatable: immutables.Map[str, int]
    image_sizes: immutables.Map[str, int]
    """Every name of every image in ``status.images``, with its size."""


def node_view(node: Node) -> NodeView:
    """Project a Node; allocatable defaults to capacity, as the API server defaults it."""
    status = node.node_status
    allocatable = status.allocatable if status.allocatable is not None else status.capacity
    sizes: dict[str, int] = {}
    for image in status.images or ():
        for name in image.names or ():
            sizes[name] = image.size_bytes or 0
    return NodeView(
        node=node,
        name=node.meta.name or "",
        labels=node.meta.label_map(),
        unschedulable=bool(node.node_spec.unschedulable),
        taints=node.node_spec.taints or (),
        allocatable=immutables.Map(resource_amounts((allocatable or {}).items())),
        image_sizes=immutables.Map(sizes),
    )


@final
class NodeInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A node with the aggregates of the pods assigned to it."""

    view: NodeView
    name: str
    generation: int = 0
    pods: tuple[PodInfo, ...] = ()
    requested: immutables.Map[str, int] = EMPTY_AMOUNTS
    non_zero_cpu: int = 0
    non_zero_memory: int = 0
    used_ports: frozenset[tuple[str, str, int]] = frozenset()
    pods_with_affinity: int = 0
    pods_with_required_anti_affinity: int = 0

    @property
    def labels(self) -> immutables.Map[str, str]:
        return self.view.labels

    def allocatable(self, resource: str) -> int:
        """Allocatable amount of a resource (0 when the node does not list it)."""
        return self.view.allocatable.get(resource, 0)

    def allowed_pod_number(self) -> int:
        """``allocatable.pods``."""
        return self.view.allocatable.get(PODS, 0)

    def with_pod(self, info: PodInfo, generation: int) -> NodeInfo:
        """This node after ``info`` is assigned to it (``NodeInfo.AddPod``)."""
        requested = self.requested
        for name, value in info.requests.items():
            requested = requested.set(name, requested.get(name, 0) + value)
        return NodeInfo(
            view=self.view,
            name=self.name,
            generation=generation,
            pods=(*self.pods, info),
            requested=requested,
            non_zero_cpu=self.non_zero_cpu + info.non_zero.get(CPU, 0),
            non_zero_memory=self.non_zero_memory + info.non_zero.get(MEMORY, 0),
            used_ports=self.used_ports.union(info.host_ports)
            if info.host_ports
            else self.used_ports,
            pods_with_affinity=self.pods_with_affinity + int(info.has_affinity),
            pods_with_required_anti_affinity=self.pods_with_required_anti_affinity
            + int(info.has_required_anti_affinity),
        )

    def without_pods(self, keys: frozenset[str], generation: int) -> NodeInfo:
        """This node with the pods named by ``namespace/name`` keys removed."""
        fresh = NodeInfo(view=self.view, name=self.name, generation=generation)
        for info in self.pods:
            if info.key not in keys:
                fresh = fresh.with_pod(info, generation)
        return fresh


def node_tree_order(views: Iterable[NodeView]) -> tuple[str, ...]:
    """``nodeTree.list()``: zones in order of first appearance, nodes within a zone in
    insertion order, taking one node from each zone in turn."""
    zones: dict[str, list[str]] = {}
    for view in views:
        region = view.labels.get(REGION_LABEL, "")
        zone = view.labels.get(ZONE_LABEL, "")
        zone_key = "" if not region and not zone else f"{region}:\x00:{zone}"
        zones.setdefault(zone_key, []).append(view.name)
    order: list[str] = []
    columns = list(zones.values())
    depth = max((len(column) for column in columns), default=0)
    for row in range(depth):
        for column in columns:
            if row < len(column):
                order.append(column[row])
    return tuple(order)


def image_spread(views: Iterable[NodeView]) -> immutables.Map[str, int]:
    """For each image name, how many nodes have it."""
    counts: dict[str, int] = {}
    for view in views:
        for name in view.image_sizes:
            counts[name] = counts.get(name, 0) + 1
    return immutables.Map(counts)


def assign_pods(views: Iterable[NodeView], pods: Iterable[PodInfo]) -> Mapping[str, NodeInfo]:
    """NodeInfos of nodes with the pods naming them (pods naming an unknown node are left
    out, as the scheduler cache keeps them apart until their node appears)."""
    infos = {view.name: NodeInfo(view=view, name=view.name) for view in views}
    for pod in pods:
        node = infos.get(pod.node_name)
        if node is not None:
            infos[pod.node_name] = node.with_pod(pod, 0)
    return infos
