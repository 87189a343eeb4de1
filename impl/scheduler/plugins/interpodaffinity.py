"""InterPodAffinity: required affinity, required anti-affinity and existing pods' required
anti-affinity as a filter (with the first-pod rule), preferred terms of both sides and existing
pods' required affinity (``hardPodAffinityWeight``) as a score normalized by min and max.

Counts are keyed by ``(topologyKey, value of the existing pod's node)``. The incoming pod's
namespaceSelector is merged into its namespace list over the known namespaces, as kube-scheduler
does with its namespace lister.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final, final

import msgspec

from impl.scheduler.framework import (
    PRE_FILTER_SKIP,
    PRE_FILTER_SUCCESS,
    SKIP,
    SUCCESS,
    CycleContext,
    Plugin,
    PreFilterResult,
    Status,
    unresolvable,
    unschedulable,
)
from impl.scheduler.nodeinfo import NodeInfo, Snapshot
from models.scheduling import (
    LabelSelector,
    Namespace,
    Pod,
    PodAffinityTerm,
    StringMap,
    namespace_labels,
)

REASON_AFFINITY: Final = "node(s) didn't match pod affinity rules"
REASON_ANTI_AFFINITY: Final = "node(s) didn't match pod anti-affinity rules"
REASON_EXISTING_ANTI_AFFINITY: Final = "node(s) didn't satisfy existing pods anti-affinity rules"

Pair = tuple[str, str]


@final
class Term(msgspec.Struct, frozen=True, kw_only=True):
    """``framework.AffinityTerm``: namespaces, namespace selector (None: none), label
    selector (None: nothing), topology key."""

    namespaces: frozenset[str]
    namespace_selector: LabelSelector | None
    selector: LabelSelector | None
    topology_key: str

    def matches(self, pod: Pod, labels_of_namespace: StringMap | None) -> bool:
        """``AffinityTerm.Matches``: namespace listed or selected, and labels selected."""
        in_namespace = pod.namespace in self.namespaces or (
            self.namespace_selector is not None
            and labels_of_namespace is not None
            and self.namespace_selector.matches(labels_of_namespace)
        )
        return in_namespace and self.selector is not None and self.selector.matches(pod.labels)


def compile_term(owner: Pod, term: PodAffinityTerm) -> Term:
    """A term of ``owner`` as ``NewPodInfo`` builds it: no namespaces and no selector means the
    owner's namespace."""
    namespaces = frozenset(term.namespaces)
    if not namespaces and term.namespace_selector is None:
        namespaces = frozenset({owner.namespace})
    return Term(
        namespaces=namespaces,
        namespace_selector=term.namespace_selector,
        selector=term.label_selector,
        topology_key=term.topology_key,
    )


def merge_namespaces(term: Term, namespaces: Iterable[Namespace]) -> Term:
    """``mergeAffinityTermNamespacesIfNotEmpty``: a non-empty-or-empty namespace selector is
    resolved against the known namespaces into the namespace list."""
    if term.namespace_selector is None:
        return term
    selector = term.namespace_selector
    selected = frozenset(ns.name for ns in namespaces if selector.matches(ns.labels))
    return Term(
        namespaces=term.namespaces | selected,
        namespace_selector=None,
        selector=term.selector,
        topology_key=term.topology_key,
    )


def _required(pod: Pod, anti: bool) -> tuple[PodAffinityTerm, ...]:
    affinity = pod.pod_anti_affinity if anti else pod.pod_affinity
    return affinity.required if affinity is not None else ()


def _preferred(pod: Pod, anti: bool) -> tuple[tuple[int, PodAffinityTerm], ...]:
    affinity = pod.pod_anti_affinity if anti else pod.pod_affinity
    if affinity is None:
        return ()
    return tuple((weighted.weight, weighted.term) for weighted in affinity.preferred)


def known_namespaces(snapshot: Snapshot, pod: Pod) -> list[Namespace]:
    """Declared namespaces and those implied by pods (with the default name label)."""
    names = {ns.name for ns in snapshot.namespaces}
    implied = {info.pod.namespace for node in snapshot.in_order() for info in node.pods}
    implied.add(pod.namespace)
    known = list(snapshot.namespaces)
    for name in sorted(implied - names):
        known.append(Namespace(name=name, labels=namespace_labels((), name)))
    return known


@final
class _FilterState(msgspec.Struct, frozen=True, kw_only=True):
    affinity_terms: tuple[Term, ...]
    anti_affinity_terms: tuple[Term, ...]
    existing_anti: dict[Pair, int]
    affinity_counts: dict[Pair, int]
    anti_counts: dict[Pair, int]


def _add(counts: dict[Pair, int], key: str, labels: StringMap) -> None:
    value = labels.get(key)
    if value is not None:
        counts[(key, value)] = counts.get((key, value), 0) + 1


@final
class InterPodAffinity(Plugin):
    """PreFilter, Filter, PreScore, Score and NormalizeScore of InterPodAffinity."""

    name = "InterPodAffinity"

    def __init__(
        self,
        hard_pod_affinity_weight: int = 1,
        ignore_preferred_terms_of_existing_pods: bool = False,
    ) -> None:
        self.hard_pod_affinity_weight = hard_pod_affinity_weight
        self.ignore_preferred_of_existing = ignore_preferred_terms_of_existing_pods

    def pre_filter(self, context: CycleContext) -> PreFilterResult:
        pod = context.pod.pod
        snapshot = context.snapshot
        own_labels = namespace_labels(snapshot.namespaces, pod.namespace)
        existing_anti: dict[Pair, int] = {}
        for node in snapshot.with_required_anti_affinity():
            for info in node.pods:
                for raw in _required(info.pod, anti=True):
                    term = compile_term(info.pod, raw)
                    if term.matches(pod, own_labels):
                        _add(existing_anti, term.topology_key, node.node.labels)
        required_terms = _required(pod, False) or _required(pod, True)
        namespaces = known_namespaces(snapshot, pod) if required_terms else []
        affinity = tuple(
            merge_namespaces(compile_term(pod, t), namespaces) for t in _required(pod, False)
        )
        anti = tuple(
            merge_namespaces(compile_term(pod, t), namespaces) for t in _required(pod, True)
        )
        if not existing_anti and not affinity and not anti:
            return PRE_FILTER_SKIP
        affinity_counts: dict[Pair, int] = {}
        anti_counts: dict[Pair, int] = {}
        if affinity or anti:
            for node in snapshot.in_order():
                for info in node.pods:
                    for term in affinity:
                        if term.matches(info.pod, None):
                            _add(affinity_counts, term.topology_key, node.node.labels)
                    for term in anti:
                        if term.matches(info.pod, None):
                            _add(anti_counts, term.topology_key, node.node.labels)
        context.state[self.name] = _FilterState(
            affinity_terms=affinity,
            anti_affinity_terms=anti,
            existing_anti=existing_anti,
            affinity_counts=affinity_counts,
            anti_counts=anti_counts,
        )
        return PRE_FILTER_SUCCESS

    def filter(self, context: CycleContext, node: NodeInfo) -> Status:
        state = context.state[self.name]
        assert isinstance(state, _FilterState)
        labels = node.node.labels
        if not _satisfies_affinity(state, context.pod.pod, labels):
            return unresolvable(REASON_AFFINITY)
        if state.anti_counts:
            for term in state.anti_affinity_terms:
                value = labels.get(term.topology_key)
                if value is not None and state.anti_counts.get((term.topology_key, value), 0) > 0:
                    return unschedulable(REASON_ANTI_AFFINITY)
        if state.existing_anti:
            for key, value in labels.items():
                if state.existing_anti.get((key, value), 0) > 0:
                    return unschedulable(REASON_EXISTING_ANTI_AFFINITY)
        return SUCCESS

    def pre_score(self, context: CycleContext, nodes: Sequence[NodeInfo]) -> Status:
        pod = context.pod.pod
        preferred_affinity = _preferred(pod, anti=False)
        preferred_anti = _preferred(pod, anti=True)
        has_constraints = bool(preferred_affinity or preferred_anti)
        if self.ignore_preferred_of_existing and not has_constraints:
            return SKIP
        snapshot = context.snapshot
        namespaces = known_namespaces(snapshot, pod) if has_constraints else []
        own_terms = tuple(
            (weight, merge_namespaces(compile_term(pod, t), namespaces), 1)
            for weight, t in preferred_affinity
        ) + tuple(
            (weight, merge_namespaces(compile_term(pod, t), namespaces), -1)
            for weight, t in preferred_anti
        )
        own_labels = namespace_labels(snapshot.namespaces, pod.namespace)
        scores: dict[Pair, int] = {}
        nodes_to_process = snapshot.in_order() if has_constraints else snapshot.with_affinity()
        for node in nodes_to_process:
            labels = node.node.labels
            if not labels:
                continue
            for info in node.pods:
                existing = info.pod
                if not has_constraints and not info.has_affinity:
                    continue
                for weight, term, sign in own_terms:
                    if term.matches(existing, None):
                        _score(scores, term.topology_key, labels, weight * sign)
                if self.hard_pod_affinity_weight > 0:
                    for raw in _required(existing, anti=False):
                        term = compile_term(existing, raw)
                        if term.matches(pod, own_labels):
                            _score(scores, term.topology_key, labels, self.hard_pod_affinity_weight)
                for sign, anti in ((1, False), (-1, True)):
                    for weight, raw in _preferred(existing, anti=anti):
                        term = compile_term(existing, raw)
                        if term.matches(pod, own_labels):
                            _score(scores, term.topology_key, labels, weight * sign)
        context.state[self.name + "/score"] = scores
        return SUCCESS

    def score_memo_key(self, context: CycleContext) -> object | None:
        scores = context.state[self.name + "/score"]
        assert isinstance(scores, dict)
        return frozenset(scores.items())

    def score(self, context: CycleContext, node: NodeInfo) -> int:
        scores = context.state[self.name + "/score"]
        assert isinstance(scores, dict)
        total = 0
        labels = node.node.labels
        for key, value in scores:
            if labels.get(key) == value:
                total += scores[(key, value)]
        return total

    def normalize_score(
        self,
        context: CycleContext,
        nodes: Sequence[NodeInfo],
        scores: list[int],
    ) -> list[int]:
        topology_scores = context.state[self.name + "/score"]
        assert isinstance(topology_scores, dict)
        if not topology_scores:
            return scores
        return min_max_normalize(scores)


def min_max_normalize(scores: Sequence[int]) -> list[int]:
    """InterPodAffinity's NormalizeScore (v1.27+): ``int64(100 * ((s - min) / (max - min)))``
    in float64; all 0 when max == min."""
    if not scores:
        return []
    lowest = min(scores)
    spread = max(scores) - lowest
    if spread <= 0:
        return [0 for _ in scores]
    return [int(100.0 * (float(score - lowest) / float(spread))) for score in scores]


def _score(scores: dict[Pair, int], key: str, labels: StringMap, amount: int) -> None:
    value = labels.get(key)
    if value is not None:
        scores[(key, value)] = scores.get((key, value), 0) + amount


def _satisfies_affinity(state: _FilterState, pod: Pod, labels: StringMap) -> bool:
    pods_exist = True
    for term in state.affinity_terms:
        value = labels.get(term.topology_key)
        if value is None:
            return False
        if state.affinity_counts.get((term.topology_key, value), 0) <= 0:
            pods_exist = False
    if pods_exist:
        return True
    return (
        not state.affinity_counts
        and bool(state.affinity_terms)
        and all(term.matches(pod, None) for term in state.affinity_terms)
    )
