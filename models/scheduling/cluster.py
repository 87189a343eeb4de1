"""A cluster state as the scheduler reads it: the objects of ``kubectl get ... -o yaml``,
sorted by kind, in input order.

``cluster_state`` takes decoded objects (lists unwrapped) and keeps what kube-scheduler's
informers keep: nodes, pods except those in phase Succeeded or Failed, namespaces (for
namespaceSelector), Services, ReplicationControllers, ReplicaSets and StatefulSets (for the
default topology spread selector) and PodDisruptionBudgets (for preemption). Other kinds are
read and ignored. A node name given twice is an error naming both places.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, final

import immutables
import msgspec
from returns.result import Failure, Result, Success

from models.k8s import lists
from models.k8s.apps import ReplicaSet, StatefulSet, StatefulSetList
from models.k8s.codec import KINDS, register_kinds
from models.k8s.core.namespace import Namespace
from models.k8s.core.node import Node
from models.k8s.core.pod import Pod
from models.k8s.core.replication import ReplicationController, ReplicationControllerList
from models.k8s.core.service import Service
from models.k8s.meta import ObjectMeta
from models.k8s.policy import PodDisruptionBudget, PodDisruptionBudgetList
from models.scheduling.matching import NAMESPACE_NAME_LABEL

TERMINAL_PHASES: Final = frozenset({"Succeeded", "Failed"})


class IgnoredObject(msgspec.Struct, frozen=True, kw_only=True):
    """A Kubernetes object of a kind the scheduler does not read (read leniently, dropped)."""

    kind: str = ""


IGNORED_KINDS: Final = tuple(
    (api_version, kind)
    for api_version, kinds in (
        ("apps/v1", ("DaemonSet", "ControllerRevision")),
        ("batch/v1", ("Job", "CronJob")),
        ("autoscaling/v2", ("HorizontalPodAutoscaler",)),
        ("autoscaling/v1", ("HorizontalPodAutoscaler",)),
        ("v1", ("ConfigMap", "Secret", "ServiceAccount", "PersistentVolumeClaim")),
        ("v1", ("PersistentVolume", "LimitRange", "ResourceQuota", "PodTemplate")),
        ("storage.k8s.io/v1", ("StorageClass", "CSINode", "CSIDriver", "VolumeAttachment")),
        ("scheduling.k8s.io/v1", ("PriorityClass",)),
        ("networking.k8s.io/v1", ("Ingress", "NetworkPolicy")),
    )
    for kind in kinds
)

SCHEDULER_KINDS: Final[Mapping[tuple[str, str], type[Any]]] = register_kinds(
    {
        ("apps/v1", "StatefulSet"): StatefulSet,
        ("apps/v1", "StatefulSetList"): StatefulSetList,
        ("v1", "ReplicationController"): ReplicationController,
        ("v1", "ReplicationControllerList"): ReplicationControllerList,
        ("policy/v1", "PodDisruptionBudget"): PodDisruptionBudget,
        ("policy/v1", "PodDisruptionBudgetList"): PodDisruptionBudgetList,
        **{key: IgnoredObject for key in IGNORED_KINDS if key not in KINDS},
    }
)
"""The codec's kinds plus what the scheduler reads (and knows to ignore)."""

LIST_TYPES: Final = (
    lists.List,
    lists.PodList,
    lists.NodeList,
    lists.ServiceList,
    lists.EndpointsList,
    lists.NamespaceList,
    lists.EventList,
    lists.ReplicaSetList,
    lists.DeploymentList,
    lists.EndpointSliceList,
    lists.LeaseList,
    StatefulSetList,
    ReplicationControllerList,
    PodDisruptionBudgetList,
)


def pod_key(pod: Pod) -> str:
    """``namespace/name`` (namespace ``default`` when unset), the key the scheduler uses."""
    return f"{pod.meta.namespace or 'default'}/{pod.meta.name or ''}"


def metadata_of(item: object) -> ObjectMeta:
    """An object's ``metadata``, empty when absent."""
    meta = getattr(item, "metadata", None)
    return meta if isinstance(meta, ObjectMeta) else ObjectMeta()


@final
class ClusterState(msgspec.Struct, frozen=True, kw_only=True):
    """The objects the scheduler reads, each kind in input order."""

    nodes: tuple[Node, ...] = ()
    pods: tuple[Pod, ...] = ()
    namespaces: tuple[Namespace, ...] = ()
    services: tuple[Service, ...] = ()
    replication_controllers: tuple[ReplicationController, ...] = ()
    replica_sets: tuple[ReplicaSet, ...] = ()
    stateful_sets: tuple[StatefulSet, ...] = ()
    budgets: tuple[PodDisruptionBudget, ...] = ()

    def bound_pods(self) -> tuple[Pod, ...]:
        """Pods with ``spec.nodeName``."""
        return tuple(pod for pod in self.pods if pod.pod_spec.node_name)

    def pending_pods(self) -> tuple[Pod, ...]:
        """Pods without a node."""
        return tuple(pod for pod in self.pods if not pod.pod_spec.node_name)

    def without_pods(self, keys: frozenset[str] | set[str]) -> ClusterState:
        """The state without the pods whose ``namespace/name`` is in ``keys``."""
        kept = tuple(pod for pod in self.pods if pod_key(pod) not in keys)
        return msgspec.structs.replace(self, pods=kept)

    def namespace_labels(self) -> immutables.Map[str, immutables.Map[str, str]]:
        """Each declared namespace's labels, with ``kubernetes.io/metadata.name`` set."""
        found: dict[str, immutables.Map[str, str]] = {}
        for namespace in self.namespaces:
            meta = metadata_of(namespace)
            if meta.name:
                found[meta.name] = meta.label_map().set(NAMESPACE_NAME_LABEL, meta.name)
        return immutables.Map(found)


@final
class ClusterError(msgspec.Struct, frozen=True, kw_only=True):
    """Why the objects do not form a cluster state, and where (``document N`` / item)."""

    place: str
    reason: str


def unwrap_lists(objects: Iterable[tuple[str, object]]) -> list[tuple[str, object]]:
    """Objects with their places, the items of every list taken out in order."""
    flat: list[tuple[str, object]] = []
    for place, item in objects:
        if isinstance(item, LIST_TYPES):
            items: tuple[object, ...] = item.items or ()
            flat.extend((f"{place}, items[{index}]", entry) for index, entry in enumerate(items))
        else:
            flat.append((place, item))
    return flat


def cluster_state(objects: Iterable[tuple[str, object]]) -> Result[ClusterState, ClusterError]:
    """The cluster state of decoded objects (``(place, object)`` pairs, lists allowed)."""
    kinds: dict[type[Any], list[Any]] = {}
    node_places: dict[str, str] = {}
    for place, item in unwrap_lists(objects):
        if isinstance(item, Node):
            name = item.meta.name or ""
            if not name:
                return Failure(
                    ClusterError(place=place, reason="metadata.name: a node needs a name")
                )
            if name in node_places:
                reason = f"node {name!r} appears twice (first at {node_places[name]})"
                return Failure(ClusterError(place=place, reason=reason))
            node_places[name] = place
        if isinstance(item, Pod):
            if not item.meta.name:
                return Failure(
                    ClusterError(place=place, reason="metadata.name: a pod needs a name")
                )
            if item.pod_status.phase in TERMINAL_PHASES:
                continue
        kinds.setdefault(type(item), []).append(item)

    def of(kind: type[Any]) -> tuple[Any, ...]:
        return tuple(kinds.get(kind, ()))

    return Success(
        ClusterState(
            nodes=of(Node),
            pods=of(Pod),
            namespaces=of(Namespace),
            services=of(Service),
            replication_controllers=of(ReplicationController),
            replica_sets=of(ReplicaSet),
            stateful_sets=of(StatefulSet),
            budgets=of(PodDisruptionBudget),
        )
    )
