"""KubeSchedulerConfiguration (``kubescheduler.config.k8s.io/v1``, v1.35): decoding, defaulting
and the validation that needs no merging, with the field path of every complaint.

A profile keeps its plugin sets as written (per extension point and ``multiPoint``); merging
them with the default plugins is the scheduler's behaviour (``impl.scheduler.plugin_sets``).
``PLUGIN_POINTS`` lists the in-tree plugins of this release and the extension points each
implements (the in-tree volume-limit plugins EBSLimits, GCEPDLimits, AzureDiskLimits and
CinderLimits no longer exist).

Failures are values: :class:`ConfigError` names the field, as kube-scheduler's validation does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final, final

import immutables
import msgspec
from returns.result import Failure, Result, Success

from models.scheduler_args import (
    FieldError,
    PluginArgs,
    integer,
    listing,
    mapping,
    plugin_args,
    text,
)

API_VERSION: Final = "kubescheduler.config.k8s.io/v1"
DEFAULT_SCHEDULER_NAME: Final = "default-scheduler"
MULTI_POINT: Final = "multiPoint"

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
        "NodeVolumeLimits": frozenset({"preFilter", "filter"}),
        "VolumeBinding": frozenset(
            {"preFilter", "filter", "reserve", "preBind", "preScore", "score"}
        ),
        "VolumeZone": frozenset({"preFilter", "filter"}),
        "PodTopologySpread": frozenset({"preFilter", "filter", "preScore", "score"}),
        "InterPodAffinity": frozenset({"preFilter", "filter", "preScore", "score"}),
        "DynamicResources": frozenset(
            {
                "preEnqueue",
                "preFilter",
                "filter",
                "postFilter",
                "preScore",
                "score",
                "reserve",
                "preBind",
            }
        ),
        "DefaultPreemption": frozenset({"postFilter"}),
        "NodeResourcesBalancedAllocation": frozenset({"preScore", "score"}),
        "ImageLocality": frozenset({"score"}),
        "DefaultBinder": frozenset({"bind"}),
        "NodeDeclaredFeatures": frozenset({"preFilter", "filter"}),
        "GangScheduling": frozenset({"preEnqueue", "permit"}),
    }
)


@final
class ConfigError(msgspec.Struct, frozen=True, kw_only=True):
    """An invalid configuration: the field path and kube-scheduler's kind of complaint."""

    field: str
    reason: str


@final
class PluginEntry(msgspec.Struct, frozen=True, kw_only=True):
    """``plugins.<point>.enabled[]``: a name and a weight (0 when not given)."""

    name: str
    weight: int = 0


@final
class PluginSet(msgspec.Struct, frozen=True, kw_only=True):
    """One extension point's ``enabled`` entries and ``disabled`` names (``*`` = all)."""

    enabled: tuple[PluginEntry, ...] = ()
    disabled: tuple[str, ...] = ()


EMPTY_SET: Final = PluginSet()


@final
class ProfileConfig(msgspec.Struct, frozen=True, kw_only=True):
    """One profile as written: plugin sets by point (``multiPoint`` included), args, and the
    nodes-to-score percentage (the configuration-wide one when the profile gives none)."""

    scheduler_name: str = DEFAULT_SCHEDULER_NAME
    plugins: immutables.Map[str, PluginSet] = immutables.Map()
    args: PluginArgs = PluginArgs()
    percentage_of_nodes_to_score: int = 0

    def plugin_set(self, point: str) -> PluginSet:
        """The set written for ``point`` (empty when not written)."""
        return self.plugins.get(point, EMPTY_SET)


@final
class LeaderElectionConfig(msgspec.Struct, frozen=True, kw_only=True):
    """``leaderElection`` (component-base's LeaderElectionConfiguration) as kube-scheduler
    defaults it: the ``kube-system/kube-scheduler`` Lease, 15s/10s/2s."""

    leader_elect: bool = True
    lease_duration_ms: int = 15_000
    renew_deadline_ms: int = 10_000
    retry_period_ms: int = 2_000
    resource_name: str = "kube-scheduler"
    resource_namespace: str = "kube-system"


@final
class SchedulerConfiguration(msgspec.Struct, frozen=True, kw_only=True):
    """A decoded KubeSchedulerConfiguration."""

    profiles: tuple[ProfileConfig, ...] = (ProfileConfig(),)
    leader_election: LeaderElectionConfig = LeaderElectionConfig()
    percentage_of_nodes_to_score: int = 0
    pod_initial_backoff_seconds: int = 1
    pod_max_backoff_seconds: int = 10


def _plugin_set(raw: object, field: str) -> PluginSet:
    item = mapping(raw, field, ("enabled", "disabled"))
    enabled: list[PluginEntry] = []
    for i, entry in enumerate(listing(item.get("enabled"), f"{field}.enabled")):
        plugin = mapping(entry, f"{field}.enabled[{i}]", ("name", "weight"))
        name = text(plugin.get("name"), f"{field}.enabled[{i}].name")
        if name not in PLUGIN_POINTS:
            raise FieldError(f"{field}.enabled[{i}].name", f"plugin {name!r} does not exist")
        weight = integer(plugin.get("weight"), f"{field}.enabled[{i}].weight", 0)
        if not 0 <= weight <= 100:
            raise FieldError(
                f"{field}.enabled[{i}].weight", f"Invalid value: {weight}: not in 0-100"
            )
        enabled.append(PluginEntry(name=name, weight=weight))
    disabled: list[str] = []
    for i, entry in enumerate(listing(item.get("disabled"), f"{field}.disabled")):
        plugin = mapping(entry, f"{field}.disabled[{i}]", ("name", "weight"))
        name = text(plugin.get("name"), f"{field}.disabled[{i}].name")
        if name != "*" and name not in PLUGIN_POINTS:
            raise FieldError(f"{field}.disabled[{i}].name", f"plugin {name!r} does not exist")
        disabled.append(name)
    return PluginSet(enabled=tuple(enabled), disabled=tuple(disabled))


def _percentage(raw: object, field: str) -> int:
    value = integer(raw, field, 0)
    if not 0 <= value <= 100:
        raise FieldError(field, f"Invalid value: {value}: not in valid range [0-100]")
    return value


def _profile(raw: object, field: str, single: bool, global_percentage: int) -> ProfileConfig:
    allowed = ("schedulerName", "plugins", "pluginConfig", "percentageOfNodesToScore")
    item = mapping(raw, field, allowed)
    name = text(item.get("schedulerName"), f"{field}.schedulerName")
    if not name:
        if not single:
            raise FieldError(f"{field}.schedulerName", "Required value")
        name = DEFAULT_SCHEDULER_NAME
    plugins_field = f"{field}.plugins"
    plugins = mapping(item.get("plugins"), plugins_field, (*POINTS, MULTI_POINT))
    sets = {
        point: _plugin_set(raw_set, f"{plugins_field}.{point}")
        for point, raw_set in plugins.items()
        if raw_set is not None
    }
    percentage = item.get("percentageOfNodesToScore")
    return ProfileConfig(
        scheduler_name=name,
        plugins=immutables.Map(sets),
        args=plugin_args(
            item.get("pluginConfig"), f"{field}.pluginConfig", PLUGIN_POINTS.__contains__
        ),
        percentage_of_nodes_to_score=(
            _percentage(percentage, f"{field}.percentageOfNodesToScore")
            if percentage is not None
            else global_percentage
        ),
    )


TOP_LEVEL_FIELDS: Final = (
    "apiVersion",
    "kind",
    "parallelism",
    "leaderElection",
    "clientConnection",
    "enableProfiling",
    "enableContentionProfiling",
    "percentageOfNodesToScore",
    "podInitialBackoffSeconds",
    "podMaxBackoffSeconds",
    "profiles",
    "extenders",
    "delayCacheUntilActive",
)


def decode_configuration(raw: object) -> Result[SchedulerConfiguration, ConfigError]:
    """A KubeSchedulerConfiguration document, defaulted and validated."""
    try:
        return Success(_configuration(raw))
    except FieldError as error:
        return Failure(ConfigError(field=error.field, reason=error.reason))


def _backoff(item: Mapping[str, object]) -> tuple[int, int]:
    initial = integer(item.get("podInitialBackoffSeconds"), "podInitialBackoffSeconds", 1)
    maximum = integer(item.get("podMaxBackoffSeconds"), "podMaxBackoffSeconds", 10)
    if initial <= 0:
        raise FieldError(
            "podInitialBackoffSeconds", f"Invalid value: {initial}: must be greater than 0"
        )
    if maximum < initial:
        raise FieldError(
            "podMaxBackoffSeconds",
            f"Invalid value: {maximum}: must be greater than or equal to PodInitialBackoffSeconds",
        )
    return initial, maximum


_DURATION_PART: Final = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")
_UNIT_MS: Final = {"h": 3_600_000, "m": 60_000, "s": 1000, "ms": 1}


def go_duration_ms(raw: object, field: str, default: int) -> int:
    """A Go duration (``15s``, ``1m30s``, ``500ms``) in milliseconds (None: ``default``)."""
    if raw is None:
        return default
    value = text(raw, field)
    parts = _DURATION_PART.findall(value)
    if not value or "".join(number + unit for number, unit in parts) != value:
        raise FieldError(field, f"Invalid value: {value!r}: not a duration such as 15s or 1m30s")
    return int(sum(float(number) * _UNIT_MS[unit] for number, unit in parts))


def _leader_election(raw: object) -> LeaderElectionConfig:
    field = "leaderElection"
    allowed = (
        "leaderElect",
        "leaseDuration",
        "renewDeadline",
        "retryPeriod",
        "resourceLock",
        "resourceName",
        "resourceNamespace",
    )
    item = mapping(raw, field, allowed)
    elect = item.get("leaderElect", True)
    if not isinstance(elect, bool):
        raise FieldError(f"{field}.leaderElect", "Invalid value: expected true or false")
    base = LeaderElectionConfig()
    lock = text(item.get("resourceLock"), f"{field}.resourceLock", "leases")
    if lock != "leases":
        raise FieldError(f"{field}.resourceLock", f'Unsupported value: "{lock}": want "leases"')
    config = LeaderElectionConfig(
        leader_elect=elect,
        lease_duration_ms=go_duration_ms(
            item.get("leaseDuration"), f"{field}.leaseDuration", base.lease_duration_ms
        ),
        renew_deadline_ms=go_duration_ms(
            item.get("renewDeadline"), f"{field}.renewDeadline", base.renew_deadline_ms
        ),
        retry_period_ms=go_duration_ms(
            item.get("retryPeriod"), f"{field}.retryPeriod", base.retry_period_ms
        ),
        resource_name=text(item.get("resourceName"), f"{field}.resourceName", base.resource_name),
        resource_namespace=text(
            item.get("resourceNamespace"), f"{field}.resourceNamespace", base.resource_namespace
        ),
    )
    if elect and config.lease_duration_ms <= config.renew_deadline_ms:
        raise FieldError(
            f"{field}.leaseDuration",
            "Invalid value: LeaseDuration must be greater than RenewDeadline",
        )
    if elect and not (config.resource_name and config.resource_namespace):
        raise FieldError(f"{field}.resourceName", "Required value")
    return config


def _configuration(raw: object) -> SchedulerConfiguration:
    item = mapping(raw, "", TOP_LEVEL_FIELDS)
    if item.get("apiVersion") != API_VERSION:
        raise FieldError(
            "apiVersion", f"Unsupported value: {item.get('apiVersion')!r}: want {API_VERSION}"
        )
    if item.get("kind") != "KubeSchedulerConfiguration":
        raise FieldError("kind", f"Unsupported value: {item.get('kind')!r}")
    percentage = _percentage(item.get("percentageOfNodesToScore"), "percentageOfNodesToScore")
    if listing(item.get("extenders"), "extenders"):
        raise FieldError("extenders", "Unsupported: extenders are not modelled")
    initial, maximum = _backoff(item)
    raw_profiles = listing(item.get("profiles"), "profiles") or ({},)
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
    return SchedulerConfiguration(
        profiles=profiles,
        leader_election=_leader_election(item.get("leaderElection")),
        percentage_of_nodes_to_score=percentage,
        pod_initial_backoff_seconds=initial,
        pod_max_backoff_seconds=maximum,
    )
