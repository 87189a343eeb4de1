"""Decoding Kubernetes JSON/YAML objects (as ``kubectl get nodes,pods -A -o yaml`` prints them,
already parsed into plain values) into the scheduler's view (:mod:`models.scheduling`).

Applies the API server's defaults the scheduler relies on: container requests default to limits,
node allocatable defaults to capacity, topology spread policies default to Honor/Ignore.
Failures are values: :class:`DecodeError` names the field path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final, final

import immutables
import msgspec
from returns.pipeline import is_successful
from returns.result import Failure, Result, Success

from models.quantity import quantity_from_json
from models.scheduling import (
    EMPTY_LABELS,
    ClusterState,
    Container,
    ContainerPort,
    DisruptionBudget,
    Image,
    LabelSelector,
    Namespace,
    Node,
    NodeAffinity,
    NodeSelectorTerm,
    Pod,
    PodAffinity,
    PodAffinityTerm,
    PreferredSchedulingTerm,
    Requirement,
    Selecting,
    StringMap,
    Taint,
    Toleration,
    TopologySpreadConstraint,
    WeightedPodAffinityTerm,
)


@final
class DecodeError(msgspec.Struct, frozen=True, kw_only=True):
    """Why an object could not be read, and where (a dotted field path)."""

    field: str
    reason: str


class FieldError(Exception):
    """Internal: unwinds a decode to its entry point, which turns it into a DecodeError."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


LABEL_VALUE: Final = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def amount(resource: str, raw: object, field: str) -> int:
    """A quantity as kube-scheduler reads it: ``MilliValue()`` for cpu, ``Value()`` otherwise
    (both round up), parsed with apimachinery's rules (:mod:`models.quantity`)."""
    parsed = quantity_from_json(raw)
    if not is_successful(parsed):
        raise FieldError(field, f"not a quantity: {raw!r} ({parsed.failure().message})")
    quantity = parsed.unwrap()
    return quantity.milli_value() if resource == "cpu" else quantity.value()


def _mapping(raw: object, field: str) -> Mapping[str, object]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise FieldError(field, "expected a mapping")
    return raw


def _sequence(raw: object, field: str) -> Sequence[object]:
    if raw is None:
        return ()
    if isinstance(raw, str) or not isinstance(raw, Sequence):
        raise FieldError(field, "expected a list")
    return raw


def _string(raw: object, field: str, default: str = "") -> str:
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise FieldError(field, "expected a string")
    return str(raw)


def _integer(raw: object, field: str, default: int = 0) -> int:
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise FieldError(field, "expected an integer")
    return raw


def _strings(raw: object, field: str) -> StringMap:
    mapping = _mapping(raw, field)
    return immutables.Map({str(k): _string(v, f"{field}.{k}") for k, v in mapping.items()})


def _amounts(raw: object, field: str) -> immutables.Map[str, int]:
    mapping = _mapping(raw, field)
    return immutables.Map({str(k): amount(str(k), v, f"{field}.{k}") for k, v in mapping.items()})


def _requirement(raw: object, field: str, *, node_selector: bool) -> tuple[Requirement, bool]:
    item = _mapping(raw, field)
    operator = _string(item.get("operator"), f"{field}.operator")
    allowed = ("In", "NotIn", "Exists", "DoesNotExist") + (("Gt", "Lt") if node_selector else ())
    if operator not in allowed:
        raise FieldError(f"{field}.operator", f"unsupported operator {operator!r}")
    values = tuple(
        _string(v, f"{field}.values[{i}]")
        for i, v in enumerate(_sequence(item.get("values"), f"{field}.values"))
    )
    key = _string(item.get("key"), f"{field}.key")
    valid = all(LABEL_VALUE.match(value) and len(value) <= 63 for value in values)
    if operator in ("In", "NotIn") and not values:
        valid = False
    if operator in ("Exists", "DoesNotExist") and values:
        valid = False
    if operator in ("Gt", "Lt") and len(values) != 1:
        valid = False
    return Requirement(key=key, operator=operator, values=values), valid


def label_selector(raw: object, field: str) -> LabelSelector | None:
    """A ``metav1.LabelSelector``; None stays None (it selects nothing where that matters)."""
    if raw is None:
        return None
    item = _mapping(raw, field)
    labels = _strings(item.get("matchLabels"), f"{field}.matchLabels")
    expressions = tuple(
        _requirement(e, f"{field}.matchExpressions[{i}]", node_selector=False)[0]
        for i, e in enumerate(_sequence(item.get("matchExpressions"), f"{field}.matchExpressions"))
    )
    return LabelSelector(match_labels=tuple(sorted(labels.items())), match_expressions=expressions)


def node_selector_term(raw: object, field: str) -> NodeSelectorTerm:
    """A node selector term; invalid values make it a term that matches nothing."""
    item = _mapping(raw, field)
    valid = True
    expressions: list[Requirement] = []
    for i, e in enumerate(_sequence(item.get("matchExpressions"), f"{field}.matchExpressions")):
        requirement, ok = _requirement(e, f"{field}.matchExpressions[{i}]", node_selector=True)
        expressions.append(requirement)
        valid = valid and ok
    fields: list[Requirement] = []
    for i, e in enumerate(_sequence(item.get("matchFields"), f"{field}.matchFields")):
        requirement, _ = _requirement(e, f"{field}.matchFields[{i}]", node_selector=True)
        fields.append(requirement)
        ok = (
            requirement.key == "metadata.name"
            and requirement.operator in ("In", "NotIn")
            and len(requirement.values) == 1
        )
        valid = valid and ok
    return NodeSelectorTerm(
        match_expressions=tuple(expressions), match_fields=tuple(fields), valid=valid
    )


def node_affinity(raw: object, field: str) -> NodeAffinity | None:
    """``affinity.nodeAffinity``."""
    if raw is None:
        return None
    item = _mapping(raw, field)
    required_raw = item.get("requiredDuringSchedulingIgnoredDuringExecution")
    required: tuple[NodeSelectorTerm, ...] | None = None
    if required_raw is not None:
        path = f"{field}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"
        terms = _sequence(_mapping(required_raw, path).get("nodeSelectorTerms"), path)
        required = tuple(node_selector_term(t, f"{path}[{i}]") for i, t in enumerate(terms))
    preferred_path = f"{field}.preferredDuringSchedulingIgnoredDuringExecution"
    preferred_items = _sequence(
        item.get("preferredDuringSchedulingIgnoredDuringExecution"), preferred_path
    )
    preferred = []
    for i, raw_term in enumerate(preferred_items):
        term = _mapping(raw_term, f"{preferred_path}[{i}]")
        preferred.append(
            PreferredSchedulingTerm(
                weight=_integer(term.get("weight"), f"{preferred_path}[{i}].weight"),
                preference=node_selector_term(
                    term.get("preference"), f"{preferred_path}[{i}].preference"
                ),
            )
        )
    return NodeAffinity(required=required, preferred=tuple(preferred))


def _pod_affinity_term(raw: object, field: str) -> PodAffinityTerm:
    item = _mapping(raw, field)
    namespaces = tuple(
        _string(n, f"{field}.namespaces[{i}]")
        for i, n in enumerate(_sequence(item.get("namespaces"), f"{field}.namespaces"))
    )
    topology_key = _string(item.get("topologyKey"), f"{field}.topologyKey")
    if not topology_key:
        raise FieldError(f"{field}.topologyKey", "must not be empty")
    return PodAffinityTerm(
        label_selector=label_selector(item.get("labelSelector"), f"{field}.labelSelector"),
        namespaces=namespaces,
        namespace_selector=label_selector(
            item.get("namespaceSelector"), f"{field}.namespaceSelector"
        ),
        topology_key=topology_key,
    )


def _pod_affinity(raw: object, field: str) -> PodAffinity | None:
    if raw is None:
        return None
    item = _mapping(raw, field)
    required_path = f"{field}.requiredDuringSchedulingIgnoredDuringExecution"
    preferred_path = f"{field}.preferredDuringSchedulingIgnoredDuringExecution"
    required = tuple(
        _pod_affinity_term(t, f"{required_path}[{i}]")
        for i, t in enumerate(
            _sequence(item.get("requiredDuringSchedulingIgnoredDuringExecution"), required_path)
        )
    )
    preferred = tuple(
        WeightedPodAffinityTerm(
            weight=_integer(_mapping(t, preferred_path).get("weight"), f"{preferred_path}[{i}]"),
            term=_pod_affinity_term(
                _mapping(t, preferred_path).get("podAffinityTerm"),
                f"{preferred_path}[{i}].podAffinityTerm",
            ),
        )
        for i, t in enumerate(
            _sequence(item.get("preferredDuringSchedulingIgnoredDuringExecution"), preferred_path)
        )
    )
    return PodAffinity(required=required, preferred=preferred)


def _container(raw: object, field: str, *, init: bool) -> Container:
    item = _mapping(raw, field)
    resources = _mapping(item.get("resources"), f"{field}.resources")
    limits = _amounts(resources.get("limits"), f"{field}.resources.limits")
    requests = _amounts(resources.get("requests"), f"{field}.resources.requests")
    for name, limit in limits.items():  # API defaulting: a missing request takes the limit
        if name not in requests:
            requests = requests.set(name, limit)
    ports = []
    for i, p in enumerate(_sequence(item.get("ports"), f"{field}.ports")):
        port = _mapping(p, f"{field}.ports[{i}]")
        ports.append(
            ContainerPort(
                host_port=_integer(port.get("hostPort"), f"{field}.ports[{i}].hostPort"),
                protocol=_string(port.get("protocol"), f"{field}.ports[{i}].protocol", "TCP"),
                host_ip=_string(port.get("hostIP"), f"{field}.ports[{i}].hostIP"),
            )
        )
    return Container(
        name=_string(item.get("name"), f"{field}.name"),
        image=_string(item.get("image"), f"{field}.image"),
        requests=requests,
        ports=tuple(ports),
        restartable=init and item.get("restartPolicy") == "Always",
    )


def spread_constraint(raw: object, field: str) -> TopologySpreadConstraint:
    item = _mapping(raw, field)
    max_skew = _integer(item.get("maxSkew"), f"{field}.maxSkew", 0)
    if max_skew <= 0:
        raise FieldError(f"{field}.maxSkew", "must be greater than zero")
    when = _string(item.get("whenUnsatisfiable"), f"{field}.whenUnsatisfiable")
    if when not in ("DoNotSchedule", "ScheduleAnyway"):
        raise FieldError(f"{field}.whenUnsatisfiable", f"unsupported value {when!r}")
    return TopologySpreadConstraint(
        max_skew=max_skew,
        topology_key=_string(item.get("topologyKey"), f"{field}.topologyKey"),
        when_unsatisfiable=when,
        label_selector=label_selector(item.get("labelSelector"), f"{field}.labelSelector"),
        min_domains=_integer(item.get("minDomains"), f"{field}.minDomains", 1),
        node_affinity_policy=_string(item.get("nodeAffinityPolicy"), "nodeAffinityPolicy", "Honor"),
        node_taints_policy=_string(item.get("nodeTaintsPolicy"), "nodeTaintsPolicy", "Ignore"),
        match_label_keys=tuple(
            _string(k, f"{field}.matchLabelKeys")
            for k in _sequence(item.get("matchLabelKeys"), f"{field}.matchLabelKeys")
        ),
    )


def _pod(item: Mapping[str, object], field: str, index: int) -> Pod:
    metadata = _mapping(item.get("metadata"), f"{field}.metadata")
    spec = _mapping(item.get("spec"), f"{field}.spec")
    status = _mapping(item.get("status"), f"{field}.status")
    affinity = _mapping(spec.get("affinity"), f"{field}.spec.affinity")
    path = f"{field}.spec"
    name = _string(metadata.get("name"), f"{field}.metadata.name")
    if not name:
        raise FieldError(f"{field}.metadata.name", "a pod needs a name")
    return Pod(
        name=name,
        namespace=_string(metadata.get("namespace"), f"{field}.metadata.namespace", "default"),
        uid=_string(metadata.get("uid"), f"{field}.metadata.uid"),
        labels=_strings(metadata.get("labels"), f"{field}.metadata.labels"),
        terminating=metadata.get("deletionTimestamp") is not None,
        scheduler_name=_string(spec.get("schedulerName"), "schedulerName", "default-scheduler"),
        node_name=_string(spec.get("nodeName"), f"{path}.nodeName"),
        nominated_node_name=_string(status.get("nominatedNodeName"), "nominatedNodeName"),
        priority=_integer(spec.get("priority"), f"{path}.priority"),
        preemption_policy=_string(
            spec.get("preemptionPolicy"), f"{path}.preemptionPolicy", "PreemptLowerPriority"
        ),
        containers=tuple(
            _container(c, f"{path}.containers[{i}]", init=False)
            for i, c in enumerate(_sequence(spec.get("containers"), f"{path}.containers"))
        ),
        init_containers=tuple(
            _container(c, f"{path}.initContainers[{i}]", init=True)
            for i, c in enumerate(_sequence(spec.get("initContainers"), f"{path}.initContainers"))
        ),
        overhead=_amounts(spec.get("overhead"), f"{path}.overhead"),
        node_selector=_strings(spec.get("nodeSelector"), f"{path}.nodeSelector"),
        node_affinity=node_affinity(affinity.get("nodeAffinity"), f"{path}.affinity.nodeAffinity"),
        pod_affinity=_pod_affinity(affinity.get("podAffinity"), f"{path}.affinity.podAffinity"),
        pod_anti_affinity=_pod_affinity(
            affinity.get("podAntiAffinity"), f"{path}.affinity.podAntiAffinity"
        ),
        tolerations=tuple(
            _toleration(t, f"{path}.tolerations[{i}]")
            for i, t in enumerate(_sequence(spec.get("tolerations"), f"{path}.tolerations"))
        ),
        topology_spread_constraints=tuple(
            spread_constraint(c, f"{path}.topologySpreadConstraints[{i}]")
            for i, c in enumerate(
                _sequence(
                    spec.get("topologySpreadConstraints"), f"{path}.topologySpreadConstraints"
                )
            )
        ),
        start_time=_string(status.get("startTime"), f"{field}.status.startTime"),
        creation_index=index,
        controller=_controller(
            metadata.get("ownerReferences"), f"{field}.metadata.ownerReferences"
        ),
    )


def _controller(raw: object, field: str) -> tuple[str, str]:
    for i, entry in enumerate(_sequence(raw, field)):
        owner = _mapping(entry, f"{field}[{i}]")
        if owner.get("controller") is True:
            return (
                _string(owner.get("kind"), f"{field}[{i}].kind"),
                _string(owner.get("name"), f"{field}[{i}].name"),
            )
    return ("", "")


def _budget(item: Mapping[str, object], field: str) -> DisruptionBudget:
    metadata = _mapping(item.get("metadata"), f"{field}.metadata")
    spec = _mapping(item.get("spec"), f"{field}.spec")
    status = _mapping(item.get("status"), f"{field}.status")
    return DisruptionBudget(
        namespace=_string(metadata.get("namespace"), f"{field}.metadata.namespace", "default"),
        name=_string(metadata.get("name"), f"{field}.metadata.name"),
        selector=label_selector(spec.get("selector"), f"{field}.spec.selector"),
        disruptions_allowed=_integer(
            status.get("disruptionsAllowed"), f"{field}.status.disruptionsAllowed"
        ),
        disrupted_pods=frozenset(
            str(name)
            for name in _mapping(status.get("disruptedPods"), f"{field}.status.disruptedPods")
        ),
    )


SELECTING_KINDS: Final = ("Service", "ReplicationController", "ReplicaSet", "StatefulSet")


def _selecting(item: Mapping[str, object], field: str) -> Selecting:
    metadata = _mapping(item.get("metadata"), f"{field}.metadata")
    spec = _mapping(item.get("spec"), f"{field}.spec")
    kind = _string(item.get("kind"), f"{field}.kind")
    selector_field = f"{field}.spec.selector"
    if kind in ("Service", "ReplicationController"):
        labels = _strings(spec.get("selector"), selector_field)
        selector = None
    else:
        labels = EMPTY_LABELS
        selector = label_selector(spec.get("selector"), selector_field)
    return Selecting(
        kind=kind,
        namespace=_string(metadata.get("namespace"), f"{field}.metadata.namespace", "default"),
        name=_string(metadata.get("name"), f"{field}.metadata.name"),
        labels=labels,
        selector=selector,
    )


def _toleration(raw: object, field: str) -> Toleration:
    item = _mapping(raw, field)
    return Toleration(
        key=_string(item.get("key"), f"{field}.key"),
        operator=_string(item.get("operator"), f"{field}.operator"),
        value=_string(item.get("value"), f"{field}.value"),
        effect=_string(item.get("effect"), f"{field}.effect"),
    )


def _node(item: Mapping[str, object], field: str) -> Node:
    metadata = _mapping(item.get("metadata"), f"{field}.metadata")
    spec = _mapping(item.get("spec"), f"{field}.spec")
    status = _mapping(item.get("status"), f"{field}.status")
    name = _string(metadata.get("name"), f"{field}.metadata.name")
    if not name:
        raise FieldError(f"{field}.metadata.name", "a node needs a name")
    allocatable_raw = status.get("allocatable")
    if allocatable_raw is None:  # API defaulting: allocatable defaults to capacity
        allocatable_raw = status.get("capacity")
    taints = []
    for i, t in enumerate(_sequence(spec.get("taints"), f"{field}.spec.taints")):
        taint = _mapping(t, f"{field}.spec.taints[{i}]")
        effect = _string(taint.get("effect"), f"{field}.spec.taints[{i}].effect")
        if effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            raise FieldError(f"{field}.spec.taints[{i}].effect", f"unsupported effect {effect!r}")
        taints.append(
            Taint(
                key=_string(taint.get("key"), f"{field}.spec.taints[{i}].key"),
                value=_string(taint.get("value"), f"{field}.spec.taints[{i}].value"),
                effect=effect,
            )
        )
    images = []
    for i, raw_image in enumerate(_sequence(status.get("images"), f"{field}.status.images")):
        image = _mapping(raw_image, f"{field}.status.images[{i}]")
        names = _sequence(image.get("names"), f"{field}.status.images[{i}].names")
        images.append(
            Image(
                names=tuple(_string(n, f"{field}.status.images[{i}].names") for n in names),
                size_bytes=_integer(image.get("sizeBytes"), f"{field}.status.images[{i}]"),
            )
        )
    return Node(
        name=name,
        labels=_strings(metadata.get("labels"), f"{field}.metadata.labels"),
        unschedulable=spec.get("unschedulable") is True,
        taints=tuple(taints),
        allocatable=_amounts(allocatable_raw, f"{field}.status.allocatable"),
        images=tuple(images),
    )


def decode_pod(raw: object, field: str = "", index: int = 0) -> Result[Pod, DecodeError]:
    """One Pod object."""
    try:
        return Success(_pod(_mapping(raw, field or "pod"), field or "pod", index))
    except FieldError as error:
        return Failure(DecodeError(field=error.field, reason=error.reason))


def decode_node(raw: object, field: str = "") -> Result[Node, DecodeError]:
    """One Node object."""
    try:
        return Success(_node(_mapping(raw, field or "node"), field or "node"))
    except FieldError as error:
        return Failure(DecodeError(field=error.field, reason=error.reason))


def flatten_documents(documents: Sequence[object]) -> list[tuple[str, Mapping[str, object]]]:
    """Objects with their paths, unwrapping ``kind: List`` (and ``NodeList``, ``PodList``)."""
    objects: list[tuple[str, Mapping[str, object]]] = []
    for index, document in enumerate(documents):
        if document is None:
            continue
        path = f"document[{index}]"
        item = _mapping(document, path)
        kind = _string(item.get("kind"), f"{path}.kind")
        if kind.endswith("List"):
            for position, entry in enumerate(_sequence(item.get("items"), f"{path}.items")):
                objects.append((f"{path}.items[{position}]", _mapping(entry, path)))
        else:
            objects.append((path, item))
    return objects


def decode_cluster(documents: Sequence[object]) -> Result[ClusterState, DecodeError]:
    """Nodes, pods and namespaces from parsed YAML documents. Pods in phase Succeeded or Failed
    are left out, as kube-scheduler's pod informer leaves them out."""
    try:
        return Success(_cluster(flatten_documents(documents)))
    except FieldError as error:
        return Failure(DecodeError(field=error.field, reason=error.reason))


def _cluster(objects: list[tuple[str, Mapping[str, object]]]) -> ClusterState:
    nodes: list[Node] = []
    bound: list[Pod] = []
    pending: list[Pod] = []
    namespaces: dict[str, Namespace] = {}
    selecting: list[Selecting] = []
    budgets: list[DisruptionBudget] = []
    seen_nodes: set[str] = set()
    for index, (path, item) in enumerate(objects):
        kind = item.get("kind")
        if kind == "Node":
            node = _node(item, path)
            if node.name in seen_nodes:
                raise FieldError(f"{path}.metadata.name", f"node {node.name!r} appears twice")
            seen_nodes.add(node.name)
            nodes.append(node)
        elif kind == "Pod":
            phase = _mapping(item.get("status"), path).get("phase")
            if phase in ("Succeeded", "Failed"):
                continue
            pod = _pod(item, path, index)
            (bound if pod.node_name else pending).append(pod)
        elif kind == "Namespace":
            metadata = _mapping(item.get("metadata"), f"{path}.metadata")
            name = _string(metadata.get("name"), f"{path}.metadata.name")
            labels = _strings(metadata.get("labels"), f"{path}.metadata.labels")
            namespaces[name] = Namespace(
                name=name, labels=labels.set("kubernetes.io/metadata.name", name)
            )
        elif kind in SELECTING_KINDS:
            selecting.append(_selecting(item, path))
        elif kind == "PodDisruptionBudget":
            budgets.append(_budget(item, path))
        elif kind is None:
            raise FieldError(f"{path}.kind", "missing kind")
    return ClusterState(
        nodes=tuple(nodes),
        bound_pods=tuple(bound),
        pending_pods=tuple(pending),
        namespaces=tuple(namespaces[name] for name in sorted(namespaces)),
        selecting=tuple(selecting),
        budgets=tuple(budgets),
    )


__all__ = [
    "EMPTY_LABELS",
    "DecodeError",
    "decode_cluster",
    "decode_node",
    "decode_pod",
    "flatten_documents",
    "label_selector",
    "node_affinity",
    "node_selector_term",
]
