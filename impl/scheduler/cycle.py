"""One scheduling cycle up to host selection: PreFilter, Filter over the nodes from the
round-robin start index until ``numFeasibleNodesToFind`` feasible nodes are found, PreScore,
Score, NormalizeScore, weights, and the set of top-scoring nodes.

Theory of operation. kube-scheduler runs Filter on nodes in parallel and stops once enough
feasible nodes are found; this model scans them sequentially in node-tree order starting at
``start_index`` (one of the outcomes the parallel search allows). Which top-scoring node is
chosen is not decided here: the result carries the whole top set, and the caller supplies the
choice (kube-scheduler draws it at random).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain, islice, repeat
from operator import add, mul
from typing import final

import msgspec

from impl.scheduler.arithmetic import INTEGERS, num_feasible_nodes_to_find, top_scoring_flags
from impl.scheduler.framework import (
    FILTER_OUT_BY_PRE_FILTER_RESULT,
    SUCCESS,
    Code,
    CycleContext,
    Plugin,
    Status,
    unresolvable,
)
from impl.scheduler.nodeinfo import NodeInfo
from impl.scheduler.plugins.unmodelled import NOT_EVALUATED
from impl.scheduler.podinfo import PodInfo
from impl.scheduler.profile import Profile
from impl.scheduler.results_cache import RAW_ONLY_NORMALIZE, ResultsCache
from impl.scheduler.snapshot import Snapshot


@final
class PluginScore(msgspec.Struct, frozen=True, kw_only=True):
    """One score plugin's result for one node: raw, normalized, times the weight."""

    plugin: str
    weight: int
    raw: int
    normalized: int
    weighted: int


@final
class CycleResult(msgspec.Struct, frozen=True, kw_only=True):
    """Everything one cycle decided, per node and overall."""

    pod: str
    profile: str
    node_count: int
    pre_filter_status: Status | None
    """A PreFilter rejection, which applies to every node."""
    statuses: tuple[tuple[str, Status], ...]
    """Failing nodes with the first failing filter's status, in evaluation order."""
    feasible: tuple[str, ...]
    scores: tuple[tuple[str, tuple[PluginScore, ...]], ...]
    totals: tuple[tuple[str, int], ...]
    top: tuple[str, ...]
    """The nodes sharing the highest total, sorted by name (any one may be chosen)."""
    next_start_index: int
    skipped_filters: frozenset[str] = frozenset()
    """Plugins whose PreFilter returned Skip (their Filter did not run)."""
    skipped_scores: frozenset[str] = frozenset()
    """Score plugins whose PreScore returned Skip."""
    not_evaluated: tuple[str, ...] = ()
    """Plugins this model does not evaluate that would have looked at the pod."""

    def unschedulable_plugins(self) -> frozenset[str]:
        """The plugins that rejected the pod on some node (``Diagnosis.UnschedulablePlugins``)."""
        plugins = {status.plugin for _, status in self.statuses if status.plugin}
        if self.pre_filter_status is not None and self.pre_filter_status.plugin:
            plugins.add(self.pre_filter_status.plugin)
        return frozenset(plugins)


Scores = tuple[tuple[str, tuple["PluginScore", ...]], ...]
Totals = tuple[tuple[str, int], ...]


class PreFilterOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """PreFilter's overall result: a rejection, the allowed node names, skipped plugins."""

    rejection: Status | None
    allowed: frozenset[str] | None
    allowed_by: str
    skipped: frozenset[str]


def run_pre_filter(profile: Profile, context: CycleContext) -> PreFilterOutcome:
    """``RunPreFilterPlugins``: stop at the first rejection; intersect node-name results."""
    skipped: set[str] = set()
    allowed: frozenset[str] | None = None
    allowed_by: list[str] = []
    for plugin in profile.pre_filter:
        result = plugin.pre_filter(context)
        status = result.status
        if status.code == Code.SKIP:
            skipped.add(plugin.name)
            continue
        if status.code != Code.SUCCESS:
            rejection = Status(code=status.code, reasons=status.reasons, plugin=plugin.name)
            return PreFilterOutcome(
                rejection=rejection, allowed=None, allowed_by="", skipped=frozenset(skipped)
            )
        if result.node_names is not None:
            allowed = result.node_names if allowed is None else allowed & result.node_names
            allowed_by.append(plugin.name)
            if not allowed:
                names = " ".join(allowed_by)
                rejection = unresolvable(
                    f"node(s) didn't satisfy plugin(s) [{names}] simultaneously"
                )
                return PreFilterOutcome(
                    rejection=rejection, allowed=None, allowed_by="", skipped=frozenset(skipped)
                )
    return PreFilterOutcome(
        rejection=None,
        allowed=allowed,
        allowed_by=" ".join(allowed_by),
        skipped=frozenset(skipped),
    )


def run_filters(
    profile: Profile, context: CycleContext, node: NodeInfo, skipped: frozenset[str]
) -> Status:
    """``RunFilterPlugins``: the first non-success status, with its plugin named."""
    return _run_active(_active_filters(profile, skipped), context, node)


def _active_filters(profile: Profile, skipped: frozenset[str]) -> tuple[Plugin, ...]:
    return tuple(plugin for plugin in profile.filter if plugin.name not in skipped)


def _run_active(filters: tuple[Plugin, ...], context: CycleContext, node: NodeInfo) -> Status:
    for plugin in filters:
        status = plugin.filter(context, node)
        if status.code is not Code.SUCCESS:
            return Status(code=status.code, reasons=status.reasons, plugin=plugin.name)
    return SUCCESS


def _filter_key(
    profile: Profile, context: CycleContext, filters: tuple[Plugin, ...]
) -> object | None:
    keys = tuple(plugin.filter_memo_key(context) for plugin in filters)
    if any(key is None for key in keys):
        return None
    return ("filter", profile.scheduler_name, context.pod.shape, keys)


def _nominated_by_node(context: CycleContext) -> dict[str, list[PodInfo]]:
    """Nominated pods of at least the pod's priority, by node (the pod itself excluded)."""
    pod = context.pod
    by_node: dict[str, list[PodInfo]] = {}
    for other in context.snapshot.nominated:
        if other.key != pod.key and other.priority >= pod.priority:
            by_node.setdefault(other.nominated_node_name, []).append(other)
    return by_node


def _filter_with_nominated(
    profile: Profile,
    context: CycleContext,
    node: NodeInfo,
    nominated: list[PodInfo],
    filters: tuple[Plugin, ...],
) -> Status:
    """``RunFilterPluginsWithNominatedPods``: the node must fit with the nominated pods added
    (PreFilter state recomputed with them) and, if so, also without them."""
    crowded = node
    for info in nominated:
        crowded = crowded.with_pod(info, -1)
    trial = CycleContext(context.pod, context.snapshot.with_node(crowded))
    outcome = run_pre_filter(profile, trial)
    if outcome.rejection is not None:
        return outcome.rejection
    status = _run_active(filters, trial, crowded)
    if status.code is not Code.SUCCESS:
        return status
    return _run_active(filters, context, node)


def _no_table(_: str) -> tuple[int, Status] | None:
    return None


def find_feasible(
    profile: Profile,
    context: CycleContext,
    nodes: Sequence[NodeInfo],
    skipped: frozenset[str],
    start_index: int,
    cache: ResultsCache,
) -> tuple[list[NodeInfo], list[tuple[str, Status]], int, ResultsCache]:
    """Feasible nodes, failures, the next start index (``findNodesThatPassFilters``) and the
    cache with this cycle's node-local filter results."""
    if not nodes:
        return [], [], start_index, cache
    wanted = num_feasible_nodes_to_find(profile.percentage_of_nodes_to_score, len(nodes))
    filters = _active_filters(profile, skipped)
    key = _filter_key(profile, context, filters)
    get = cache.filter_table(key).get if key is not None else _no_table
    fresh: list[tuple[str, int, Status]] = []
    feasible: list[NodeInfo] = []
    failures: list[tuple[str, Status]] = []
    count = len(nodes)
    success = Code.SUCCESS
    nominated = _nominated_by_node(context)
    start = start_index % count
    found = 0
    add_feasible, add_failure, add_fresh = feasible.append, failures.append, fresh.append
    cacheable = key is not None
    for node in chain(islice(nodes, start, None), islice(nodes, start)):
        name = node.name
        if nominated and name in nominated:
            status = _filter_with_nominated(profile, context, node, nominated[name], filters)
        else:
            known = get(name)
            if known is not None and known[0] == node.generation:
                status = known[1]
            else:
                status = _run_active(filters, context, node)
                if cacheable:
                    add_fresh((name, node.generation, status))
        if status.code is success:
            add_feasible(node)
            found += 1
            if found >= wanted:
                break
        else:
            add_failure((name, status))
    if key is not None and fresh:
        cache = cache.with_filters(key, fresh)
    processed = len(feasible) + len(failures)
    return feasible, failures, (start_index + processed) % count, cache


def _cached_scores(
    plugins: Sequence[Plugin],
    folded_weights: tuple[int, ...],
    context: CycleContext,
    feasible: Sequence[NodeInfo],
    key: object,
    cache: ResultsCache,
) -> tuple[list[tuple[int, ...]], ResultsCache]:
    """Per node, the raw scores of cacheable plugins followed by the weighted sum of those
    whose raw score is final (``folded_weights``: their weight, 0 for the others); one lookup
    per node."""
    rows: list[tuple[int, ...]] = []
    fresh: list[tuple[str, int, tuple[int, ...]]] = []
    get = cache.score_table(key).get
    add_row = rows.append
    for node in feasible:
        known = get(node.name)
        if known is not None and known[0] == node.generation:
            add_row(known[1])
        else:
            scores = [plugin.score(context, node) for plugin in plugins]
            row = (*scores, sum(map(mul, scores, folded_weights)))
            fresh.append((node.name, node.generation, row))
            add_row(row)
    return rows, cache.with_scores(key, fresh)


def _normalize(
    plugin: Plugin,
    context: CycleContext,
    feasible: Sequence[NodeInfo],
    raw: list[int],
    cache: ResultsCache,
) -> tuple[list[int], ResultsCache]:
    if not plugin.implements("normalize_score"):
        return raw, cache
    if plugin.name not in RAW_ONLY_NORMALIZE:
        return plugin.normalize_score(context, feasible, list(raw)), cache
    key = (plugin.name, tuple(raw))
    known = cache.normalized.get(key)
    if known is None:
        known = tuple(plugin.normalize_score(context, feasible, list(raw)))
        cache = cache.with_normalized(key, known)
    return list(known), cache


def _raw_score_lists(
    profile: Profile,
    active: Sequence[tuple[Plugin, int]],
    context: CycleContext,
    feasible: Sequence[NodeInfo],
    cache: ResultsCache,
    detailed: bool,
) -> tuple[dict[str, list[int]], list[int], frozenset[str], ResultsCache]:
    """Raw scores per plugin, the weighted sum per node of the cacheable plugins that do not
    normalize (``folded``: their columns are left out unless ``detailed``) and the cache.
    Cacheable plugins' scores come from the cache when known."""
    keys = {plugin.name: plugin.score_memo_key(context) for plugin, _ in active}
    cached = [(plugin, weight) for plugin, weight in active if keys[plugin.name] is not None]
    raw: dict[str, list[int]] = {}
    base = [0] * len(feasible)
    folded: frozenset[str] = frozenset()
    if cached:
        folded_weights = tuple(
            0 if plugin.implements("normalize_score") else weight for plugin, weight in cached
        )
        folded = frozenset(
            plugin.name for (plugin, _), w in zip(cached, folded_weights, strict=True) if w
        )
        key = (
            "score",
            profile.scheduler_name,
            context.pod.shape,
            tuple((plugin.name, weight, keys[plugin.name]) for plugin, weight in cached),
        )
        plugins = [plugin for plugin, _ in cached]
        rows, cache = _cached_scores(plugins, folded_weights, context, feasible, key, cache)
        base = [row[-1] for row in rows]
        for index, plugin in enumerate(plugins):
            if detailed or plugin.name not in folded:
                raw[plugin.name] = [row[index] for row in rows]
    for plugin, _ in active:
        if plugin.name not in raw and plugin.name not in folded:
            raw[plugin.name] = [plugin.score(context, node) for node in feasible]
    return raw, base, folded, cache


def prioritize(
    profile: Profile,
    context: CycleContext,
    feasible: Sequence[NodeInfo],
    cache: ResultsCache,
    *,
    detailed: bool = True,
) -> tuple[Scores, Totals, frozenset[str], ResultsCache]:
    """PreScore, Score, NormalizeScore and weights over the feasible nodes: per-plugin scores
    (empty without ``detailed``), totals, the plugins PreScore skipped, the updated cache."""
    skipped: set[str] = set()
    for plugin in profile.pre_score:
        if plugin.pre_score(context, feasible).code is Code.SKIP:
            skipped.add(plugin.name)
    per_plugin: list[tuple[str, int, list[int], list[int]]] = []
    active = [(plugin, weight) for plugin, weight in profile.score if plugin.name not in skipped]
    raw_lists, totals, folded, cache = _raw_score_lists(
        profile, active, context, feasible, cache, detailed
    )
    for plugin, weight in active:
        if plugin.name in folded:
            if detailed:
                raw = raw_lists[plugin.name]
                per_plugin.append((plugin.name, weight, raw, raw))
            continue
        raw = raw_lists[plugin.name]
        normalized, cache = _normalize(plugin, context, feasible, raw, cache)
        totals = list(map(add, totals, map(mul, normalized, repeat(weight, len(normalized)))))
        if detailed:
            per_plugin.append((plugin.name, weight, raw, normalized))
    names = [node.name for node in feasible]
    skipped_scores = frozenset(skipped & {p.name for p, _ in profile.score})
    if not detailed:
        return (), tuple(zip(names, totals, strict=True)), skipped_scores, cache
    scores = tuple(
        (
            name,
            tuple(
                PluginScore(
                    plugin=plugin_name,
                    weight=weight,
                    raw=raw[index],
                    normalized=normalized[index],
                    weighted=normalized[index] * weight,
                )
                for plugin_name, weight, raw, normalized in per_plugin
            ),
        )
        for index, name in enumerate(names)
    )
    return scores, tuple(zip(names, totals, strict=True)), skipped_scores, cache


def top_scoring(totals: Sequence[tuple[str, int]]) -> tuple[str, ...]:
    """Every node whose total equals the maximum, sorted by name."""
    if not totals:
        return ()
    flags = top_scoring_flags(INTEGERS, [total for _, total in totals])
    names = [name for (name, _), top in zip(totals, flags, strict=True) if top]
    names.sort()
    return tuple(names)


def _rejected_at_pre_filter(
    profile: Profile, pod: PodInfo, nodes: Sequence[NodeInfo], rejection: Status, start_index: int
) -> CycleResult:
    return CycleResult(
        pod=pod.key,
        profile=profile.scheduler_name,
        node_count=len(nodes),
        pre_filter_status=rejection,
        statuses=tuple((node.name, rejection) for node in nodes),
        feasible=(),
        scores=(),
        totals=(),
        top=(),
        next_start_index=start_index,
    )


def run_cycle(
    profile: Profile,
    snapshot: Snapshot,
    pod: PodInfo,
    start_index: int = 0,
    cache: ResultsCache | None = None,
    *,
    detailed: bool = True,
) -> tuple[CycleResult, CycleContext, ResultsCache]:
    """PreFilter through host selection for one pod (``schedulePod``); ``cache`` (empty when
    None) only saves work, and comes back with this cycle's results."""
    cache = cache if cache is not None else ResultsCache()
    context = CycleContext(pod, snapshot)
    nodes = snapshot.in_order()
    outcome = run_pre_filter(profile, context)
    if outcome.rejection is not None:
        return (
            _rejected_at_pre_filter(profile, pod, nodes, outcome.rejection, start_index),
            context,
            cache,
        )
    snapshot_size = len(nodes)
    excluded: list[tuple[str, Status]] = []
    if outcome.allowed is not None:
        status = Status(
            code=Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
            reasons=(FILTER_OUT_BY_PRE_FILTER_RESULT,),
            plugin=outcome.allowed_by,
        )
        excluded = [(node.name, status) for node in nodes if node.name not in outcome.allowed]
        nodes = tuple(node for node in nodes if node.name in outcome.allowed)
    feasible, failures, next_index, cache = find_feasible(
        profile, context, nodes, outcome.skipped, start_index, cache
    )
    skipped_scores: frozenset[str] = frozenset()
    if len(feasible) == 1:
        scores: Scores = ((feasible[0].name, ()),)
        totals: Totals = ((feasible[0].name, 0),)
    else:
        scores, totals, skipped_scores, cache = prioritize(
            profile, context, feasible, cache, detailed=detailed
        )
    not_evaluated = context.state.get(NOT_EVALUATED, ())
    assert isinstance(not_evaluated, tuple)
    result = CycleResult(
        pod=pod.key,
        profile=profile.scheduler_name,
        node_count=snapshot_size,
        pre_filter_status=None,
        statuses=tuple(excluded + failures),
        feasible=tuple([node.name for node in feasible]),
        scores=scores,
        totals=totals,
        top=top_scoring(totals),
        next_start_index=next_index,
        skipped_filters=outcome.skipped,
        skipped_scores=skipped_scores,
        not_evaluated=not_evaluated,
    )
    return result, context, cache


def fit_error_message(node_count: int, result: CycleResult, post_filter_message: str) -> str:
    """``FitError.Error()``: ``0/N nodes are available: <sorted reason histogram>.`` plus the
    PostFilter message as it is (its own punctuation ends it)."""
    message = f"0/{node_count} nodes are available:"
    if result.pre_filter_status is not None:
        message += f" {', '.join(result.pre_filter_status.reasons)}."
    else:
        histogram: dict[str, int] = {}
        for _, status in result.statuses:
            for reason in status.reasons:
                histogram[reason] = histogram.get(reason, 0) + 1
        entries = sorted(f"{count} {reason}" for reason, count in histogram.items())
        if entries:
            message += f" {', '.join(entries)}."
    if post_filter_message:
        message += f" {post_filter_message}"
    return message
