"""NodeAffinity: ``spec.nodeSelector`` and required node affinity as a filter (with the
``metadata.name`` PreFilterResult shortcut), preferred terms as a score, and the
scheduler-enforced ``addedAffinity`` of NodeAffinityArgs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, final

from impl.scheduler.arithmetic import INTEGERS, default_normalize_score
from impl.scheduler.framework import (
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
)
from impl.scheduler.nodeinfo import NodeInfo
from impl.scheduler.podinfo import PodInfo
from models.k8s.core.pod import NodeAffinity as NodeAffinityTerms
from models.scheduling.matching import CompiledTerm, RequiredNodeAffinity, compile_term

REASON_POD: Final = "node(s) didn't match Pod's node affinity/selector"
REASON_ENFORCED: Final = "node(s) didn't match scheduler-enforced node affinity"
REASON_CONFLICT: Final = "pod affinity terms conflict"


def _name_restriction(required: RequiredNodeAffinity) -> frozenset[str] | None:
    """Node names the required terms allow through ``metadata.name In`` fields: the union over
    terms of each term's intersection; None when some term does not restrict names."""
    if not required.terms:
        return None
    names: set[str] = set()
    for term in required.terms:
        allowed = term.names_allowed()
        if allowed is None:
            return None
        names |= allowed
    return frozenset(names)


@final
class NodeAffinity(Plugin):
    """PreFilter, Filter, PreScore, Score and NormalizeScore of NodeAffinity."""

    name = "NodeAffinity"

    def __init__(self, added_affinity: NodeAffinityTerms | None = None) -> None:
        required = (
            added_affinity.required_during_scheduling_ignored_during_execution
            if added_affinity is not None
            else None
        )
        self.added_required = RequiredNodeAffinity(
            terms=tuple(compile_term(term) for term in required.node_selector_terms or ())
            if required is not None
            else None
        )
        preferred = (
            added_affinity.preferred_during_scheduling_ignored_during_execution
            if added_affinity is not None
            else None
        )
        self.added_preferred: tuple[tuple[int, CompiledTerm], ...] = tuple(
            (term.weight or 0, compile_term(term.preference)) for term in preferred or ()
        )

    def filter_memo_key(self, context: CycleContext) -> object | None:
        return ()

    def score_memo_key(self, context: CycleContext) -> object | None:
        return ()

    def pre_filter(self, context: CycleContext) -> PreFilterResult:
        required = context.pod.required_affinity
        if required.is_empty() and self.added_required.terms is None:
            return PRE_FILTER_SKIP
        names = _name_restriction(required)
        if names is None:
            return PRE_FILTER_SUCCESS
        if not names:
            return PreFilterResult(status=unresolvable(REASON_CONFLICT))
        return PreFilterResult(node_names=names)

    def _matches(self, pod: PodInfo, node: NodeInfo) -> str | None:
        if self.added_required.terms is not None and not self.added_required.matches(
            node.name, node.labels
        ):
            return REASON_ENFORCED
        if not pod.required_affinity.matches(node.name, node.labels):
            return REASON_POD
        return None

    def filter(self, context: CycleContext, node: NodeInfo) -> Status:
        reason = self._matches(context.pod, node)
        return SUCCESS if reason is None else unresolvable(reason)

    def _preferred(self, pod: PodInfo) -> tuple[tuple[int, CompiledTerm], ...]:
        return (*pod.preferred_node_terms, *self.added_preferred)

    def pre_score(self, context: CycleContext, nodes: Sequence[NodeInfo]) -> Status:
        terms = self._preferred(context.pod)
        if not terms:
            return SKIP
        context.state[self.name] = terms
        return SUCCESS

    def score(self, context: CycleContext, node: NodeInfo) -> int:
        terms = context.state.get(self.name)
        if terms is None:
            terms = self._preferred(context.pod)
        assert isinstance(terms, tuple)
        total = 0
        for weight, term in terms:
            if weight != 0 and term.matches(node.name, node.labels):
                total += weight
        return total

    def normalize_score(
        self, context: CycleContext, nodes: Sequence[NodeInfo], scores: list[int]
    ) -> list[int]:
        return default_normalize_score(INTEGERS, scores, reverse=False)

    def cluster_events(self) -> frozenset[EventKind]:
        return frozenset({EventKind.NODE_ADD, EventKind.NODE_UPDATE})

    def queueing_hint(self, event: ClusterEvent, pod: PodInfo) -> bool:
        node = event.node
        if node is None or self._matches(pod, node) is not None:
            return False
        return event.old_node is None or self._matches(pod, event.old_node) is not None
