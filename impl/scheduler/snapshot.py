"""The cluster as one scheduling cycle sees it (kube-scheduler's cache snapshot): node infos
in node-tree order, image spread, namespace labels, which nodes hold pods with
(anti-)affinity, the objects that give default spread selectors, nominated pods and
PodDisruptionBudgets. Replacing one node's info gives a new snapshot; nothing is mutated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final, final

import immutables
import msgspec

from impl.scheduler.features import SchedulerFeatures
from impl.scheduler.nodeinfo import NodeInfo, assign_pods, image_spread, node_tree_order, node_view
from impl.scheduler.podinfo import PodInfo, pod_info
from models.k8s.policy import PodDisruptionBudget
from models.scheduling.cluster import ClusterState, metadata_of
from models.scheduling.matching import compile_selector
from models.selectors import Selector, selector_from_labels

EMPTY_NAMESPACES: Final[immutables.Map[str, immutables.Map[str, str]]] = immutables.Map()


@final
class Selecting(msgspec.Struct, frozen=True, kw_only=True):
    """A Service, ReplicationController, ReplicaSet or StatefulSet reduced to what selects
    pods. ``from_map`` is true for the kinds that select with a plain label map."""

    kind: str
    namespace: str
    name: str
    selector: Selector
    from_map: bool


def selecting_objects(cluster: ClusterState) -> tuple[Selecting, ...]:
    """The selectors of the cluster's Services and workload controllers."""
    found: list[Selecting] = []
    for service in cluster.services:
        labels: Mapping[str, str] = (
            service.spec.selector if service.spec is not None else None
        ) or {}
        if labels:
            found.append(_selecting("Service", service, selector_from_labels(labels), True))
    for rc in cluster.replication_controllers:
        labels = (rc.spec.selector if rc.spec is not None else None) or {}
        if labels:
            found.append(
                _selecting("ReplicationController", rc, selector_from_labels(labels), True)
            )
    for rs in cluster.replica_sets:
        raw = rs.spec.selector if rs.spec is not None else None
        if raw is not None:
            found.append(_selecting("ReplicaSet", rs, compile_selector(raw), False))
    for ss in cluster.stateful_sets:
        raw = ss.spec.selector if ss.spec is not None else None
        if raw is not None:
            found.append(_selecting("StatefulSet", ss, compile_selector(raw), False))
    return tuple(item for item in found if item.name)


def _selecting(kind: str, item: object, selector: Selector, from_map: bool) -> Selecting:
    meta = metadata_of(item)
    return Selecting(
        kind=kind,
        namespace=meta.namespace or "default",
        name=meta.name or "",
        selector=selector,
        from_map=from_map,
    )


@final
class Snapshot(msgspec.Struct, frozen=True, kw_only=True):
    """The cluster of one scheduling cycle (see the module docstring)."""

    infos: tuple[NodeInfo, ...]
    positions: immutables.Map[str, int]
    image_nodes: immutables.Map[str, int]
    namespaces: immutables.Map[str, immutables.Map[str, str]] = EMPTY_NAMESPACES
    affinity_nodes: frozenset[str] = frozenset()
    anti_affinity_nodes: frozenset[str] = frozenset()
    selecting: tuple[Selecting, ...] = ()
    nominated: tuple[PodInfo, ...] = ()
    budgets: tuple[PodDisruptionBudget, ...] = ()

    def in_order(self) -> tuple[NodeInfo, ...]:
        """Every node in node-tree order."""
        return self.infos

    def node(self, name: str) -> NodeInfo:
        """One node by name."""
        return self.infos[self.positions[name]]

    def has_node(self, name: str) -> bool:
        return name in self.positions

    def with_node(self, info: NodeInfo) -> Snapshot:
        """The snapshot with one node's info replaced."""
        index = self.positions[info.name]
        affinity = self.affinity_nodes
        if (info.name in affinity) != (info.pods_with_affinity > 0):
            affinity = affinity ^ {info.name}
        anti = self.anti_affinity_nodes
        if (info.name in anti) != (info.pods_with_required_anti_affinity > 0):
            anti = anti ^ {info.name}
        infos = list(self.infos)
        infos[index] = info
        return msgspec.structs.replace(
            self,
            infos=tuple(infos),
            affinity_nodes=affinity,
            anti_affinity_nodes=anti,
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
    cluster: ClusterState, features: SchedulerFeatures, pods: Iterable[PodInfo] | None = None
) -> Snapshot:
    """The snapshot of a cluster state: nodes in node-tree order with their bound pods
    (``pods`` overrides the cluster's bound pods), nominated pending pods, selectors and
    budgets."""
    views = [node_view(node) for node in cluster.nodes]
    bound = (
        list(pods)
        if pods is not None
        else [pod_info(p, features, assigned=True) for p in cluster.bound_pods()]
    )
    infos = assign_pods(views, bound)
    order = node_tree_order(views)
    nominated = tuple(
        pod_info(p, features)
        for p in cluster.pending_pods()
        if p.pod_status.nominated_node_name in infos
    )
    return Snapshot(
        infos=tuple(infos[name] for name in order),
        positions=immutables.Map({name: index for index, name in enumerate(order)}),
        image_nodes=image_spread(views),
        namespaces=cluster.namespace_labels(),
        affinity_nodes=frozenset(n for n, i in infos.items() if i.pods_with_affinity),
        anti_affinity_nodes=frozenset(
            n for n, i in infos.items() if i.pods_with_required_anti_affinity
        ),
        selecting=selecting_objects(cluster),
        nominated=nominated,
        budgets=cluster.budgets,
    )
