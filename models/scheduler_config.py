"""KubeSchedulerConfiguration (``kubescheduler.config.k8s.io/v1``): decoding, defaulting and
validation, and the plugin set of each extension point after kube-scheduler's merge rules.

Merge rules (``mergePluginSet`` and the framework's MultiPoint expansion): per extension point,
the user's ``disabled`` names (``*`` = all) remove default plugins, a user ``enabled`` entry that
names a default plugin replaces it in place, other user entries are appended. MultiPoint plugins
then join every extension point they implement unless disabled there; plugins also named at the
specific point keep that point's position (first), then MultiPoint ones, then the rest. A score
weight comes from the Score point first, then MultiPoint; 0 means 1.

Failures are values: :class:`ConfigError` names the field, as kube-scheduler's validation does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Final, final

import immutables
import msgspec
from returns.result import Failure, Result, Success

from models.scheduling import NodeAffinity, TopologySpreadConstraint
from models.scheduling_decode import FieldError, node_affinity, spread_constraint

API_VERSION: Final = "kubescheduler.config.k8s.io/v1"
DEFAULT_SCHEDULER_NAME: Final = "default-scheduler"

POINTS: Final = (
    "preEnqueue",
    "queueSort",
    "preFilter",
    "filter",
    "postFilter",
    "preScore",
    "score",
    "reserve",
    "permit",
    "preBind",
    "bind",
    "postBind",
)

PLUGIN_POINTS: Final[Mapping[str, frozenset[str]]] = immutables.Map(
    {
        "SchedulingGates": frozenset({"preEnqueue"}),
        "PrioritySort": frozenset({"queueSort"}),
        "NodeUnschedulable": frozenset({"filter"}),
        "NodeName": frozenset({"filter"}),
        "TaintToleration": frozenset({"filter", "preScore", "score"}),
        "NodeAffinity": frozenset({"preFilter", "filter", "preScore", "score"}),
        "NodePorts": frozenset({"preFilter", "filter"}),
        "NodeResourcesFit": frozenset({"preFilter", "filter", "preScore", "score"}),
        "VolumeRestrictions": frozenset({"preFilter", "filter"}),
        "EBSLimits": frozenset({"filter"}),
        "GCEPDLimits": frozenset({"filter"}),
        "NodeVolumeLimits": frozenset({"filter"}),
        "AzureDiskLimits": frozenset({"filter"}),
        "VolumeBinding": frozenset({"preFilter", "filter", "reserve", "preBind"}),
        "VolumeZone": frozenset({"filter"}),
        "PodTopologySpread": frozenset({"preFilter", "filter", "preScore", "score"}),
        "InterPodAffinity": frozenset({"preFilter", "filter", "preScore", "score"}),
        "DefaultPreemption": frozenset({"postFilter"}),
        "NodeResourcesBalancedAllocation": frozenset({"preScore", "score"}),
        "ImageLocality": frozenset({"score"}),
        "DefaultBinder": frozenset({"bind"}),
    }
)

DEFAULT_MULTI_POINT: Final = (
    ("SchedulingGates", 0),
    ("PrioritySort", 0),
    ("NodeUnschedulable", 0),
    ("NodeName", 0),
    ("TaintToleration", 3),
    ("NodeAffinity", 2),
    ("NodePorts", 0),
    ("NodeResourcesFit", 1),
    ("VolumeRestrictions", 0),
    ("EBSLimits", 0),
    ("GCEPDLimits", 0),
    ("NodeVolumeLimits", 0),
    ("AzureDiskLimits", 0),
    ("VolumeBinding", 0),
    ("VolumeZone", 0),
    ("PodTopologySpread", 2),
    ("InterPodAffinity", 2),
    ("DefaultPreemption", 0),
    ("NodeResourcesBalancedAllocation", 1),
    ("ImageLocality", 1),
    ("DefaultBinder", 0),
)

ARGS_KINDS: Final = immutables.Map(
    {
        "NodeResourcesFit": "NodeResourcesFitArgs",
        "NodeResourcesBalancedAllocation": "NodeResourcesBalancedAllocationArgs",
        "PodTopologySpread": "PodTopologySpreadArgs",
        "InterPodAffinity": "InterPodAffinityArgs",
        "NodeAffinity": "NodeAffinityArgs",
        "DefaultPreemption": "DefaultPreemptionArgs",
        "VolumeBinding": "VolumeBindingArgs",
    }
)


@final
class ConfigError(msgspec.Struct, frozen=True, kw_only=True):
    """An invalid configuration: the field path and kube-scheduler's kind of complaint."""

    field: str
    reason: str


@final
class PluginArgs(msgspec.Struct, frozen=True, kw_only=True):
    """Every plugin's args after defaulting (pluginConfig of one profile)."""

    fit_strategy: str = "LeastAllocated"
    fit_resources: tuple[tuple[str, int], ...] = (("cpu", 1), ("memory", 1))
    fit_shape: tuple[tuple[int, int], ...] = ()
    fit_ignored_resources: tuple[str, ...] = ()
    fit_ignored_resource_groups: tuple[str, ...] = ()
    balanced_resources: tuple[tuple[str, int], ...] = (("cpu", 1), ("memory", 1))
    added_affinity: NodeAffinity | None = None
    hard_pod_affinity_weight: int = 1
    ignore_preferred_terms_of_existing_pods: bool = False
    min_candidate_nodes_percentage: int = 10
    min_candidate_nodes_absolute: int = 100
    spread_defaulting_type: str = "System"
    spread_default_constraints: tuple[TopologySpreadConstraint, ...] = ()


@final
class Profile(msgspec.Struct, frozen=True, kw_only=True):
    """One profile's resolved plugins per extension point (in run order) and weights."""

    scheduler_name: str = DEFAULT_SCHEDULER_NAME
    queue_sort: tuple[str, ...] = ()
    pre_filter: tuple[str, ...] = ()
    filter: tuple[str, ...] = ()
    post_filter: tuple[str, ...] = ()
    pre_score: tuple[str, ...] = ()
    score: tuple[str, ...] = ()
    reserve: tuple[str, ...] = ()
    bind: tuple[str, ...] = ()
    weights: immutables.Map[str, int] = immutables.Map()
    percentage_of_nodes_to_score: int = 0
    args: PluginArgs = PluginArgs()


@final
class SchedulerConfiguration(msgspec.Struct, frozen=True, kw_only=True):
    """A decoded KubeSchedulerConfiguration."""

    profiles: tuple[Profile, ...]
    percentage_of_nodes_to_score: int = 0


PluginEntry = tuple[str, int]


@final
class _PluginSet(msgspec.Struct, frozen=True, kw_only=True):
    enabled: tuple[PluginEntry, ...] = ()
    disabled: tuple[str, ...] = ()


def merge_plugin_set(default: _PluginSet, custom: _PluginSet) -> _PluginSet:
    """``mergePluginSet``: disabled defaults dropped, re-enabled defaults replaced in place,
    other custom plugins appended."""
    disabled = (*custom.disabled, *default.disabled)
    custom_index = {name: index for index, (name, _) in enumerate(custom.enabled)}
    replaced: set[int] = set()
    enabled: list[PluginEntry] = []
    if "*" not in disabled:
        for entry in default.enabled:
            if entry[0] in disabled:
                continue
            if entry[0] in custom_index:
                replaced.add(custom_index[entry[0]])
                entry = custom.enabled[custom_index[entry[0]]]
            enabled.append(entry)
    enabled.extend(e for i, e in enumerate(custom.enabled) if i not in replaced)
    return _PluginSet(enabled=tuple(enabled), disabled=disabled)


def expand_point(point: str, specific: _PluginSet, multi: _PluginSet, field: str) -> list[str]:
    """The framework's plugins for one extension point after MultiPoint expansion."""
    names = [name for name, _ in specific.enabled]
    for name in names:
        if point not in PLUGIN_POINTS.get(name, frozenset()):
            raise FieldError(field, f"plugin {name!r} does not extend {point} plugin")
    if len(set(names)) != len(names):
        raise FieldError(field, f"a plugin is registered twice as {point} plugin")
    if "*" in specific.disabled:
        return names
    overrides: list[str] = []
    from_multi: list[str] = []
    for name, _ in multi.enabled:
        if point not in PLUGIN_POINTS.get(name, frozenset()) or name in specific.disabled:
            continue
        if name in names:
            overrides.append(name)
            continue
        if name in from_multi:
            raise FieldError(field, f"plugin {name!r} already registered as {point} plugin")
        from_multi.append(name)
    first = [name for name in names if name in overrides]
    rest = [name for name in names if name not in overrides]
    return first + from_multi + rest


def _score_weights(score: _PluginSet, multi: _PluginSet) -> immutables.Map[str, int]:
    weights: dict[str, int] = {}
    for name, weight in (*score.enabled, *multi.enabled):
        if "score" in PLUGIN_POINTS.get(name, frozenset()) and name not in weights:
            weights[name] = weight if weight != 0 else 1
    return immutables.Map(weights)


def _mapping(raw: object, field: str, allowed: Sequence[str]) -> Mapping[str, object]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise FieldError(field, "expected a mapping")
    for key in raw:
        if key not in allowed:
            raise FieldError(f"{field}.{key}" if field else str(key), "unknown field")
    return raw


def _list(raw: object, field: str) -> Sequence[object]:
    if raw is None:
        return ()
    if isinstance(raw, str) or not isinstance(raw, Sequence):
        raise FieldError(field, "expected a list")
    return raw


def _int(raw: object, field: str, default: int) -> int:
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise FieldError(field, f"Invalid value: {raw!r}: expected an integer")
    return raw


def _str(raw: object, field: str, default: str = "") -> str:
    if raw is None:
        return default
    if not isinstance(raw, str):
        raise FieldError(field, f"Invalid value: {raw!r}: expected a string")
    return raw


def _plugin_set(raw: object, field: str) -> _PluginSet:
    item = _mapping(raw, field, ("enabled", "disabled"))
    enabled: list[PluginEntry] = []
    for i, entry in enumerate(_list(item.get("enabled"), f"{field}.enabled")):
        plugin = _mapping(entry, f"{field}.enabled[{i}]", ("name", "weight"))
        name = _str(plugin.get("name"), f"{field}.enabled[{i}].name")
        if name not in PLUGIN_POINTS:
            raise FieldError(f"{field}.enabled[{i}].name", f"plugin {name!r} does not exist")
        weight = _int(plugin.get("weight"), f"{field}.enabled[{i}].weight", 0)
        if weight < 0 or weight > 100:
            raise FieldError(
                f"{field}.enabled[{i}].weight", f"Invalid value: {weight}: not in 0-100"
            )
        enabled.append((name, weight))
    disabled = []
    for i, entry in enumerate(_list(item.get("disabled"), f"{field}.disabled")):
        plugin = _mapping(entry, f"{field}.disabled[{i}]", ("name", "weight"))
        name = _str(plugin.get("name"), f"{field}.disabled[{i}].name")
        if name != "*" and name not in PLUGIN_POINTS:
            raise FieldError(f"{field}.disabled[{i}].name", f"plugin {name!r} does not exist")
        disabled.append(name)
    return _PluginSet(enabled=tuple(enabled), disabled=tuple(disabled))


def _resources(raw: object, field: str) -> tuple[tuple[str, int], ...]:
    resources: list[tuple[str, int]] = []
    for i, entry in enumerate(_list(raw, field)):
        item = _mapping(entry, f"{field}[{i}]", ("name", "weight"))
        name = _str(item.get("name"), f"{field}[{i}].name")
        weight = _int(item.get("weight"), f"{field}[{i}].weight", 0) or 1
        if not 1 <= weight <= 100:
            raise FieldError(
                f"{field}[{i}].weight",
                f"Invalid value: {weight}: resource weight of {name} should be in range [1, 100]",
            )
        resources.append((name, weight))
    return tuple(resources) or (("cpu", 1), ("memory", 1))


def _fit_args(raw: Mapping[str, object], field: str, args: PluginArgs) -> PluginArgs:
    allowed = ("kind", "apiVersion", "ignoredResources", "ignoredResourceGroups", "scoringStrategy")
    item = _mapping(raw, field, allowed)
    strategy = _mapping(
        item.get("scoringStrategy"),
        f"{field}.scoringStrategy",
        ("type", "resources", "requestedToCapacityRatio"),
    )
    kind = _str(strategy.get("type"), f"{field}.scoringStrategy.type", "LeastAllocated")
    supported = ("LeastAllocated", "MostAllocated", "RequestedToCapacityRatio")
    if kind not in supported:
        raise FieldError(
            f"{field}.scoringStrategy.type",
            f'Unsupported value: "{kind}": supported values: '
            + ", ".join(f'"{s}"' for s in supported),
        )
    shape: list[tuple[int, int]] = []
    rtcr_field = f"{field}.scoringStrategy.requestedToCapacityRatio"
    rtcr = _mapping(strategy.get("requestedToCapacityRatio"), rtcr_field, ("shape",))
    for i, point in enumerate(_list(rtcr.get("shape"), f"{rtcr_field}.shape")):
        entry = _mapping(point, f"{rtcr_field}.shape[{i}]", ("utilization", "score"))
        utilization = _int(entry.get("utilization"), f"{rtcr_field}.shape[{i}].utilization", 0)
        score = _int(entry.get("score"), f"{rtcr_field}.shape[{i}].score", 0)
        if not 0 <= utilization <= 100:
            raise FieldError(f"{rtcr_field}.shape[{i}].utilization", "Invalid value: not in 0-100")
        if not 0 <= score <= 10:
            raise FieldError(f"{rtcr_field}.shape[{i}].score", "Invalid value: not in 0-10")
        if shape and utilization <= shape[-1][0]:
            raise FieldError(
                f"{rtcr_field}.shape[{i}].utilization",
                "Invalid value: utilization values must be sorted in increasing order",
            )
        shape.append((utilization, score))
    if kind == "RequestedToCapacityRatio" and not shape:
        raise FieldError(f"{rtcr_field}.shape", "Required value: at least one point")
    return msgspec.structs.replace(
        args,
        fit_strategy=kind,
        fit_resources=_resources(strategy.get("resources"), f"{field}.scoringStrategy.resources"),
        fit_shape=tuple(shape),
        fit_ignored_resources=tuple(
            _str(r, f"{field}.ignoredResources")
            for r in _list(item.get("ignoredResources"), f"{field}.ignoredResources")
        ),
        fit_ignored_resource_groups=tuple(
            _str(r, f"{field}.ignoredResourceGroups")
            for r in _list(item.get("ignoredResourceGroups"), f"{field}.ignoredResourceGroups")
        ),
    )


def _node_resources_balanced_allocation_args(
    raw: Mapping[str, object], field: str, args: PluginArgs
) -> PluginArgs:
    item = _mapping(raw, field, ("kind", "apiVersion", "resources"))
    return msgspec.structs.replace(
        args, balanced_resources=_resources(item.get("resources"), f"{field}.resources")
    )


def _inter_pod_affinity_args(raw: Mapping[str, object], field: str, args: PluginArgs) -> PluginArgs:
    allowed = (
        "kind",
        "apiVersion",
        "hardPodAffinityWeight",
        "ignorePreferredTermsOfExistingPods",
    )
    item = _mapping(raw, field, allowed)
    weight = _int(item.get("hardPodAffinityWeight"), f"{field}.hardPodAffinityWeight", 1)
    if not 0 <= weight <= 100:
        raise FieldError(
            f"{field}.hardPodAffinityWeight",
            f"Invalid value: {weight}: not in valid range [0, 100]",
        )
    ignore = item.get("ignorePreferredTermsOfExistingPods", False)
    if not isinstance(ignore, bool):
        raise FieldError(f"{field}.ignorePreferredTermsOfExistingPods", "expected a boolean")
    return msgspec.structs.replace(
        args, hard_pod_affinity_weight=weight, ignore_preferred_terms_of_existing_pods=ignore
    )


def _node_affinity_args(raw: Mapping[str, object], field: str, args: PluginArgs) -> PluginArgs:
    item = _mapping(raw, field, ("kind", "apiVersion", "addedAffinity"))
    added = node_affinity(item.get("addedAffinity"), f"{field}.addedAffinity")
    return msgspec.structs.replace(args, added_affinity=added)


def _default_preemption_args(raw: Mapping[str, object], field: str, args: PluginArgs) -> PluginArgs:
    allowed = ("kind", "apiVersion", "minCandidateNodesPercentage", "minCandidateNodesAbsolute")
    item = _mapping(raw, field, allowed)
    percentage = _int(
        item.get("minCandidateNodesPercentage"), f"{field}.minCandidateNodesPercentage", 10
    )
    absolute = _int(
        item.get("minCandidateNodesAbsolute"), f"{field}.minCandidateNodesAbsolute", 100
    )
    if not 0 <= percentage <= 100:
        raise FieldError(f"{field}.minCandidateNodesPercentage", "Invalid value: not in [0, 100]")
    if absolute < 0:
        raise FieldError(f"{field}.minCandidateNodesAbsolute", "Invalid value: must be >= 0")
    if percentage == 0 and absolute == 0:
        raise FieldError(
            f"{field}.minCandidateNodesPercentage",
            "Invalid value: both minCandidateNodesPercentage and minCandidateNodesAbsolute "
            "cannot be zero",
        )
    return msgspec.structs.replace(
        args,
        min_candidate_nodes_percentage=percentage,
        min_candidate_nodes_absolute=absolute,
    )


def _pod_topology_spread_args(
    raw: Mapping[str, object], field: str, args: PluginArgs
) -> PluginArgs:
    allowed = ("kind", "apiVersion", "defaultConstraints", "defaultingType")
    item = _mapping(raw, field, allowed)
    defaulting = _str(item.get("defaultingType"), f"{field}.defaultingType", "System")
    if defaulting not in ("System", "List"):
        raise FieldError(f"{field}.defaultingType", f'Unsupported value: "{defaulting}"')
    constraints = []
    for i, entry in enumerate(_list(item.get("defaultConstraints"), f"{field}.defaultConstraints")):
        path = f"{field}.defaultConstraints[{i}]"
        if isinstance(entry, Mapping) and entry.get("labelSelector") is not None:
            raise FieldError(
                f"{path}.labelSelector", "Forbidden: constraint must not define a selector"
            )
        constraints.append(spread_constraint(entry, path))
    if defaulting == "System" and constraints:
        raise FieldError(
            f"{field}.defaultConstraints",
            'Invalid value: when .defaultingType is "System", .defaultConstraints must be empty',
        )
    return msgspec.structs.replace(
        args, spread_defaulting_type=defaulting, spread_default_constraints=tuple(constraints)
    )


ArgsReader = Callable[[Mapping[str, object], str, PluginArgs], PluginArgs]

_ARGS_READERS: Final[Mapping[str, ArgsReader]] = immutables.Map(
    {
        "NodeResourcesBalancedAllocation": _node_resources_balanced_allocation_args,
        "InterPodAffinity": _inter_pod_affinity_args,
        "NodeAffinity": _node_affinity_args,
        "DefaultPreemption": _default_preemption_args,
        "PodTopologySpread": _pod_topology_spread_args,
    }
)


def _other_args(name: str, raw: Mapping[str, object], field: str, args: PluginArgs) -> PluginArgs:
    reader = _ARGS_READERS.get(name)
    return reader(raw, field, args) if reader is not None else args


def _plugin_args(raw: object, field: str) -> PluginArgs:
    args = PluginArgs()
    seen: set[str] = set()
    for i, entry in enumerate(_list(raw, field)):
        item = _mapping(entry, f"{field}[{i}]", ("name", "args"))
        name = _str(item.get("name"), f"{field}[{i}].name")
        if name not in PLUGIN_POINTS:
            raise FieldError(f"{field}[{i}].name", f"plugin {name!r} does not exist")
        if name in seen:
            raise FieldError(f"{field}[{i}]", f'Duplicate value: "{name}"')
        seen.add(name)
        if name not in ARGS_KINDS:
            raise FieldError(f"{field}[{i}].args", f"plugin {name!r} takes no args")
        args_raw = item.get("args") or {}
        if not isinstance(args_raw, Mapping):
            raise FieldError(f"{field}[{i}].args", "expected a mapping")
        kind = args_raw.get("kind")
        if kind is not None and kind != ARGS_KINDS[name]:
            raise FieldError(
                f"{field}[{i}].args.kind", f"expected {ARGS_KINDS[name]}, got {kind!r}"
            )
        path = f"{field}[{i}].args"
        if name == "NodeResourcesFit":
            args = _fit_args(args_raw, path, args)
        elif name == "VolumeBinding":
            continue
        else:
            args = _other_args(name, args_raw, path, args)
    return args


def _percentage(raw: object, field: str) -> int:
    value = _int(raw, field, 0)
    if not 0 <= value <= 100:
        raise FieldError(field, f"Invalid value: {value}: not in valid range [0-100]")
    return value


_POINT_FIELDS: Final = {
    "queueSort": "queue_sort",
    "preFilter": "pre_filter",
    "filter": "filter",
    "postFilter": "post_filter",
    "preScore": "pre_score",
    "score": "score",
    "reserve": "reserve",
    "bind": "bind",
}


def _profile(raw: object, field: str, single: bool, global_percentage: int) -> Profile:
    allowed = ("schedulerName", "plugins", "pluginConfig", "percentageOfNodesToScore")
    item = _mapping(raw, field, allowed)
    name = _str(item.get("schedulerName"), f"{field}.schedulerName")
    if not name:
        if not single:
            raise FieldError(f"{field}.schedulerName", "Required value")
        name = DEFAULT_SCHEDULER_NAME
    plugins = _mapping(item.get("plugins"), f"{field}.plugins", (*POINTS, "multiPoint"))
    multi = merge_plugin_set(
        _PluginSet(enabled=DEFAULT_MULTI_POINT),
        _plugin_set(plugins.get("multiPoint"), f"{field}.plugins.multiPoint"),
    )
    resolved: dict[str, tuple[str, ...]] = {}
    specific_sets: dict[str, _PluginSet] = {}
    for point in POINTS:
        point_field = f"{field}.plugins.{point}"
        specific = merge_plugin_set(_PluginSet(), _plugin_set(plugins.get(point), point_field))
        specific_sets[point] = specific
        resolved[point] = tuple(expand_point(point, specific, multi, point_field))
    if len(resolved["queueSort"]) != 1:
        raise FieldError(f"{field}.plugins.queueSort", "Invalid value: only one queueSort plugin")
    if len(resolved["bind"]) < 1:
        raise FieldError(
            f"{field}.plugins.bind", "Invalid value: at least one bind plugin is needed"
        )
    percentage = item.get("percentageOfNodesToScore")
    return Profile(
        scheduler_name=name,
        weights=_score_weights(specific_sets["score"], multi),
        percentage_of_nodes_to_score=(
            _percentage(percentage, f"{field}.percentageOfNodesToScore")
            if percentage is not None
            else global_percentage
        ),
        args=_plugin_args(item.get("pluginConfig"), f"{field}.pluginConfig"),
        **{attribute: resolved[point] for point, attribute in _POINT_FIELDS.items()},
    )


TOP_LEVEL_FIELDS: Final = (
    "apiVersion",
    "kind",
    "profiles",
    "percentageOfNodesToScore",
    "parallelism",
    "leaderElection",
    "clientConnection",
    "healthzBindAddress",
    "metricsBindAddress",
    "enableProfiling",
    "enableContentionProfiling",
    "podInitialBackoffSeconds",
    "podMaxBackoffSeconds",
    "extenders",
    "delayCacheUntilActive",
    "featureGates",
)


def decode_configuration(raw: object) -> Result[SchedulerConfiguration, ConfigError]:
    """A KubeSchedulerConfiguration document, defaulted and validated."""
    try:
        return Success(_configuration(raw))
    except FieldError as error:
        return Failure(ConfigError(field=error.field, reason=error.reason))


def _configuration(raw: object) -> SchedulerConfiguration:
    item = _mapping(raw, "", TOP_LEVEL_FIELDS)
    if item.get("apiVersion") != API_VERSION:
        raise FieldError(
            "apiVersion", f"Unsupported value: {item.get('apiVersion')!r}: want {API_VERSION}"
        )
    if item.get("kind") != "KubeSchedulerConfiguration":
        raise FieldError("kind", f"Unsupported value: {item.get('kind')!r}")
    percentage = _percentage(item.get("percentageOfNodesToScore"), "percentageOfNodesToScore")
    if _list(item.get("extenders"), "extenders"):
        raise FieldError("extenders", "Unsupported: extenders are not modelled")
    raw_profiles = _list(item.get("profiles"), "profiles") or ({},)
    profiles = tuple(
        _profile(p, f"profiles[{i}]", len(raw_profiles) == 1, percentage)
        for i, p in enumerate(raw_profiles)
    )
    names: set[str] = set()
    for i, profile in enumerate(profiles):
        if profile.scheduler_name in names:
            raise FieldError(
                f"profiles[{i}].schedulerName", f'Duplicate value: "{profile.scheduler_name}"'
            )
        names.add(profile.scheduler_name)
        if profile.queue_sort != profiles[0].queue_sort:
            raise FieldError(
                f"profiles[{i}].plugins.queueSort",
                "Invalid value: queueSort must be the same for all profiles",
            )
    return SchedulerConfiguration(profiles=profiles, percentage_of_nodes_to_score=percentage)


def default_profile() -> Profile:
    """The default profile (``default-scheduler`` with the default plugins)."""
    return _profile({}, "profiles[0]", True, 0)
