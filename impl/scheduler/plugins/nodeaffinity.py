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
    CycleContext,
    Plugin,
    PreFilterResult,
    Status,
    unresolvable,
)
from impl.scheduler.nodeinfo import NodeInfo
from models.scheduling import (
    EMPTY_LABELS,
    PreferredSchedulingTerm,
    required_node_affinity_matches,
)
from models.scheduling import NodeAffinity as NodeAffinityTerms

REASON_POD: Final = "node(s) didn't match Pod's node affinity/selector"
REASON_ENFORCED: Final = "node(s) didn't match scheduler-enforced node affinity"
REASON_CONFLICT: Final = "pod affinity terms conflict"


def _name_restriction(affinity: NodeAffinityTerms | None) -> frozenset[str] | None:
    """Node names the required terms allow through ``metadata.name In`` fields: the union over
    terms of each term's intersection; None when some term does not restrict names."""
    if affinity is None or not affinity.required:
        return None
    names: set[str] = set()
    for term in affinity.required:
        term_names: set[str] | None = None
        for requirement in term.match_fields:
            if requirement.key == "metadata.name" and requirement.operator == "In":
                values = set(requirement.values)
                term_names = values if term_names is None else term_names & values
        if term_names is None:
            return None
        names |= term_names
    return frozenset(names)


@final
class NodeAffinity(Plugin):
    """PreFilter, Filter, PreScore, Score and NormalizeScore of NodeAffinity."""

    name = "NodeAffinity"

    def filter_memo_key(self, context: CycleContext) -> object | None:
        return ()

    def score_memo_key(self, context: CycleContext) -> object | None:
        return ()

    def __init__(self, added_affinity: NodeAffinityTerms | None = None) -> None:
        self.added_affinity = added_affinity

    def pre_filter(self, context: CycleContext) -> PreFilterResult:
        pod = context.pod.pod
        affinity = pod.node_affinity
        no_required = affinity is None or affinity.required is None
        added_required = (
            self.added_affinity is not None and self.added_affinity.required is not None
        )
        if no_required and not added_required and not pod.node_selector:
            return PRE_FILTER_SKIP
        names = _name_restriction(affinity)
        if names is None:
            return PRE_FILTER_SUCCESS
        if not names:
            return PreFilterResult(status=unresolvable(REASON_CONFLICT))
        return PreFilterResult(node_names=names)

    def filter(self, context: CycleContext, node: NodeInfo) -> Status:
        added = self.added_affinity
        if (
            added is not None
            and added.required is not None
            and not required_node_affinity_matches(EMPTY_LABELS, added.required, node.node)
        ):
            return unresolvable(REASON_ENFORCED)
        pod = context.pod.pod
        required = pod.node_affinity.required if pod.node_affinity is not None else None
        if not required_node_affinity_matches(pod.node_selector, required, node.node):
            return unresolvable(REASON_POD)
        return SUCCESS

    def _preferred(self, context: CycleContext) -> tuple[PreferredSchedulingTerm, ...]:
        own = context.pod.pod.node_affinity
        terms = own.preferred if own is not None else ()
        if self.added_affinity is not None:
            terms = (*terms, *self.added_affinity.preferred)
        return terms

    def pre_score(self, context: CycleContext, nodes: Sequence[NodeInfo]) -> Status:
        terms = self._preferred(context)
        if not terms:
            return SKIP
        context.state[self.name] = terms
        return SUCCESS

    def score(self, context: CycleContext, node: NodeInfo) -> int:
        terms = context.state.get(self.name)
        if terms is None:
            terms = self._preferred(context)
        assert isinstance(terms, tuple)
        total = 0
        for term in terms:
            assert isinstance(term, PreferredSchedulingTerm)
            if term.weight != 0 and term.preference.matches(node.name, node.node.labels):
                total += term.weight
        return total

    def normalize_score(
        self,
        context: CycleContext,
        nodes: Sequence[NodeInfo],
        scores: list[int],
    ) -> list[int]:
        return default_normalize_score(INTEGERS, scores, reverse=False)
