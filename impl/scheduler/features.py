"""The feature gates the scheduler reads, taken once from the component's gates (as
kube-scheduler's ``feature.Features`` does), and the gates whose enabled behaviour this model
does not implement.

Modelled: TaintTolerationComparisonOperators (``Gt``/``Lt`` tolerations, alpha, off),
PodLevelResources (pod-level requests in NodeResourcesFit, beta, on), InPlacePodVerticalScaling
(assigned pods count their resized requests, GA), MatchLabelKeysInPodTopologySpread (beta, on),
SchedulerPopFromBackoffQ (an idle scheduler takes pods from backoffQ, beta, on) and
SchedulerQueueingHints (GA). Gates that only change how the real scheduler talks to the API
server or how fast it is (SchedulerAsyncAPICalls, SchedulerAsyncPreemption,
OpportunisticBatching, NominatedNodeNameForExpectation) are accepted either way: the decisions
are the same. Enabling an alpha feature that adds behaviour not modelled here is refused.
"""

from __future__ import annotations

from typing import Final, final

import msgspec
from returns.result import Failure, Result, Success

from models.feature_gates import FeatureGates

NOT_MODELLED: Final = (
    "DRAExtendedResource",
    "GangScheduling",
    "GenericWorkload",
    "InPlacePodLevelResourcesVerticalScaling",
    "NodeDeclaredFeatures",
    "StorageCapacityScoring",
)
"""Gates whose enabled behaviour (off by default in v1.35) the model does not implement."""


@final
class SchedulerFeatures(msgspec.Struct, frozen=True, kw_only=True):
    """The scheduler-relevant gates as booleans."""

    comparison_operators: bool = False
    pod_level_resources: bool = True
    in_place_resize: bool = True
    match_label_keys_in_spread: bool = True
    pop_from_backoff: bool = True
    queueing_hints: bool = True


DEFAULT_FEATURES: Final = SchedulerFeatures()


def scheduler_features(gates: FeatureGates) -> Result[SchedulerFeatures, str]:
    """The scheduler's view of ``gates``; a gate whose behaviour is not modelled is an error."""
    for name in NOT_MODELLED:
        if gates.enabled(name):
            return Failure(f"feature gate {name}=true: its scheduler behaviour is not modelled")
    return Success(
        SchedulerFeatures(
            comparison_operators=gates.enabled("TaintTolerationComparisonOperators"),
            pod_level_resources=gates.enabled("PodLevelResources"),
            in_place_resize=gates.enabled("InPlacePodVerticalScaling"),
            match_label_keys_in_spread=gates.enabled("MatchLabelKeysInPodTopologySpread"),
            pop_from_backoff=gates.enabled("SchedulerPopFromBackoffQ"),
            queueing_hints=gates.enabled("SchedulerQueueingHints"),
        )
    )
