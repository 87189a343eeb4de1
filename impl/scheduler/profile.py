"""A scheduling profile: the plugin objects of each extension point, in order, with score
weights, built from a resolved profile (:mod:`impl.scheduler.plugin_sets`) and the scheduler's
feature gates.
"""

from __future__ import annotations

from typing import Final, final

import msgspec
from returns.result import Failure, Result, Success

from impl.scheduler.features import DEFAULT_FEATURES, SchedulerFeatures
from impl.scheduler.framework import Plugin
from impl.scheduler.plugin_sets import ResolvedProfile, resolve_profiles
from impl.scheduler.plugins.basic import (
    DefaultBinder,
    ImageLocality,
    NodeName,
    NodePorts,
    NodeUnschedulable,
    PrioritySort,
    SchedulingGates,
    TaintToleration,
)
from impl.scheduler.plugins.interpodaffinity import InterPodAffinity
from impl.scheduler.plugins.nodeaffinity import NodeAffinity
from impl.scheduler.plugins.noderesources import (
    NodeResourcesBalancedAllocation,
    NodeResourcesFit,
    ScoringStrategy,
)
from impl.scheduler.plugins.topologyspread import PodTopologySpread
from impl.scheduler.plugins.unmodelled import VOLUME_PLUGINS, DynamicResources, VolumePlugin
from models.feature_gates import DEFAULT_GATES, FeatureGates
from models.scheduler_args import PluginArgs
from models.scheduler_config import ConfigError, SchedulerConfiguration

PREEMPTION: Final = "DefaultPreemption"
DYNAMIC_RESOURCES: Final = "DynamicResources"


@final
class PreemptionArgs(msgspec.Struct, frozen=True, kw_only=True):
    """DefaultPreemptionArgs."""

    min_candidate_nodes_percentage: int = 10
    min_candidate_nodes_absolute: int = 100


@final
class Profile:
    """The plugins of one profile, per extension point in run order."""

    __slots__ = (
        "bind",
        "features",
        "filter",
        "percentage_of_nodes_to_score",
        "post_filter",
        "pre_enqueue",
        "pre_filter",
        "pre_score",
        "preemption",
        "queue_sort",
        "scheduler_name",
        "score",
    )

    def __init__(
        self,
        *,
        scheduler_name: str,
        queue_sort: Plugin,
        pre_enqueue: tuple[Plugin, ...],
        pre_filter: tuple[Plugin, ...],
        filter: tuple[Plugin, ...],
        post_filter: tuple[str, ...],
        pre_score: tuple[Plugin, ...],
        score: tuple[tuple[Plugin, int], ...],
        bind: tuple[str, ...],
        percentage_of_nodes_to_score: int,
        preemption: PreemptionArgs,
        features: SchedulerFeatures,
    ) -> None:
        self.scheduler_name = scheduler_name
        self.queue_sort = queue_sort
        self.pre_enqueue = pre_enqueue
        self.pre_filter = pre_filter
        self.filter = filter
        self.post_filter = post_filter
        self.pre_score = pre_score
        self.score = score
        self.bind = bind
        self.percentage_of_nodes_to_score = percentage_of_nodes_to_score
        self.preemption = preemption
        self.features = features

    def with_percentage(self, percentage: int) -> Profile:
        """The same profile with another ``percentageOfNodesToScore``."""
        return self.replaced(percentage_of_nodes_to_score=percentage)

    def replaced(
        self,
        *,
        scheduler_name: str | None = None,
        pre_filter: tuple[Plugin, ...] | None = None,
        filter: tuple[Plugin, ...] | None = None,
        pre_score: tuple[Plugin, ...] | None = None,
        score: tuple[tuple[Plugin, int], ...] | None = None,
        percentage_of_nodes_to_score: int | None = None,
    ) -> Profile:
        """The same profile with the given fields replaced."""
        percentage = percentage_of_nodes_to_score
        return Profile(
            scheduler_name=self.scheduler_name if scheduler_name is None else scheduler_name,
            queue_sort=self.queue_sort,
            pre_enqueue=self.pre_enqueue,
            pre_filter=self.pre_filter if pre_filter is None else pre_filter,
            filter=self.filter if filter is None else filter,
            post_filter=self.post_filter,
            pre_score=self.pre_score if pre_score is None else pre_score,
            score=self.score if score is None else score,
            bind=self.bind,
            percentage_of_nodes_to_score=(
                self.percentage_of_nodes_to_score if percentage is None else percentage
            ),
            preemption=self.preemption,
            features=self.features,
        )

    def plugins(self) -> tuple[Plugin, ...]:
        """Every distinct plugin object of the profile (for cluster event registrations)."""
        seen: dict[str, Plugin] = {}
        for plugin in (*self.pre_enqueue, *self.pre_filter, *self.filter, *self.pre_score):
            seen.setdefault(plugin.name, plugin)
        for plugin, _ in self.score:
            seen.setdefault(plugin.name, plugin)
        return tuple(seen.values())


def _instantiate(name: str, args: PluginArgs, features: SchedulerFeatures) -> Plugin | None:
    """The plugin object of an in-tree plugin name (None for plugins without a model)."""
    operators = features.comparison_operators
    if name == "NodeResourcesFit":
        strategy = ScoringStrategy(
            type=args.fit_strategy, resources=args.fit_resources, shape=args.fit_shape
        )
        return NodeResourcesFit(
            strategy,
            frozenset(args.fit_ignored_resources),
            frozenset(args.fit_ignored_resource_groups),
        )
    if name == "NodeResourcesBalancedAllocation":
        return NodeResourcesBalancedAllocation(args.balanced_resources)
    if name == "NodeAffinity":
        return NodeAffinity(args.added_affinity)
    if name == "PodTopologySpread":
        defaults = tuple(
            (c.max_skew or 0, c.topology_key or "", c.when_unsatisfiable or "")
            for c in args.spread_default_constraints
        )
        return PodTopologySpread(args.spread_defaulting_type, defaults, operators)
    if name == "InterPodAffinity":
        return InterPodAffinity(
            args.hard_pod_affinity_weight, args.ignore_preferred_terms_of_existing_pods
        )
    if name in ("NodeUnschedulable", "TaintToleration"):
        return (
            NodeUnschedulable(operators)
            if name == "NodeUnschedulable"
            else TaintToleration(operators)
        )
    if name in VOLUME_PLUGINS:
        return VolumePlugin(name)
    simple: dict[str, type[Plugin]] = {
        "PrioritySort": PrioritySort,
        "SchedulingGates": SchedulingGates,
        "NodeName": NodeName,
        "NodePorts": NodePorts,
        "ImageLocality": ImageLocality,
        "DefaultBinder": DefaultBinder,
        DYNAMIC_RESOURCES: DynamicResources,
    }
    factory = simple.get(name)
    return factory() if factory is not None else None


def build_profile(
    resolved: ResolvedProfile, features: SchedulerFeatures = DEFAULT_FEATURES
) -> Profile:
    """Plugin objects for a resolved profile."""
    config = resolved.config
    cache: dict[str, Plugin | None] = {}

    def plugin(name: str) -> Plugin | None:
        if name not in cache:
            cache[name] = _instantiate(name, config.args, features)
        return cache[name]

    def point(names: tuple[str, ...], method: str) -> tuple[Plugin, ...]:
        found = [plugin(name) for name in names]
        return tuple(p for p in found if p is not None and p.implements(method))

    queue_sorts = point(resolved.at("queueSort"), "less")
    score = tuple(
        (p, resolved.weights.get(p.name, 1)) for p in point(resolved.at("score"), "score")
    )
    return Profile(
        scheduler_name=resolved.scheduler_name,
        queue_sort=queue_sorts[0] if queue_sorts else PrioritySort(),
        pre_enqueue=point(resolved.at("preEnqueue"), "pre_enqueue"),
        pre_filter=point(resolved.at("preFilter"), "pre_filter"),
        filter=point(resolved.at("filter"), "filter"),
        post_filter=tuple(
            n for n in resolved.at("postFilter") if n in (PREEMPTION, DYNAMIC_RESOURCES)
        ),
        pre_score=point(resolved.at("preScore"), "pre_score"),
        score=score,
        bind=resolved.at("bind"),
        percentage_of_nodes_to_score=config.percentage_of_nodes_to_score,
        preemption=PreemptionArgs(
            min_candidate_nodes_percentage=config.args.min_candidate_nodes_percentage,
            min_candidate_nodes_absolute=config.args.min_candidate_nodes_absolute,
        ),
        features=features,
    )


def build_profiles(
    config: SchedulerConfiguration,
    gates: FeatureGates = DEFAULT_GATES,
    features: SchedulerFeatures = DEFAULT_FEATURES,
) -> Result[dict[str, Profile], ConfigError]:
    """Profiles by schedulerName for a decoded configuration (``features`` are what the
    plugins read of ``gates``)."""
    resolved = resolve_profiles(config, gates)
    if isinstance(resolved, Failure):
        return Failure(resolved.failure())
    return Success({p.scheduler_name: build_profile(p, features) for p in resolved.unwrap()})


def default_profile(features: SchedulerFeatures = DEFAULT_FEATURES) -> Profile:
    """The default profile (``default-scheduler`` with the default plugins)."""
    profiles = build_profiles(SchedulerConfiguration(), DEFAULT_GATES, features)
    assert isinstance(profiles, Success), "the default configuration is valid"
    found: dict[str, Profile] = profiles.unwrap()
    return found["default-scheduler"]
