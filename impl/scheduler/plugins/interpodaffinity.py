"""InterPodAffinity: required affinity, required anti-affinity and existing pods' required
anti-affinity as a filter (with the first-pod rule), preferred terms of both sides and existing
pods' required affinity (``hardPodAffinityWeight``) as a score normalized by min and max.

Counts are keyed by ``(topologyKey, value of the existing pod's node)``. The incoming pod's
namespaceSelector is merged into its namespace list over the known namespaces, as kube-scheduler
does with its namespace lister (namespaces listed in the cluster file, and those pods live in).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, final

import msgspec

from impl.scheduler.framework import (
    POD_AND_NODE_EVENTS,
    PRE_FILTER_SKIP,
    PRE_FILTER_SUCCESS,
    SKIP,
    SUCCESS,
    ClusterEvent,
    CycleContext,
    EventKind,
    Plugin,
    PreFilterResult,
    Status,
    unresolvable,
    unschedulable,
)
from impl.scheduler.nodeinfo import NodeInfo
from impl.scheduler.podinfo import AffinityTerm, PodInfo
from impl.scheduler.snapshot import Snapshot
from models.scheduling.matching import namespace_labels

REASON_AFFINITY: Final = "node(s) didn't match pod affinity rules"
REASON_ANTI_AFFINITY: Final = "node(s) didn't match pod anti-affinity rules"
REASON_EXISTING_ANTI_AFFINITY: Final = "node(s) didn't satisfy existing pods anti-affinity rules"

Pair = tuple[str, str]


def known_namespaces(snapshot: Snapshot, pod: PodInfo) -> dict[str, Mapping[str, str]]:
    """Declared namespaces and those implied by pods, with their labels."""
    known: dict[str, Mapping[str, str]] = dict(snapshot.namespaces.items())
    implied = {info.namespace for node in snapshot.in_order() for info in node.pods}
    implied.add(pod.namespace)
    for name in sorted(implied - known.keys()):
        known[name] = namespace_labels({}, name)
    return known


def merge_namespaces(
    term: AffinityTerm, namespaces: Mapping[str, Mapping[str, str]]
) -> AffinityTerm:
    """``mergeAffinityTermNamespacesIfNotEmpty``: a namespace selector (even an empty one) is
    resolved against the known namespaces into the namespace list."""
    selector = term.namespace_selector
    if selector is None:
        return term
    selected = frozenset(name for name, labels in namespaces.items() if selector.matches(labels))
    return msgspec.structs.replace(
        term, namespaces=term.namespaces | selected, namespace_selector=None
    )


@final
class _FilterState(msgspec.Struct, frozen=True, kw_only=True):
    affinity_terms: tuple[AffinityTerm, ...]
    anti_affinity_terms: tuple[AffinityTerm, ...]
    existing_anti: dict[Pair, int]
    affinity_counts: dict[Pair, int]
    anti_counts: dict[Pair, int]


def _add(counts: dict[Pair, int], key: str, labels: Mapping[str, str], amount: int = 1) -> None:
    value = labels.get(key)
    if value is not None:
        counts[(key, value)] = counts.get((key, value), 0) + amount


def _own_labels(snapshot: Snapshot, pod: PodInfo) -> Mapping[str, str]:
    return namespace_labels(snapshot.namespaces, pod.namespace)


def _existing_anti(snapshot: Snapshot, pod: PodInfo) -> dict[Pair, int]:
    """Existing pods' required anti-affinity terms that select the incoming pod."""
    own_labels = _own_labels(snapshot, pod)
    counts: dict[Pair, int] = {}
    for node in snapshot.with_required_anti_affinity():
        for existing in node.pods:
            for term in existing.anti_required:
                if term.matches(pod, own_labels):
                    _add(counts, term.topology_key, node.labels)
    return counts


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
        pod = context.pod
        snapshot = context.snapshot
        existing_anti = _existing_anti(snapshot, pod)
        has_terms = bool(pod.affinity_required or pod.anti_required)
        namespaces = known_namespaces(snapshot, pod) if has_terms else {}
        affinity = tuple(merge_namespaces(t, namespaces) for t in pod.affinity_required)
        anti = tuple(merge_namespaces(t, namespaces) for t in pod.anti_required)
        if not existing_anti and not affinity and not anti:
            return PRE_FILTER_SKIP
        affinity_counts: dict[Pair, int] = {}
        anti_counts: dict[Pair, int] = {}
        if affinity or anti:
            for node in snapshot.in_order():
                for existing in node.pods:
                    for term in affinity:
                        if term.matches(existing, None):
                            _add(affinity_counts, term.topology_key, node.labels)
                    for term in anti:
                        if term.matches(existing, None):
                            _add(anti_counts, term.topology_key, node.labels)
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
        labels = node.labels
        if not _satisfies_affinity(state, context.pod, labels):
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

    def _own_terms(
        self, pod: PodInfo, snapshot: Snapshot
    ) -> tuple[tuple[int, AffinityTerm, int], ...]:
        if not (pod.affinity_preferred or pod.anti_preferred):
            return ()
        namespaces = known_namespaces(snapshot, pod)
        return tuple(
            (weight, merge_namespaces(term, namespaces), 1)
            for weight, term in pod.affinity_preferred
        ) + tuple(
            (weight, merge_namespaces(term, namespaces), -1) for weight, term in pod.anti_preferred
        )

    def _existing_terms(
        self,
        scores: dict[Pair, int],
        pod: PodInfo,
        existing: PodInfo,
        labels: Mapping[str, str],
        own: Mapping[str, str],
    ) -> None:
        if self.hard_pod_affinity_weight > 0:
            for term in existing.affinity_required:
                if term.matches(pod, own):
                    _add(scores, term.topology_key, labels, self.hard_pod_affinity_weight)
        for sign, preferred in ((1, existing.affinity_preferred), (-1, existing.anti_preferred)):
            for weight, term in preferred:
                if term.matches(pod, own):
                    _add(scores, term.topology_key, labels, weight * sign)

    def pre_score(self, context: CycleContext, nodes: Sequence[NodeInfo]) -> Status:
        pod = context.pod
        snapshot = context.snapshot
        own_terms = self._own_terms(pod, snapshot)
        has_constraints = bool(own_terms)
        if self.ignore_preferred_of_existing and not has_constraints:
            return SKIP
        own_labels = _own_labels(snapshot, pod)
        scores: dict[Pair, int] = {}
        nodes_to_process = snapshot.in_order() if has_constraints else snapshot.with_affinity()
        for node in nodes_to_process:
            labels = node.labels
            if not labels:
                continue
            for existing in node.pods:
                if not has_constraints and not existing.has_affinity:
                    continue
                for weight, term, sign in own_terms:
                    if term.matches(existing, None):
                        _add(scores, term.topology_key, labels, weight * sign)
                self._existing_terms(scores, pod, existing, labels, own_labels)
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
        labels = node.labels
        for key, value in scores:
            if labels.get(key) == value:
                total += scores[(key, value)]
        return total

    def normalize_score(
        self, context: CycleContext, nodes: Sequence[NodeInfo], scores: list[int]
    ) -> list[int]:
        topology_scores = context.state[self.name + "/score"]
        assert isinstance(topology_scores, dict)
        if not topology_scores:
            return scores
        return min_max_normalize(scores)

    def cluster_events(self) -> frozenset[EventKind]:
        return POD_AND_NODE_EVENTS

    def queueing_hint(self, event: ClusterEvent, pod: PodInfo) -> bool:
        other = event.pod
        if other is None:
            return True
        if event.kind is EventKind.ASSIGNED_POD_ADD:
            return any(term.matches(other, None) for term in pod.affinity_required)
        if any(term.matches(other, None) for term in pod.anti_required):
            return True
        return any(term.matches(pod, None) for term in other.anti_required)


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


def _satisfies_affinity(state: _FilterState, pod: PodInfo, labels: Mapping[str, str]) -> bool:
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
