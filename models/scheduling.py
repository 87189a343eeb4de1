"""The scheduler's view of Kubernetes objects: the fields of Pod, Node and Namespace that
kube-scheduler reads, already decoded (quantities as integers, defaults applied).

Amounts: ``cpu`` in millicores, every other resource in its base unit (bytes, count), as
kube-scheduler's ``MilliValue()`` / ``Value()`` give them. Label selectors and node selector
requirements carry their matching rules here, because both ``impl`` and ``spec`` judge them.
"""

from __future__ import annotations

from typing import Final, Literal, final

import immutables
import msgspec

from models.selectors import Operator
from models.selectors import Requirement as LabelRequirement

StringMap = immutables.Map[str, str]
AmountMap = immutables.Map[str, int]

EMPTY_LABELS: Final[StringMap] = immutables.Map()
EMPTY_AMOUNTS: Final[AmountMap] = immutables.Map()

CPU: Final = "cpu"
MEMORY: Final = "memory"
EPHEMERAL_STORAGE: Final = "ephemeral-storage"
PODS: Final = "pods"

TaintEffect = Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


@final
class Taint(msgspec.Struct, frozen=True, kw_only=True):
    """A node taint (``spec.taints[]``)."""

    key: str
    value: str = ""
    effect: str


@final
class Toleration(msgspec.Struct, frozen=True, kw_only=True):
    """A pod toleration (``spec.tolerations[]``); empty operator means Equal."""

    key: str = ""
    operator: str = ""
    value: str = ""
    effect: str = ""

    def tolerates(self, taint: Taint) -> bool:
        """``Toleration.ToleratesTaint`` of k8s.io/api core/v1."""
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        if self.operator in ("", "Equal"):
            return self.value == taint.value
        return self.operator == "Exists"


def tolerations_tolerate(tolerations: tuple[Toleration, ...], taint: Taint) -> bool:
    """Some toleration tolerates ``taint``."""
    return any(toleration.tolerates(taint) for toleration in tolerations)


@final
class Requirement(msgspec.Struct, frozen=True, kw_only=True):
    """A selector requirement: label selectors (In, NotIn, Exists, DoesNotExist) and node
    selectors (those plus Gt, Lt)."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: StringMap) -> bool:
        """Does a label set satisfy this requirement (``labels.Requirement.Matches``)? The
        semantics are :mod:`models.selectors`'; an unknown operator matches nothing."""
        operator = API_OPERATORS.get(self.operator)
        if operator is None:
            return False
        return LabelRequirement(key=self.key, operator=operator, values=self.values).matches(labels)


# The API's operator spellings (matchExpressions, nodeSelectorTerms) in selector terms.
API_OPERATORS: Final = immutables.Map(
    {
        "In": Operator.IN,
        "NotIn": Operator.NOT_IN,
        "Exists": Operator.EXISTS,
        "DoesNotExist": Operator.DOES_NOT_EXIST,
        "Gt": Operator.GREATER_THAN,
        "Lt": Operator.LESS_THAN,
    }
)


@final
class LabelSelector(msgspec.Struct, frozen=True, kw_only=True):
    """``metav1.LabelSelector``: matchLabels and matchExpressions, all ANDed; empty selects all."""

    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[Requirement, ...] = ()

    def matches(self, labels: StringMap) -> bool:
        """Does the label set satisfy every requirement?"""
        for key, value in self.match_labels:
            if labels.get(key) != value:
                return False
        return all(requirement.matches(labels) for requirement in self.match_expressions)

    def is_empty(self) -> bool:
        """An empty selector selects everything."""
        return not self.match_labels and not self.match_expressions


@final
class NodeSelectorTerm(msgspec.Struct, frozen=True, kw_only=True):
    """A node selector term: every expression (on labels) and every field (metadata.name)."""

    match_expressions: tuple[Requirement, ...] = ()
    match_fields: tuple[Requirement, ...] = ()
    valid: bool = True
    """False when a value failed validation; such a term matches nothing (a parse error)."""

    def matches(self, node_name: str, labels: StringMap) -> bool:
        """``nodeSelectorTerm`` match: empty terms and invalid terms match nothing."""
        if not self.valid or (not self.match_expressions and not self.match_fields):
            return False
        if not all(requirement.matches(labels) for requirement in self.match_expressions):
            return False
        if node_name:
            fields: StringMap = immutables.Map({"metadata.name": node_name})
            return all(requirement.matches(fields) for requirement in self.match_fields)
        return True


@final
class PreferredSchedulingTerm(msgspec.Struct, frozen=True, kw_only=True):
    """A weighted preferred node affinity term."""

    weight: int
    preference: NodeSelectorTerm


@final
class NodeAffinity(msgspec.Struct, frozen=True, kw_only=True):
    """``affinity.nodeAffinity``: required is None when absent (distinct from no terms)."""

    required: tuple[NodeSelectorTerm, ...] | None = None
    preferred: tuple[PreferredSchedulingTerm, ...] = ()


def required_node_affinity_matches(
    node_selector: StringMap, required: tuple[NodeSelectorTerm, ...] | None, node: Node
) -> bool:
    """``GetRequiredNodeAffinity(pod).Match(node)``: nodeSelector and the ORed required terms."""
    labels = node.labels
    for key, value in node_selector.items():
        if labels.get(key) != value:
            return False
    if required is None:
        return True
    return any(term.matches(node.name, labels) for term in required)


@final
class PodAffinityTerm(msgspec.Struct, frozen=True, kw_only=True):
    """A pod (anti-)affinity term; ``label_selector`` None selects nothing, a
    ``namespace_selector`` None selects no namespace (an empty one selects every namespace)."""

    label_selector: LabelSelector | None = None
    namespaces: tuple[str, ...] = ()
    namespace_selector: LabelSelector | None = None
    topology_key: str


@final
class WeightedPodAffinityTerm(msgspec.Struct, frozen=True, kw_only=True):
    """A preferred pod (anti-)affinity term with its weight (1-100)."""

    weight: int
    term: PodAffinityTerm


@final
class PodAffinity(msgspec.Struct, frozen=True, kw_only=True):
    """Required and preferred terms of ``podAffinity`` or ``podAntiAffinity``."""

    required: tuple[PodAffinityTerm, ...] = ()
    preferred: tuple[WeightedPodAffinityTerm, ...] = ()


@final
class TopologySpreadConstraint(msgspec.Struct, frozen=True, kw_only=True):
    """``spec.topologySpreadConstraints[]`` with the API defaults applied."""

    max_skew: int
    topology_key: str
    when_unsatisfiable: str
    label_selector: LabelSelector | None = None
    min_domains: int = 1
    node_affinity_policy: str = "Honor"
    node_taints_policy: str = "Ignore"
    match_label_keys: tuple[str, ...] = ()


@final
class ContainerPort(msgspec.Struct, frozen=True, kw_only=True):
    """A container port; only those with ``host_port > 0`` occupy the node."""

    host_port: int = 0
    protocol: str = "TCP"
    host_ip: str = ""


@final
class Container(msgspec.Struct, frozen=True, kw_only=True):
    """A container's scheduling-relevant parts. ``requests`` holds only keys that were present
    (an explicit "0" stays, a missing key is absent: the non-zero defaults depend on it)."""

    name: str
    image: str = ""
    requests: AmountMap = EMPTY_AMOUNTS
    ports: tuple[ContainerPort, ...] = ()
    restartable: bool = False
    """An init container with ``restartPolicy: Always`` (a sidecar)."""


@final
class Pod(msgspec.Struct, frozen=True, kw_only=True):
    """A pod as the scheduler sees it."""

    name: str
    namespace: str = "default"
    uid: str = ""
    labels: StringMap = EMPTY_LABELS
    scheduler_name: str = "default-scheduler"
    node_name: str = ""
    nominated_node_name: str = ""
    priority: int = 0
    preemption_policy: str = "PreemptLowerPriority"
    containers: tuple[Container, ...] = ()
    init_containers: tuple[Container, ...] = ()
    overhead: AmountMap = EMPTY_AMOUNTS
    node_selector: StringMap = EMPTY_LABELS
    node_affinity: NodeAffinity | None = None
    pod_affinity: PodAffinity | None = None
    pod_anti_affinity: PodAffinity | None = None
    tolerations: tuple[Toleration, ...] = ()
    topology_spread_constraints: tuple[TopologySpreadConstraint, ...] = ()
    terminating: bool = False
    """``metadata.deletionTimestamp`` is set."""
    start_time: str = ""
    """``status.startTime`` (RFC 3339, compares in time order as text); empty if unset."""
    creation_index: int = 0
    """Position in the input, standing in for arrival time in the queue."""
    controller: tuple[str, str] = ("", "")
    """``(kind, name)`` of the controlling owner reference (``controller: true``)."""

    @property
    def key(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"


@final
class Image(msgspec.Struct, frozen=True, kw_only=True):
    """``status.images[]``: all the names of one image and its size."""

    names: tuple[str, ...]
    size_bytes: int


@final
class Node(msgspec.Struct, frozen=True, kw_only=True):
    """A node as the scheduler sees it."""

    name: str
    labels: StringMap = EMPTY_LABELS
    unschedulable: bool = False
    taints: tuple[Taint, ...] = ()
    allocatable: AmountMap = EMPTY_AMOUNTS
    images: tuple[Image, ...] = ()


@final
class Namespace(msgspec.Struct, frozen=True, kw_only=True):
    """A namespace's labels (for namespaceSelector in pod affinity terms)."""

    name: str
    labels: StringMap = EMPTY_LABELS


@final
class Selecting(msgspec.Struct, frozen=True, kw_only=True):
    """A Service, ReplicationController, ReplicaSet or StatefulSet, reduced to what selects
    pods: Services and ReplicationControllers use a label map, ReplicaSets and StatefulSets a
    label selector."""

    kind: str
    namespace: str
    name: str
    labels: StringMap = EMPTY_LABELS
    selector: LabelSelector | None = None


@final
class DisruptionBudget(msgspec.Struct, frozen=True, kw_only=True):
    """A PodDisruptionBudget as preemption reads it."""

    namespace: str
    name: str
    selector: LabelSelector | None = None
    disruptions_allowed: int = 0
    disrupted_pods: frozenset[str] = frozenset()


@final
class ClusterState(msgspec.Struct, frozen=True, kw_only=True):
    """What ``kubectl get nodes,pods -A -o yaml`` shows: nodes in listing order, pods bound to a
    node (``spec.nodeName`` set), pods waiting (no node), namespaces (declared or implied)."""

    nodes: tuple[Node, ...] = ()
    bound_pods: tuple[Pod, ...] = ()
    pending_pods: tuple[Pod, ...] = ()
    namespaces: tuple[Namespace, ...] = ()
    selecting: tuple[Selecting, ...] = ()
    """Services and workload controllers (for default topology spread constraints)."""
    budgets: tuple[DisruptionBudget, ...] = ()
    """PodDisruptionBudgets (for preemption)."""


def namespace_labels(namespaces: tuple[Namespace, ...], name: str) -> StringMap:
    """A namespace's labels; an undeclared one carries only ``kubernetes.io/metadata.name``, the
    label the API server sets on every namespace."""
    for namespace in namespaces:
        if namespace.name == name:
            return namespace.labels
    return immutables.Map({"kubernetes.io/metadata.name": name})


@final
class NodeVerdict(msgspec.Struct, frozen=True, kw_only=True):
    """One node's outcome in a scheduling attempt: filter code and total (None: not scored)."""

    node: str
    code: str
    total: int | None = None


@final
class SchedulingStep(msgspec.Struct, frozen=True, kw_only=True):
    """One binding as the spec judges it: the cluster before, the pod as bound
    (``node_name`` = the chosen node), and the scheduler's per-node verdicts."""

    nodes: tuple[Node, ...]
    pods_before: tuple[Pod, ...]
    pod: Pod
    verdicts: tuple[NodeVerdict, ...]
    namespaces: tuple[Namespace, ...] = ()
