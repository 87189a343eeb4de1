"""The ``pluginConfig`` args of kube-scheduler's in-tree plugins (``kubescheduler.config.k8s.io/v1``
at v1.35): decoding, defaulting and kube-scheduler's validation, with the field path of every
complaint. Fields that hold API types (``addedAffinity``, ``defaultConstraints``) are decoded
strictly with the object model (:mod:`models.k8s`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, final

import immutables
import msgspec

from models.k8s.base import decode_hook
from models.k8s.core.pod import NodeAffinity, TopologySpreadConstraint

ARGS_KINDS: Final = immutables.Map(
    {
        "NodeResourcesFit": "NodeResourcesFitArgs",
        "NodeResourcesBalancedAllocation": "NodeResourcesBalancedAllocationArgs",
        "PodTopologySpread": "PodTopologySpreadArgs",
        "InterPodAffinity": "InterPodAffinityArgs",
        "NodeAffinity": "NodeAffinityArgs",
        "DefaultPreemption": "DefaultPreemptionArgs",
        "VolumeBinding": "VolumeBindingArgs",
        "DynamicResources": "DynamicResourcesArgs",
    }
)
DEFAULT_RESOURCES: Final = (("cpu", 1), ("memory", 1))


class FieldError(Exception):
    """Internal: unwinds a decode to its entry point, which returns it as a value."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@final
class PluginArgs(msgspec.Struct, frozen=True, kw_only=True):
    """Every plugin's args after defaulting (the pluginConfig of one profile)."""

    fit_strategy: str = "LeastAllocated"
    fit_resources: tuple[tuple[str, int], ...] = DEFAULT_RESOURCES
    fit_shape: tuple[tuple[int, int], ...] = ()
    fit_ignored_resources: tuple[str, ...] = ()
    fit_ignored_resource_groups: tuple[str, ...] = ()
    balanced_resources: tuple[tuple[str, int], ...] = DEFAULT_RESOURCES
    added_affinity: NodeAffinity | None = None
    hard_pod_affinity_weight: int = 1
    ignore_preferred_terms_of_existing_pods: bool = False
    min_candidate_nodes_percentage: int = 10
    min_candidate_nodes_absolute: int = 100
    spread_defaulting_type: str = "System"
    spread_default_constraints: tuple[TopologySpreadConstraint, ...] = ()


def mapping(raw: object, field: str, allowed: Sequence[str]) -> Mapping[str, object]:
    """A JSON object whose keys are all in ``allowed`` (None reads as empty)."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise FieldError(field, "expected a mapping")
    for key in raw:
        if key not in allowed:
            raise FieldError(f"{field}.{key}" if field else str(key), "unknown field")
    return raw


def listing(raw: object, field: str) -> Sequence[object]:
    """A JSON array (None reads as empty)."""
    if raw is None:
        return ()
    if isinstance(raw, str) or not isinstance(raw, Sequence):
        raise FieldError(field, "expected a list")
    return raw


def integer(raw: object, field: str, default: int) -> int:
    """A JSON integer (None reads as ``default``)."""
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise FieldError(field, f"Invalid value: {raw!r}: expected an integer")
    return raw


def text(raw: object, field: str, default: str = "") -> str:
    """A JSON string (None reads as ``default``)."""
    if raw is None:
        return default
    if not isinstance(raw, str):
        raise FieldError(field, f"Invalid value: {raw!r}: expected a string")
    return raw


def api_object(raw: object, target: type[Any], field: str) -> Any:
    """An API struct decoded strictly; a bad field is reported under ``field``."""
    try:
        return msgspec.convert(raw, target, dec_hook=decode_hook)
    except msgspec.ValidationError as error:
        message = str(error)
        reason, _, where = message.partition(" - at `$")
        path = where.rstrip("`")
        if reason.startswith("Object contains unknown field `"):
            name = reason.removeprefix("Object contains unknown field `").rstrip("`")
            raise FieldError(f"{field}{path}.{name}", "unknown field") from None
        raise FieldError(f"{field}{path}", reason) from None


def _resources(raw: object, field: str) -> tuple[tuple[str, int], ...]:
    resources: list[tuple[str, int]] = []
    for i, entry in enumerate(listing(raw, field)):
        item = mapping(entry, f"{field}[{i}]", ("name", "weight"))
        name = text(item.get("name"), f"{field}[{i}].name")
        weight = integer(item.get("weight"), f"{field}[{i}].weight", 0) or 1
        if not 1 <= weight <= 100:
            raise FieldError(
                f"{field}[{i}].weight",
                f"Invalid value: {weight}: resource weight of {name} should be in range [1, 100]",
            )
        resources.append((name, weight))
    return tuple(resources) or DEFAULT_RESOURCES


def _shape(raw: Mapping[str, object], field: str) -> tuple[tuple[int, int], ...]:
    shape: list[tuple[int, int]] = []
    for i, point in enumerate(listing(raw.get("shape"), f"{field}.shape")):
        entry = mapping(point, f"{field}.shape[{i}]", ("utilization", "score"))
        utilization = integer(entry.get("utilization"), f"{field}.shape[{i}].utilization", 0)
        score = integer(entry.get("score"), f"{field}.shape[{i}].score", 0)
        if not 0 <= utilization <= 100:
            raise FieldError(f"{field}.shape[{i}].utilization", "Invalid value: not in 0-100")
        if not 0 <= score <= 10:
            raise FieldError(f"{field}.shape[{i}].score", "Invalid value: not in 0-10")
        if shape and utilization <= shape[-1][0]:
            raise FieldError(
                f"{field}.shape[{i}].utilization",
                "Invalid value: utilization values must be sorted in increasing order",
            )
        shape.append((utilization, score))
    return tuple(shape)


def _fit_args(raw: Mapping[str, object], field: str, args: PluginArgs) -> PluginArgs:
    allowed = ("kind", "apiVersion", "ignoredResources", "ignoredResourceGroups", "scoringStrategy")
    item = mapping(raw, field, allowed)
    strategy_field = f"{field}.scoringStrategy"
    strategy = mapping(
        item.get("scoringStrategy"),
        strategy_field,
        ("type", "resources", "requestedToCapacityRatio"),
    )
    kind = text(strategy.get("type"), f"{strategy_field}.type", "LeastAllocated")
    supported = ("LeastAllocated", "MostAllocated", "RequestedToCapacityRatio")
    if kind not in supported:
        listed = ", ".join(f'"{s}"' for s in supported)
        raise FieldError(
            f"{strategy_field}.type", f'Unsupported value: "{kind}": supported values: {listed}'
        )
    rtcr_field = f"{strategy_field}.requestedToCapacityRatio"
    shape = _shape(
        mapping(strategy.get("requestedToCapacityRatio"), rtcr_field, ("shape",)), rtcr_field
    )
    if kind == "RequestedToCapacityRatio" and not shape:
        raise FieldError(f"{rtcr_field}.shape", "Required value: at least one point")

    def names(key: str) -> tuple[str, ...]:
        return tuple(text(r, f"{field}.{key}") for r in listing(item.get(key), f"{field}.{key}"))

    return msgspec.structs.replace(
        args,
        fit_strategy=kind,
        fit_resources=_resources(strategy.get("resources"), f"{strategy_field}.resources"),
        fit_shape=shape,
        fit_ignored_resources=names("ignoredResources"),
        fit_ignored_resource_groups=names("ignoredResourceGroups"),
    )


def _balanced_args(raw: Mapping[str, object], field: str, args: PluginArgs) -> PluginArgs:
    item = mapping(raw, field, ("kind", "apiVersion", "resources"))
    resources = _resources(item.get("resources"), f"{field}.resources")
    return msgspec.structs.replace(args, balanced_resources=resources)


def _inter_pod_affinity_args(raw: Mapping[str, object], field: str, args: PluginArgs) -> PluginArgs:
    allowed = ("kind", "apiVersion", "hardPodAffinityWeight", "ignorePreferredTermsOfExistingPods")
    item = mapping(raw, field, allowed)
    weight = integer(item.get("hardPodAffinityWeight"), f"{field}.hardPodAffinityWeight", 1)
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
    item = mapping(raw, field, ("kind", "apiVersion", "addedAffinity"))
    added = item.get("addedAffinity")
    if added is None:
        return args
    affinity = api_object(added, NodeAffinity, f"{field}.addedAffinity")
    return msgspec.structs.replace(args, added_affinity=affinity)


def _preemption_args(raw: Mapping[str, object], field: str, args: PluginArgs) -> PluginArgs:
    allowed = ("kind", "apiVersion", "minCandidateNodesPercentage", "minCandidateNodesAbsolute")
    item = mapping(raw, field, allowed)
    percentage_field = f"{field}.minCandidateNodesPercentage"
    percentage = integer(item.get("minCandidateNodesPercentage"), percentage_field, 10)
    absolute_field = f"{field}.minCandidateNodesAbsolute"
    absolute = integer(item.get("minCandidateNodesAbsolute"), absolute_field, 100)
    if not 0 <= percentage <= 100:
        raise FieldError(percentage_field, "Invalid value: not in [0, 100]")
    if absolute < 0:
        raise FieldError(absolute_field, "Invalid value: must be >= 0")
    if percentage == 0 and absolute == 0:
        raise FieldError(
            percentage_field,
            "Invalid value: both minCandidateNodesPercentage and minCandidateNodesAbsolute "
            "cannot be zero",
        )
    return msgspec.structs.replace(
        args, min_candidate_nodes_percentage=percentage, min_candidate_nodes_absolute=absolute
    )


def _spread_constraint(raw: object, path: str) -> TopologySpreadConstraint:
    if isinstance(raw, Mapping) and raw.get("labelSelector") is not None:
        raise FieldError(
            f"{path}.labelSelector", "Forbidden: constraint must not define a selector"
        )
    constraint: TopologySpreadConstraint = api_object(raw, TopologySpreadConstraint, path)
    if (constraint.max_skew or 0) <= 0:
        raise FieldError(f"{path}.maxSkew", "Invalid value: must be greater than zero")
    if not constraint.topology_key:
        raise FieldError(f"{path}.topologyKey", "Required value: can not be empty")
    if constraint.when_unsatisfiable not in ("DoNotSchedule", "ScheduleAnyway"):
        raise FieldError(
            f"{path}.whenUnsatisfiable",
            f'Unsupported value: "{constraint.when_unsatisfiable or ""}": supported values: '
            '"DoNotSchedule", "ScheduleAnyway"',
        )
    return constraint


def _spread_args(raw: Mapping[str, object], field: str, args: PluginArgs) -> PluginArgs:
    item = mapping(raw, field, ("kind", "apiVersion", "defaultConstraints", "defaultingType"))
    defaulting = text(item.get("defaultingType"), f"{field}.defaultingType", "System")
    if defaulting not in ("System", "List"):
        raise FieldError(f"{field}.defaultingType", f'Unsupported value: "{defaulting}"')
    constraints_field = f"{field}.defaultConstraints"
    constraints = tuple(
        _spread_constraint(entry, f"{constraints_field}[{i}]")
        for i, entry in enumerate(listing(item.get("defaultConstraints"), constraints_field))
    )
    if defaulting == "System" and constraints:
        raise FieldError(
            constraints_field,
            'Invalid value: when .defaultingType is "System", .defaultConstraints must be empty',
        )
    return msgspec.structs.replace(
        args, spread_defaulting_type=defaulting, spread_default_constraints=constraints
    )


def _volume_binding_args(raw: Mapping[str, object], field: str, args: PluginArgs) -> PluginArgs:
    item = mapping(raw, field, ("kind", "apiVersion", "bindTimeoutSeconds", "shape"))
    timeout = integer(item.get("bindTimeoutSeconds"), f"{field}.bindTimeoutSeconds", 600)
    if timeout < 0:
        raise FieldError(f"{field}.bindTimeoutSeconds", "Invalid value: must be non-negative")
    _shape(item, field)
    return args


def _dynamic_resources_args(raw: Mapping[str, object], field: str, args: PluginArgs) -> PluginArgs:
    item = mapping(raw, field, ("kind", "apiVersion", "filterTimeout", "bindingTimeout"))
    for key in ("filterTimeout", "bindingTimeout"):
        text(item.get(key), f"{field}.{key}")
    return args


ArgsReader = Callable[[Mapping[str, object], str, PluginArgs], PluginArgs]

ARGS_READERS: Final[Mapping[str, ArgsReader]] = immutables.Map(
    {
        "NodeResourcesFit": _fit_args,
        "NodeResourcesBalancedAllocation": _balanced_args,
        "InterPodAffinity": _inter_pod_affinity_args,
        "NodeAffinity": _node_affinity_args,
        "DefaultPreemption": _preemption_args,
        "PodTopologySpread": _spread_args,
        "VolumeBinding": _volume_binding_args,
        "DynamicResources": _dynamic_resources_args,
    }
)


def plugin_args(raw: object, field: str, known: Callable[[str], bool]) -> PluginArgs:
    """A profile's ``pluginConfig``: each plugin at most once, args of the plugin's kind."""
    args = PluginArgs()
    seen: set[str] = set()
    for i, entry in enumerate(listing(raw, field)):
        item = mapping(entry, f"{field}[{i}]", ("name", "args"))
        name = text(item.get("name"), f"{field}[{i}].name")
        if not known(name):
            raise FieldError(f"{field}[{i}].name", f"plugin {name!r} does not exist")
        if name in seen:
            raise FieldError(f"{field}[{i}]", f'Duplicate value: "{name}"')
        seen.add(name)
        reader = ARGS_READERS.get(name)
        if reader is None:
            raise FieldError(f"{field}[{i}].args", f"plugin {name!r} takes no args")
        args_raw = item.get("args") or {}
        if not isinstance(args_raw, Mapping):
            raise FieldError(f"{field}[{i}].args", "expected a mapping")
        kind = args_raw.get("kind")
        if kind is not None and kind != ARGS_KINDS[name]:
            raise FieldError(
                f"{field}[{i}].args.kind", f"expected {ARGS_KINDS[name]}, got {kind!r}"
            )
        args = reader(args_raw, f"{field}[{i}].args", args)
    return args
