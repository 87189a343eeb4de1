"""The plugins of each extension point of a profile, after kube-scheduler's merge rules.

Defaults (``getDefaultPlugins`` at v1.35, all through ``multiPoint``, in this order):
SchedulingGates, PrioritySort, NodeUnschedulable, NodeName, TaintToleration (weight 3),
NodeAffinity (2), NodePorts, NodeResourcesFit (1), VolumeRestrictions, NodeVolumeLimits,
VolumeBinding, VolumeZone, PodTopologySpread (2), InterPodAffinity (2), DynamicResources,
DefaultPreemption, NodeResourcesBalancedAllocation (1), ImageLocality (1), DefaultBinder.
DynamicResources sits just before DefaultPreemption because DynamicResourceAllocation is locked
on (deallocating an idle claim beats evicting a pod). The alpha plugins NodeDeclaredFeatures and
GangScheduling, which join when their gates are on, are not modelled (``impl.scheduler.features``
refuses those gates).

Merge (``mergePluginSet`` and the framework's MultiPoint expansion): per extension point, the
user's ``disabled`` names (``*`` = all) drop default plugins, a user ``enabled`` entry naming a
default plugin replaces it in place, other entries are appended. MultiPoint plugins then join
every point they implement unless disabled there; plugins also named at the specific point
keep that point's position first, then MultiPoint ones, then the rest. A score weight comes
from the Score point, then MultiPoint; 0 means 1. After merging, a profile needs exactly one
queueSort plugin (the same in every profile) and at least one bind plugin.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, final

import immutables
import msgspec
from returns.result import Failure, Result, Success

from models.feature_gates import FeatureGates
from models.scheduler_config import (
    MULTI_POINT,
    PLUGIN_POINTS,
    POINTS,
    ConfigError,
    PluginEntry,
    PluginSet,
    ProfileConfig,
    SchedulerConfiguration,
)

DEFAULT_MULTI_POINT: Final = (
    PluginEntry(name="SchedulingGates"),
    PluginEntry(name="PrioritySort"),
    PluginEntry(name="NodeUnschedulable"),
    PluginEntry(name="NodeName"),
    PluginEntry(name="TaintToleration", weight=3),
    PluginEntry(name="NodeAffinity", weight=2),
    PluginEntry(name="NodePorts"),
    PluginEntry(name="NodeResourcesFit", weight=1),
    PluginEntry(name="VolumeRestrictions"),
    PluginEntry(name="NodeVolumeLimits"),
    PluginEntry(name="VolumeBinding"),
    PluginEntry(name="VolumeZone"),
    PluginEntry(name="PodTopologySpread", weight=2),
    PluginEntry(name="InterPodAffinity", weight=2),
    PluginEntry(name="DefaultPreemption"),
    PluginEntry(name="NodeResourcesBalancedAllocation", weight=1),
    PluginEntry(name="ImageLocality", weight=1),
    PluginEntry(name="DefaultBinder"),
)


class _InvalidError(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.error = ConfigError(field=field, reason=reason)


@final
class ResolvedProfile(msgspec.Struct, frozen=True, kw_only=True):
    """One profile's plugin names per extension point (in run order) and score weights."""

    scheduler_name: str
    points: immutables.Map[str, tuple[str, ...]]
    weights: immutables.Map[str, int]
    config: ProfileConfig

    def at(self, point: str) -> tuple[str, ...]:
        """The plugins of ``point`` in run order."""
        return self.points.get(point, ())


def default_plugins(gates: FeatureGates) -> tuple[PluginEntry, ...]:
    """``getDefaultPlugins`` with ``applyFeatureGates``."""
    entries = list(DEFAULT_MULTI_POINT)
    if gates.enabled("DynamicResourceAllocation"):
        position = next(i for i, e in enumerate(entries) if e.name == "DefaultPreemption")
        entries.insert(position, PluginEntry(name="DynamicResources"))
    return tuple(entries)


def merge_plugin_set(default: PluginSet, custom: PluginSet) -> PluginSet:
    """``mergePluginSet``: disabled defaults dropped, re-enabled defaults replaced in place,
    other custom plugins appended."""
    disabled = (*custom.disabled, *default.disabled)
    custom_index = {entry.name: index for index, entry in enumerate(custom.enabled)}
    replaced: set[int] = set()
    enabled: list[PluginEntry] = []
    if "*" not in disabled:
        for entry in default.enabled:
            if entry.name in disabled:
                continue
            if entry.name in custom_index:
                replaced.add(custom_index[entry.name])
                entry = custom.enabled[custom_index[entry.name]]
            enabled.append(entry)
    enabled.extend(e for i, e in enumerate(custom.enabled) if i not in replaced)
    return PluginSet(enabled=tuple(enabled), disabled=disabled)


def expand_point(point: str, specific: PluginSet, multi: PluginSet, field: str) -> tuple[str, ...]:
    """The framework's plugins for one extension point after MultiPoint expansion."""
    names = [entry.name for entry in specific.enabled]
    for name in names:
        if point not in PLUGIN_POINTS.get(name, frozenset()):
            raise _InvalidError(field, f"plugin {name!r} does not extend {point} plugin")
    if len(set(names)) != len(names):
        raise _InvalidError(field, f"a plugin is registered twice as {point} plugin")
    if "*" in specific.disabled:
        return tuple(names)
    overrides: list[str] = []
    from_multi: list[str] = []
    for entry in multi.enabled:
        name = entry.name
        if point not in PLUGIN_POINTS.get(name, frozenset()) or name in specific.disabled:
            continue
        if name in names:
            overrides.append(name)
            continue
        if name in from_multi:
            raise _InvalidError(field, f"plugin {name!r} already registered as {point} plugin")
        from_multi.append(name)
    first = [name for name in names if name in overrides]
    rest = [name for name in names if name not in overrides]
    return (*first, *from_multi, *rest)


def score_weights(score: PluginSet, multi: PluginSet) -> immutables.Map[str, int]:
    """Weights of score plugins: the Score point's first, then MultiPoint's; 0 means 1."""
    weights: dict[str, int] = {}
    for entry in (*score.enabled, *multi.enabled):
        if "score" in PLUGIN_POINTS.get(entry.name, frozenset()) and entry.name not in weights:
            weights[entry.name] = entry.weight or 1
    return immutables.Map(weights)


def _resolve(profile: ProfileConfig, field: str, gates: FeatureGates) -> ResolvedProfile:
    multi = merge_plugin_set(
        PluginSet(enabled=default_plugins(gates)), profile.plugin_set(MULTI_POINT)
    )
    points: dict[str, tuple[str, ...]] = {}
    for point in POINTS:
        specific = merge_plugin_set(PluginSet(), profile.plugin_set(point))
        points[point] = expand_point(point, specific, multi, f"{field}.plugins.{point}")
    if len(points["queueSort"]) != 1:
        raise _InvalidError(
            f"{field}.plugins.queueSort", "Invalid value: only one queueSort plugin"
        )
    if not points["bind"]:
        raise _InvalidError(
            f"{field}.plugins.bind", "Invalid value: at least one bind plugin is needed"
        )
    return ResolvedProfile(
        scheduler_name=profile.scheduler_name,
        points=immutables.Map(points),
        weights=score_weights(merge_plugin_set(PluginSet(), profile.plugin_set("score")), multi),
        config=profile,
    )


def resolve_profiles(
    config: SchedulerConfiguration, gates: FeatureGates
) -> Result[tuple[ResolvedProfile, ...], ConfigError]:
    """Every profile of a configuration merged with the defaults; queueSort must agree."""
    try:
        resolved = tuple(
            _resolve(profile, f"profiles[{i}]", gates) for i, profile in enumerate(config.profiles)
        )
    except _InvalidError as invalid:
        return Failure(invalid.error)
    for i, profile in enumerate(resolved):
        if profile.at("queueSort") != resolved[0].at("queueSort"):
            return Failure(
                ConfigError(
                    field=f"profiles[{i}].plugins.queueSort",
                    reason="Invalid value: queueSort must be the same for all profiles",
                )
            )
    return Success(resolved)


def names_of(entries: Sequence[PluginEntry]) -> tuple[str, ...]:
    """The names of plugin entries."""
    return tuple(entry.name for entry in entries)
