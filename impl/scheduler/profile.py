"""A scheduling profile: the plugins of each extension point, in order, with score weights.

Built from a decoded KubeSchedulerConfiguration profile (:mod:`models.scheduler_config`): the
plugin names per extension point are resolved to plugin objects configured by the profile's
pluginConfig args.
"""

from __future__ import annotations

from typing import Final, final

import msgspec

from impl.scheduler.framework import Plugin
from impl.scheduler.plugins.basic import (
    DefaultBinder,
    ImageLocality,
    NodeName,
    NodePorts,
    NodeUnschedulable,
    PrioritySort,
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
from models.scheduler_config import PluginArgs, default_profile
from models.scheduler_config import Profile as ProfileConfig

PREEMPTION: Final = "DefaultPreemption"


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
        "filter",
        "percentage_of_nodes_to_score",
        "post_filter",
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
        pre_filter: tuple[Plugin, ...],
        filter: tuple[Plugin, ...],
        post_filter: tuple[str, ...],
        pre_score: tuple[Plugin, ...],
        score: tuple[tuple[Plugin, int], ...],
        bind: tuple[str, ...],
        percentage_of_nodes_to_score: int,
        preemption: PreemptionArgs,
    ) -> None:
        self.scheduler_name = scheduler_name
        self.queue_sort = queue_sort
        self.pre_filter = pre_filter
        self.filter = filter
        self.post_filter = post_filter
        self.pre_score = pre_score
        self.score = score
        self.bind = bind
        self.percentage_of_nodes_to_score = percentage_of_nodes_to_score
        self.preemption = preemption


def _instantiate(name: str, args: PluginArgs) -> Plugin | None:
    """The plugin object of a known in-tree plugin name (None for plugins not modelled)."""
    if name == "NodeResourcesFit":
        return NodeResourcesFit(
            ScoringStrategy(
                type=args.fit_strategy,
                resources=args.fit_resources,
                shape=args.fit_shape,
            ),
            frozenset(args.fit_ignored_resources),
            frozenset(args.fit_ignored_resource_groups),
        )
    if name == "NodeResourcesBalancedAllocation":
        return NodeResourcesBalancedAllocation(args.balanced_resources)
    if name == "NodeAffinity":
        return NodeAffinity(args.added_affinity)
    if name == "PodTopologySpread":
        return PodTopologySpread(args.spread_defaulting_type, args.spread_default_constraints)
    if name == "InterPodAffinity":
        return InterPodAffinity(
            args.hard_pod_affinity_weight, args.ignore_preferred_terms_of_existing_pods
        )
    simple: dict[str, type[Plugin]] = {
        "PrioritySort": PrioritySort,
        "NodeUnschedulable": NodeUnschedulable,
        "NodeName": NodeName,
        "NodePorts": NodePorts,
        "TaintToleration": TaintToleration,
        "ImageLocality": ImageLocality,
        "DefaultBinder": DefaultBinder,
    }
    factory = simple.get(name)
    return factory() if factory is not None else None


def build_profile(config: ProfileConfig | None = None) -> Profile:
    """Plugin objects for a decoded profile (the default profile when None). Plugins that the
    model does not implement (volume plugins, SchedulingGates) are left out."""
    config = config if config is not None else default_profile()
    cache: dict[str, Plugin | None] = {}

    def plugin(name: str) -> Plugin | None:
        if name not in cache:
            cache[name] = _instantiate(name, config.args)
        return cache[name]

    def point(names: tuple[str, ...], method: str) -> tuple[Plugin, ...]:
        found = [plugin(name) for name in names]
        return tuple(p for p in found if p is not None and p.implements(method))

    queue_sorts = point(config.queue_sort, "less")
    score = tuple((p, config.weights.get(p.name, 1)) for p in point(config.score, "score"))
    return Profile(
        scheduler_name=config.scheduler_name,
        queue_sort=queue_sorts[0] if queue_sorts else PrioritySort(),
        pre_filter=point(config.pre_filter, "pre_filter"),
        filter=point(config.filter, "filter"),
        post_filter=tuple(n for n in config.post_filter if n == PREEMPTION),
        pre_score=point(config.pre_score, "pre_score"),
        score=score,
        bind=config.bind,
        percentage_of_nodes_to_score=config.percentage_of_nodes_to_score,
        preemption=PreemptionArgs(
            min_candidate_nodes_percentage=config.args.min_candidate_nodes_percentage,
            min_candidate_nodes_absolute=config.args.min_candidate_nodes_absolute,
        ),
    )
