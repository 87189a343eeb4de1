"""The scheduler's view of a pod: one projection of the API object (:mod:`models.k8s`),
computed once when the pod enters the scheduler (kube-scheduler's ``PodInfo``).

It holds what the plugins read, already interpreted: requests as amounts (exact, and with the
scoring defaults), host ports, tolerations, compiled node affinity, pod (anti-)affinity terms
and topology spread constraints with their selectors, normalized image names. Two pieces of API
server behaviour a hand-written manifest may lack are applied here, as the API server applies
them at creation: ``matchLabelKeys``/``mismatchLabelKeys`` of pod affinity terms join the
label selector (MatchLabelKeysInPodAffinity, GA), and request defaulting
(:mod:`models.scheduling.amounts`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, final

import immutables
import msgspec

from impl.scheduler.features import SchedulerFeatures
from models.k8s.codec import encode_json
from models.k8s.core.pod import Pod, PodAffinityTerm, Toleration, TopologySpreadConstraint
from models.scheduling.amounts import (
    CPU,
    MEMORY,
    RequestOptions,
    pod_requests,
    request_amounts,
)
from models.scheduling.cluster import pod_key
from models.scheduling.matching import (
    CompiledTerm,
    RequiredNodeAffinity,
    compile_selector,
    compile_term,
    required_node_affinity,
)
from models.selectors import Operator, Requirement, Selector

DEFAULT_SCHEDULER: Final = "default-scheduler"
EMPTY_MAP: Final[immutables.Map[str, str]] = immutables.Map()


@final
class AffinityTerm(msgspec.Struct, frozen=True, kw_only=True):
    """``framework.AffinityTerm``: namespaces, namespace selector (None: none), label
    selector, topology key."""

    namespaces: frozenset[str]
    namespace_selector: Selector | None
    selector: Selector
    topology_key: str

    def matches(self, pod: PodInfo, namespace_labels: Mapping[str, str] | None) -> bool:
        """``AffinityTerm.Matches``: namespace listed or selected, and labels selected."""
        in_namespace = pod.namespace in self.namespaces or (
            self.namespace_selector is not None
            and namespace_labels is not None
            and self.namespace_selector.matches(namespace_labels)
        )
        return in_namespace and self.selector.matches(pod.labels)


@final
class SpreadConstraint(msgspec.Struct, frozen=True, kw_only=True):
    """A topology spread constraint with API defaults applied and its selector compiled."""

    max_skew: int
    topology_key: str
    when_unsatisfiable: str
    selector: Selector
    min_domains: int = 1
    honor_node_affinity: bool = True
    honor_node_taints: bool = False


@final
class ShapeKey:
    """What node-local plugin results depend on besides the node (the spec as canonical JSON,
    the namespace, the labels), hashed once: pods of one shape share results."""

    __slots__ = ("_hash", "parts")

    def __init__(self, parts: tuple[object, ...]) -> None:
        self.parts = parts
        self._hash = hash(parts)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ShapeKey) and (self is other or self.parts == other.parts)


@final
class PodInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A pod as the plugins read it (see the module docstring)."""

    pod: Pod
    key: str
    name: str
    namespace: str
    uid: str
    labels: immutables.Map[str, str]
    scheduler_name: str
    node_name: str
    nominated_node_name: str
    priority: int
    preemption_policy: str
    terminating: bool
    start_time: str
    controller: tuple[str, str]
    requests: immutables.Map[str, int]
    """Exact requests (zero entries dropped): cpu in millicores, others in base units."""
    non_zero: immutables.Map[str, int]
    """Requests with the scoring defaults (100m cpu, 200Mi memory per container)."""
    host_ports: tuple[tuple[str, str, int], ...]
    tolerations: tuple[Toleration, ...]
    required_affinity: RequiredNodeAffinity
    preferred_node_terms: tuple[tuple[int, CompiledTerm], ...]
    affinity_required: tuple[AffinityTerm, ...]
    affinity_preferred: tuple[tuple[int, AffinityTerm], ...]
    anti_required: tuple[AffinityTerm, ...]
    anti_preferred: tuple[tuple[int, AffinityTerm], ...]
    spread_constraints: tuple[SpreadConstraint, ...]
    images: tuple[str, ...]
    scheduling_gates: tuple[str, ...]
    shape: ShapeKey

    @property
    def non_zero_cpu(self) -> int:
        return self.non_zero.get(CPU, 0)

    @property
    def non_zero_memory(self) -> int:
        return self.non_zero.get(MEMORY, 0)

    @property
    def has_affinity(self) -> bool:
        """Any pod affinity or anti-affinity term (required or preferred)."""
        return bool(
            self.affinity_required
            or self.affinity_preferred
            or self.anti_required
            or self.anti_preferred
        )

    @property
    def has_required_anti_affinity(self) -> bool:
        return bool(self.anti_required)


def normalized_image_name(name: str) -> str:
    """Append ``:latest`` when the image names no tag after its last ``/``."""
    if name.rfind(":") <= name.rfind("/"):
        return f"{name}:latest"
    return name


def _label_keys(
    labels: Mapping[str, str], keys: tuple[str, ...] | None, operator: Operator
) -> list[Requirement]:
    return [
        Requirement(key=key, operator=operator, values=(labels[key],))
        for key in keys or ()
        if key in labels
    ]


def affinity_term(
    owner_namespace: str, labels: Mapping[str, str], term: PodAffinityTerm
) -> AffinityTerm:
    """A term as ``NewPodInfo`` builds it: no namespaces and no namespace selector mean the
    owner's namespace; matchLabelKeys/mismatchLabelKeys join the selector."""
    namespaces = frozenset(term.namespaces or ())
    if not namespaces and term.namespace_selector is None:
        namespaces = frozenset({owner_namespace})
    selector = compile_selector(term.label_selector)
    extra = _label_keys(labels, term.match_label_keys, Operator.IN)
    extra += _label_keys(labels, term.mismatch_label_keys, Operator.NOT_IN)
    if extra and term.label_selector is not None:
        selector = selector.with_requirements(*extra)
    return AffinityTerm(
        namespaces=namespaces,
        namespace_selector=(
            compile_selector(term.namespace_selector)
            if term.namespace_selector is not None
            else None
        ),
        selector=selector,
        topology_key=term.topology_key or "",
    )


def spread_constraint(
    constraint: TopologySpreadConstraint, labels: Mapping[str, str], match_label_keys: bool
) -> SpreadConstraint:
    """A constraint with defaults (minDomains 1, nodeAffinityPolicy Honor, nodeTaintsPolicy
    Ignore) and ``matchLabelKeys`` folded into the selector as ``key In (pod's value)``."""
    selector = compile_selector(constraint.label_selector)
    if match_label_keys and constraint.label_selector is not None:
        extra = _label_keys(labels, constraint.match_label_keys, Operator.IN)
        if extra:
            selector = selector.with_requirements(*extra)
    return SpreadConstraint(
        max_skew=constraint.max_skew or 0,
        topology_key=constraint.topology_key or "",
        when_unsatisfiable=constraint.when_unsatisfiable or "",
        selector=selector,
        min_domains=constraint.min_domains if constraint.min_domains is not None else 1,
        honor_node_affinity=(constraint.node_affinity_policy or "Honor") == "Honor",
        honor_node_taints=(constraint.node_taints_policy or "Ignore") == "Honor",
    )


def _host_ports(pod: Pod) -> tuple[tuple[str, str, int], ...]:
    return tuple(
        (port.host_ip or "0.0.0.0", port.protocol or "TCP", port.host_port)
        for container in pod.pod_spec.containers or ()
        for port in container.ports or ()
        if port.host_port is not None and port.host_port > 0
    )


def _controller(pod: Pod) -> tuple[str, str]:
    reference = pod.meta.controller_reference()
    return ("", "") if reference is None else (reference.kind or "", reference.name or "")


def pod_info(pod: Pod, features: SchedulerFeatures, *, assigned: bool = False) -> PodInfo:
    """Project a pod. ``assigned`` pods (on a node) count resized requests from their status
    when InPlacePodVerticalScaling is on, as the scheduler cache does."""
    meta, spec, status = pod.meta, pod.pod_spec, pod.pod_status
    labels = meta.label_map()
    namespace = meta.namespace or "default"
    options = RequestOptions(
        pod_level=features.pod_level_resources, use_status=assigned and features.in_place_resize
    )
    exact = request_amounts(pod_requests(pod, options))
    non_zero = request_amounts(
        pod_requests(pod, msgspec.structs.replace(options, non_missing=True))
    )
    affinity = spec.affinity
    node_affinity = affinity.node_affinity if affinity is not None else None
    pod_affinity = affinity.pod_affinity if affinity is not None else None
    anti = affinity.pod_anti_affinity if affinity is not None else None

    def term(raw: PodAffinityTerm | None) -> AffinityTerm:
        return affinity_term(namespace, labels, raw or PodAffinityTerm())

    containers = (*(spec.init_containers or ()), *(spec.containers or ()))
    return PodInfo(
        pod=pod,
        key=pod_key(pod),
        name=meta.name or "",
        namespace=namespace,
        uid=meta.uid or "",
        labels=labels,
        scheduler_name=spec.scheduler_name or DEFAULT_SCHEDULER,
        node_name=spec.node_name or "",
        nominated_node_name=status.nominated_node_name or "",
        priority=spec.priority or 0,
        preemption_policy=spec.preemption_policy or "PreemptLowerPriority",
        terminating=meta.deletion_timestamp is not None,
        start_time=status.start_time or "",
        controller=_controller(pod),
        requests=immutables.Map({k: v for k, v in exact.items() if v != 0}),
        non_zero=immutables.Map(non_zero),
        host_ports=_host_ports(pod),
        tolerations=spec.tolerations or (),
        required_affinity=required_node_affinity(spec),
        preferred_node_terms=tuple(
            (p.weight or 0, compile_term(p.preference))
            for p in (node_affinity.preferred_during_scheduling_ignored_during_execution or ())
        )
        if node_affinity is not None
        else (),
        affinity_required=tuple(
            term(t)
            for t in (pod_affinity.required_during_scheduling_ignored_during_execution or ())
        )
        if pod_affinity is not None
        else (),
        affinity_preferred=tuple(
            (w.weight or 0, term(w.pod_affinity_term))
            for w in (pod_affinity.preferred_during_scheduling_ignored_during_execution or ())
        )
        if pod_affinity is not None
        else (),
        anti_required=tuple(
            term(t) for t in (anti.required_during_scheduling_ignored_during_execution or ())
        )
        if anti is not None
        else (),
        anti_preferred=tuple(
            (w.weight or 0, term(w.pod_affinity_term))
            for w in (anti.preferred_during_scheduling_ignored_during_execution or ())
        )
        if anti is not None
        else (),
        spread_constraints=tuple(
            spread_constraint(c, labels, features.match_label_keys_in_spread)
            for c in spec.topology_spread_constraints or ()
        ),
        images=tuple(normalized_image_name(c.image or "") for c in containers),
        scheduling_gates=tuple(g.name or "" for g in spec.scheduling_gates or ()),
        shape=ShapeKey((encode_json(spec, canonical_quantities=True), namespace, labels)),
    )


def bound_to(info: PodInfo, node: str) -> PodInfo:
    """The pod after binding: ``spec.nodeName`` set, nomination cleared. A pending pod has no
    container statuses, so its requests do not change."""
    pod = info.pod
    spec = msgspec.structs.replace(pod.pod_spec, node_name=node)
    status = msgspec.structs.replace(pod.pod_status, nominated_node_name=None)
    bound = msgspec.structs.replace(pod, spec=spec, status=status)
    return msgspec.structs.replace(info, pod=bound, node_name=node, nominated_node_name="")


def nominated_to(info: PodInfo, node: str) -> PodInfo:
    """The pod with ``status.nominatedNodeName`` set (empty: cleared)."""
    pod = info.pod
    status = msgspec.structs.replace(pod.pod_status, nominated_node_name=node or None)
    nominated = msgspec.structs.replace(pod, status=status)
    return msgspec.structs.replace(info, pod=nominated, nominated_node_name=node)
