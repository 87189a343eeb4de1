"""Kubernetes feature gates as they stand in the release of :mod:`models.kubernetes_version`,
and the ``--feature-gates`` text every Kubernetes component takes.

The table lists the gates that change control-plane behaviour kubeoracle models (scheduler
first), each with its stage, its default in this release and whether it is locked. Sources:
``pkg/features/kube_features.go`` and the scheduler's versioned feature list (each gate's
``VersionedSpecs``: the entry in force is the last one at or below this release) and the
v1.35.0 changelog.

Parsing follows component-base ``featureGate.Set``: comma-separated ``Name=bool`` pairs,
spaces around names and values ignored, empty items skipped, Go's ``strconv.ParseBool``
spellings; ``AllAlpha``/``AllBeta`` switch every unlocked alpha/beta gate not named
explicitly. Errors are worded as kube-scheduler words them (``unrecognized feature gate:
X``, ``cannot set feature gate X to false, feature is locked to true``).
"""

from __future__ import annotations

from typing import Final, Literal, final

import immutables
import msgspec
from returns.result import Failure, Result, Success

Stage = Literal["ALPHA", "BETA", "GA"]


@final
class GateSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One gate in this release: stage, default, and whether its value is locked."""

    name: str
    stage: Stage
    default: bool
    locked: bool = False


def _gate(name: str, stage: Stage, default: bool, *, locked: bool = False) -> GateSpec:
    return GateSpec(name=name, stage=stage, default=default, locked=locked)


KNOWN_GATES: Final = immutables.Map(
    {
        spec.name: spec
        for spec in (
            _gate("DRAAdminAccess", "BETA", True),
            _gate("DRAConsumableCapacity", "ALPHA", False),
            _gate("DRADeviceBindingConditions", "ALPHA", False),
            _gate("DRADeviceTaintRules", "ALPHA", False),
            _gate("DRADeviceTaints", "ALPHA", False),
            _gate("DRAExtendedResource", "ALPHA", False),
            _gate("DRAPartitionableDevices", "ALPHA", False),
            _gate("DRAPrioritizedList", "BETA", True),
            _gate("DRAResourceClaimDeviceStatus", "BETA", True),
            _gate("DRASchedulerFilterTimeout", "BETA", True),
            _gate("DynamicResourceAllocation", "GA", True, locked=True),
            _gate("GangScheduling", "ALPHA", False),
            _gate("GenericWorkload", "ALPHA", False),
            _gate("InPlacePodLevelResourcesVerticalScaling", "ALPHA", False),
            _gate("InPlacePodVerticalScaling", "GA", True, locked=True),
            _gate("MatchLabelKeysInPodAffinity", "GA", True, locked=True),
            _gate("MatchLabelKeysInPodTopologySpread", "BETA", True),
            _gate("NodeDeclaredFeatures", "ALPHA", False),
            _gate("NodeInclusionPolicyInPodTopologySpread", "GA", True, locked=True),
            _gate("NominatedNodeNameForExpectation", "BETA", True),
            _gate("OpportunisticBatching", "BETA", True),
            _gate("PodLevelResources", "BETA", True),
            _gate("SchedulerAsyncAPICalls", "BETA", True),
            _gate("SchedulerAsyncPreemption", "BETA", True),
            _gate("SchedulerPopFromBackoffQ", "BETA", True),
            _gate("SchedulerQueueingHints", "GA", True, locked=True),
            _gate("SidecarContainers", "GA", True, locked=True),
            _gate("StorageCapacityScoring", "ALPHA", False),
            _gate("TaintTolerationComparisonOperators", "ALPHA", False),
            _gate("VolumeAttributesClass", "GA", True),
            _gate("VolumeLimitScaling", "ALPHA", False),
        )
    }
)
"""Every gate this release knows that kubeoracle reads, by name."""

ALL_ALPHA: Final = "AllAlpha"
ALL_BETA: Final = "AllBeta"
_TRUE_WORDS: Final = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE_WORDS: Final = frozenset({"0", "f", "F", "FALSE", "false", "False"})


@final
class FeatureGates(msgspec.Struct, frozen=True, kw_only=True):
    """The gates a component runs with: this release's defaults plus explicit settings."""

    overrides: immutables.Map[str, bool] = immutables.Map()

    def enabled(self, name: str) -> bool:
        """Is gate ``name`` on? Asking for a gate missing from the table is a programming
        error."""
        assert name in KNOWN_GATES, f"unknown feature gate {name}"
        value = self.overrides.get(name)
        return KNOWN_GATES[name].default if value is None else value

    def explicit(self) -> tuple[tuple[str, bool], ...]:
        """The settings that differ from this release's defaults, by name."""
        return tuple(
            (name, value)
            for name, value in sorted(self.overrides.items())
            if value != KNOWN_GATES[name].default
        )


DEFAULT_GATES: Final = FeatureGates()


def _parse_bool(text: str) -> bool | None:
    if text in _TRUE_WORDS:
        return True
    if text in _FALSE_WORDS:
        return False
    return None


def _pairs(text: str) -> Result[list[tuple[str, bool]], str]:
    pairs: list[tuple[str, bool]] = []
    for item in text.split(","):
        if not item:
            continue
        name, separator, raw_value = item.partition("=")
        name = name.strip()
        if not separator:
            return Failure(f"missing bool value for {name}")
        value = _parse_bool(raw_value.strip())
        if value is None:
            return Failure(
                f"invalid value of {name}={raw_value.strip()}, err: strconv.ParseBool: "
                f'parsing "{raw_value.strip()}": invalid syntax'
            )
        pairs.append((name, value))
    return Success(pairs)


def parse_feature_gates(text: str) -> Result[FeatureGates, str]:
    """``--feature-gates`` text as component-base reads it."""
    parsed = _pairs(text)
    if isinstance(parsed, Failure):
        return Failure(parsed.failure())
    settings: dict[str, bool] = {}
    stage_switches: dict[Stage, bool] = {}
    for name, value in parsed.unwrap():
        if name in (ALL_ALPHA, ALL_BETA):
            stage_switches["ALPHA" if name == ALL_ALPHA else "BETA"] = value
            continue
        spec = KNOWN_GATES.get(name)
        if spec is None:
            return Failure(f"unrecognized feature gate: {name}")
        if spec.locked and value != spec.default:
            return Failure(
                f"cannot set feature gate {name} to {str(value).lower()}, "
                f"feature is locked to {str(spec.default).lower()}"
            )
        settings[name] = value
    for stage, value in stage_switches.items():
        for spec in KNOWN_GATES.values():
            if spec.stage == stage and not spec.locked and spec.name not in settings:
                settings[spec.name] = value
    return Success(FeatureGates(overrides=immutables.Map(settings)))
