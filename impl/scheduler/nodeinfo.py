"""Per-pod and per-node aggregates the plugins read, and the cluster snapshot of one cycle.

``PodInfo`` holds a pod's requests computed once (``resourcehelper.PodRequests``: regular
containers and sidecars summed, each init container taken alone, the maximum of the two, plus
overhead), with and without the scoring defaults (100m cpu, 200Mi memory for a container that
omits the key). ``NodeInfo`` holds the sums over the pods on a node, the used host ports and
counts of pods with affinity; binding a pod replaces one ``NodeInfo`` (``with_pod``), so
the snapshot updates incrementally. Node order follows kube-scheduler's node tree: nodes grouped
by zone (region and zone labels), zones interleaved round-robin.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final, final

import immutables
import msgspec

from models.scheduling import (
    CPU,
    EMPTY_AMOUNTS,
    EPHEMERAL_STORAGE,
    MEMORY,
    PODS,
    AmountMap,
    Container,
    DisruptionBudget,
    Namespace,
    Node,
    Pod,
    Selecting,
)

DEFAULT_MILLI_CPU_REQUEST: Final = 100
DEFAULT_MEMORY_REQUEST: Final = 200 * 1024 * 1024
ZONE_LABEL: Final = "topology.kubernetes.io/zone"
REGION_LABEL: Final = "topology.kubernetes.io/region"


def is_scalar_resource(name: str) -> bool:
    """``IsScalarResourceName``: extended (domain-prefixed), hugepages-*, attachable-volumes-*
    and ``kubernetes.io/`` prefixed resources."""
    if name.startswith(("hugepages-", "attachable-volumes-")):
        return True
    return "/" in name and not name.startswith("requests.")


def is_extended_resource(name: str) -> bool:
    """``IsExtendedResourceName``: domain-prefixed and not in the ``kubernetes.io`` domain."""
    return "/" in name and "kubernetes.io/" not in name and not name.startswith("requests.")


def _counted(name: str) -> bool:
    return name in (CPU, MEMORY, EPHEMERAL_STORAGE) or is_scalar_resource(name)


def _container_requests(container: Container, defaults: bool) -> dict[str, int]:
    requests = {name: value for name, value in container.requests.items() if _counted(name)}
    if defaults:
        requests.setdefault(CPU, DEFAULT_MILLI_CPU_REQUEST)
        requests.setdefault(MEMORY, DEFAULT_MEMORY_REQUEST)
    return requests


def _add(into: dict[str, int], more: Mapping[str, int]) -> None:
    for name, value in more.items():
        into[name] = into.get(name, 0) + value


def pod_requests(pod: Pod, *, defaults: bool) -> dict[str, int]:
    """``resourcehelper.PodRequests``; ``defaults`` applies the non-missing container requests
    the scoring plugins use."""
    requests: dict[str, int] = {}
    for container in pod.containers:
        _add(requests, _container_requests(container, defaults))
    sidecars: dict[str, int] = {}
    init_peak: dict[str, int] = {}
    for container in pod.init_containers:
        own = _container_requests(container, defaults)
        if container.restartable:
            _add(requests, own)
            _add(sidecars, own)
            during = dict(sidecars)
        else:
            during = dict(own)
            _add(during, sidecars)
        for name, value in during.items():
            init_peak[name] = max(init_peak.get(name, 0), value)
    for name, value in init_peak.items():
        requests[name] = max(requests.get(name, 0), value)
    _add(requests, {name: value for name, value in pod.overhead.items() if _counted(name)})
    return requests


def _has_affinity(pod: Pod) -> bool:
    return pod.pod_affinity is not None or pod.pod_anti_affinity is not None


@final
class PodInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A pod with its requests precomputed."""

    pod: Pod
    requests: AmountMap
    """Exact requests: cpu (millicores), memory, ephemeral-storage and scalar resources."""
    non_zero_cpu: int
    non_zero_memory: int
    host_ports: tuple[tuple[str, str, int], ...]
    """``(hostIP, protocol, hostPort)`` of regular containers with hostPort > 0, sanitized."""
    has_affinity: bool
    has_required_anti_affinity: bool


def pod_info(pod: Pod) -> PodInfo:
    """Precompute a pod's requests, ports and affinity flags."""
    exact = pod_requests(pod, defaults=False)
    non_zero = pod_requests(pod, defaults=True)
    ports = tuple(
        (port.host_ip or "0.0.0.0", port.protocol or "TCP", port.host_port)
        for container in pod.containers
        for port in container.ports
        if port.host_port > 0
    )
    anti = pod.pod_anti_affinity
    return PodInfo(
        pod=pod,
        requests=immutables.Map({k: v for k, v in exact.items() if v != 0}),
        non_zero_cpu=non_zero.get(CPU, 0),
        non_zero_memory=non_zero.get(MEMORY, 0),
        host_ports=ports,
        has_affinity=_has_affinity(pod),
        has_required_anti_affinity=anti is not None and bool(anti.required),
    )


@final
class NodeInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A node with the aggregates of the pods assigned to it."""

    node: Node
    name: str
    """The node's name (a field: it is read in every loop)."""
    pods: tuple[PodInfo, ...] = ()
    requested: AmountMap = EMPTY_AMOUNTS
    non_zero_cpu: int = 0
    non_zero_memory: int = 0
    used_ports: frozenset[tuple[str, str, int]] = frozenset()
    pods_with_affinity: int = 0
    pods_with_required_anti_affinity: int = 0

    def allocatable(self, resource: str) -> int:
        """Allocatable amount of a resource (0 when the node does not list it)."""
        return self.node.allocatable.get(resource, 0)

    def with_pod(self, info: PodInfo) -> NodeInfo:
        """This node after ``info`` is assigned to it (``NodeInfo.AddPod``)."""
        requested = self.requested
        for name, value in info.requests.items():
            requested = requested.set(name, requested.get(name, 0) + value)
        return NodeInfo(
            node=self.node,
            name=self.name,
            pods=(*self.pods, info),
            requested=requested,
            non_zero_cpu=self.non_zero_cpu + info.non_zero_cpu,
            non_zero_memory=self.non_zero_memory + info.non_zero_memory,
            used_ports=self.used_ports.union(info.host_ports)
            if info.host_ports
            else self.used_ports,
            pods_with_affinity=self.pods_with_affinity + int(info.has_affinity),
            pods_with_required_anti_affinity=self.pods_with_required_anti_affinity
            + int(info.has_required_anti_affinity),
        )

    def without_pods(self, keys: frozenset[str]) -> NodeInfo:
        """This node with the pods named by ``namespace/name`` keys removed."""
        fresh = NodeInfo(node=self.node, name=self.name)
        for info in self.pods:
            if info.pod.key not in keys:
                fresh = fresh.with_pod(info)
        return fresh

    def allowed_pod_number(self) -> int:
        """``allocatable.pods``."""
        return self.node.allocatable.get(PODS, 0)


def node_tree_order(nodes: Iterable[Node]) -> tuple[str, ...]:
    """kube-scheduler's ``nodeTree.list()``: zones in order of first appearance, nodes within a
    zone in insertion order, taking one node from each zone in turn."""
    zones: dict[str, list[str]] = {}
    for node in nodes:
        region = node.labels.get(REGION_LABEL, "")
        zone = node.labels.get(ZONE_LABEL, "")
        zone_key = "" if not region and not zone else f"{region}:\x00:{zone}"
        zones.setdefault(zone_key, []).append(node.name)
    order: list[str] = []
    columns = list(zones.values())
    depth = max((len(column) for column in columns), default=0)
    for row in range(depth):
        for column in columns:
            if row < len(column):
                order.append(column[row])
    return tuple(order)


@final
class Snapshot(msgspec.Struct, frozen=True, kw_only=True):
    """The cluster as one scheduling cycle sees it: nodes in node-tree order, their positions,
    image spread, namespaces, and which nodes hold pods with (anti-)affinity."""

    infos: tuple[NodeInfo, ...]
    positions: immutables.Map[str, int]
    image_nodes: immutables.Map[str, int]
    """For each image name, the number of nodes that have it."""
    namespaces: tuple[Namespace, ...] = ()
    affinity_nodes: frozenset[str] = frozenset()
    """Nodes holding a pod with pod affinity or anti-affinity."""
    anti_affinity_nodes: frozenset[str] = frozenset()
    """Nodes holding a pod with required anti-affinity."""
    selecting: tuple[Selecting, ...] = ()
    """Services and workload controllers, for default topology spread constraints."""
    nominated: tuple[PodInfo, ...] = ()
    """Pending pods nominated to a node by an earlier preemption (``status.nominatedNodeName``)."""
    budgets: tuple[DisruptionBudget, ...] = ()
    """PodDisruptionBudgets, for preemption."""

    def in_order(self) -> tuple[NodeInfo, ...]:
        """Every node in node-tree order."""
        return self.infos

    def node(self, name: str) -> NodeInfo:
        """One node by name."""
        return self.infos[self.positions[name]]

    def with_node(self, info: NodeInfo) -> Snapshot:
        """The snapshot with one node's aggregates replaced."""
        index = self.positions[info.name]
        affinity = self.affinity_nodes
        if (info.name in affinity) != (info.pods_with_affinity > 0):
            affinity = affinity ^ {info.name}
        anti = self.anti_affinity_nodes
        if (info.name in anti) != (info.pods_with_required_anti_affinity > 0):
            anti = anti ^ {info.name}
        return Snapshot(
            infos=(*self.infos[:index], info, *self.infos[index + 1 :]),
            positions=self.positions,
            image_nodes=self.image_nodes,
            namespaces=self.namespaces,
            affinity_nodes=affinity,
            anti_affinity_nodes=anti,
            selecting=self.selecting,
            nominated=self.nominated,
            budgets=self.budgets,
        )

    def with_nominated(self, nominated: tuple[PodInfo, ...]) -> Snapshot:
        """The snapshot with another set of nominated pods."""
        return msgspec.structs.replace(self, nominated=nominated)

    def with_affinity(self) -> tuple[NodeInfo, ...]:
        """Nodes holding pods with affinity, in node-tree order."""
        return tuple(self.infos[i] for i in sorted(self.positions[n] for n in self.affinity_nodes))

    def with_required_anti_affinity(self) -> tuple[NodeInfo, ...]:
        """Nodes holding pods with required anti-affinity, in node-tree order."""
        names = self.anti_affinity_nodes
        return tuple(self.infos[i] for i in sorted(self.positions[n] for n in names))


def build_snapshot(
    nodes: Iterable[Node],
    pods: Iterable[Pod],
    namespaces: tuple[Namespace, ...] = (),
    selecting: tuple[Selecting, ...] = (),
    nominated: Iterable[Pod] = (),
    budgets: tuple[DisruptionBudget, ...] = (),
) -> Snapshot:
    """A snapshot of nodes and the pods bound to them (pods naming an unknown node are left
    out, as the scheduler cache keeps them apart until their node appears)."""
    node_list = list(nodes)
    pods_by_node: dict[str, list[PodInfo]] = {node.name: [] for node in node_list}
    for pod in pods:
        if pod.node_name in pods_by_node:
            pods_by_node[pod.node_name].append(pod_info(pod))
    infos: dict[str, NodeInfo] = {}
    image_nodes: dict[str, int] = {}
    for node in node_list:
        info = NodeInfo(node=node, name=node.name)
        for assigned in pods_by_node[node.name]:
            info = info.with_pod(assigned)
        infos[node.name] = info
        names = {name for image in node.images for name in image.names}
        for name in names:
            image_nodes[name] = image_nodes.get(name, 0) + 1
    order = node_tree_order(node_list)
    return Snapshot(
        infos=tuple(infos[name] for name in order),
        positions=immutables.Map({name: index for index, name in enumerate(order)}),
        image_nodes=immutables.Map(image_nodes),
        namespaces=namespaces,
        affinity_nodes=frozenset(n for n, i in infos.items() if i.pods_with_affinity),
        anti_affinity_nodes=frozenset(
            n for n, i in infos.items() if i.pods_with_required_anti_affinity
        ),
        selecting=selecting,
        nominated=tuple(pod_info(pod) for pod in nominated if pod.nominated_node_name in infos),
        budgets=budgets,
    )
