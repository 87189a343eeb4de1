"""apps/v1 DaemonSet: one pod per eligible node."""

from __future__ import annotations

from typing import Literal

from msgspec import UNSET

from models.k8s.base import ApiStruct, Int32, Int64, IntOrString
from models.k8s.core.pod import PodTemplateSpec
from models.k8s.meta import LabelSelector, ObjectMeta, Timestamp


class RollingUpdateDaemonSet(ApiStruct, frozen=True, kw_only=True):
    max_unavailable: IntOrString | None = None
    max_surge: IntOrString | None = None


class DaemonSetUpdateStrategy(ApiStruct, frozen=True, kw_only=True):
    """``type`` is RollingUpdate (the default) or OnDelete."""

    type: str | None = None
    rolling_update: RollingUpdateDaemonSet | None = None


class DaemonSetSpec(ApiStruct, frozen=True, kw_only=True):
    selector: LabelSelector | None = None
    template: PodTemplateSpec | None = None
    update_strategy: DaemonSetUpdateStrategy | None = None
    min_ready_seconds: Int32 | None = None
    revision_history_limit: Int32 | None = None


class DaemonSetCondition(ApiStruct, frozen=True, kw_only=True):
    type: str | None = None
    status: str | None = None
    last_transition_time: Timestamp = UNSET
    reason: str | None = None
    message: str | None = None


class DaemonSetStatus(ApiStruct, frozen=True, kw_only=True):
    current_number_scheduled: Int32 | None = None
    number_misscheduled: Int32 | None = None
    desired_number_scheduled: Int32 | None = None
    number_ready: Int32 | None = None
    observed_generation: Int64 | None = None
    updated_number_scheduled: Int32 | None = None
    number_available: Int32 | None = None
    number_unavailable: Int32 | None = None
    collision_count: Int32 | None = None
    conditions: tuple[DaemonSetCondition, ...] | None = None


class DaemonSet(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["apps/v1"] | None = None
    kind: Literal["DaemonSet"] | None = None
    metadata: ObjectMeta | None = None
    spec: DaemonSetSpec | None = None
    status: DaemonSetStatus | None = None
