"""policy/v1 PodDisruptionBudget: how many pods of a set may be disrupted voluntarily (the
eviction API and the scheduler's preemption read ``status.disruptionsAllowed``)."""

from __future__ import annotations

from typing import Literal

from models.k8s.base import ApiStruct, FrozenMap, Int32, Int64, IntOrString
from models.k8s.meta import Condition, LabelSelector, ListMeta, ObjectMeta, Time


class PodDisruptionBudgetSpec(ApiStruct, frozen=True, kw_only=True):
    """``minAvailable`` or ``maxUnavailable`` (a count or a percentage) over ``selector``."""

    min_available: IntOrString | None = None
    selector: LabelSelector | None = None
    max_unavailable: IntOrString | None = None
    unhealthy_pod_eviction_policy: str | None = None


class PodDisruptionBudgetStatus(ApiStruct, frozen=True, kw_only=True):
    """``disruptedPods`` maps pod names to when their eviction was admitted."""

    observed_generation: Int64 | None = None
    disrupted_pods: FrozenMap[str, Time] | None = None
    disruptions_allowed: Int32 | None = None
    current_healthy: Int32 | None = None
    desired_healthy: Int32 | None = None
    expected_pods: Int32 | None = None
    conditions: tuple[Condition, ...] | None = None


class PodDisruptionBudget(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["policy/v1"] | None = None
    kind: Literal["PodDisruptionBudget"] | None = None
    metadata: ObjectMeta | None = None
    spec: PodDisruptionBudgetSpec | None = None
    status: PodDisruptionBudgetStatus | None = None


class PodDisruptionBudgetList(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["policy/v1"] | None = None
    kind: Literal["PodDisruptionBudgetList"] | None = None
    metadata: ListMeta | None = None
    items: tuple[PodDisruptionBudget, ...] | None = None
