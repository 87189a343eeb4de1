"""apps/v1 ReplicaSet and Deployment (strategy with maxSurge/maxUnavailable as IntOrString)."""

from __future__ import annotations

from typing import Literal

from msgspec import UNSET

from models.k8s.base import ApiStruct
from models.k8s.core.pod import PodTemplateSpec
from models.k8s.meta import LabelSelector, ObjectMeta, Timestamp

IntOrString = int | str
"""A number, or a string such as ``"25%"`` (``intstr.IntOrString``)."""


class ReplicaSetCondition(ApiStruct, frozen=True, kw_only=True):
    type: str | None = None
    status: str | None = None
    last_transition_time: Timestamp = UNSET
    reason: str | None = None
    message: str | None = None


class ReplicaSetSpec(ApiStruct, frozen=True, kw_only=True):
    """``replicas`` defaults to 1 when absent."""

    replicas: int | None = None
    min_ready_seconds: int | None = None
    selector: LabelSelector | None = None
    template: PodTemplateSpec | None = None


class ReplicaSetStatus(ApiStruct, frozen=True, kw_only=True):
    replicas: int | None = None
    fully_labeled_replicas: int | None = None
    ready_replicas: int | None = None
    available_replicas: int | None = None
    terminating_replicas: int | None = None
    observed_generation: int | None = None
    conditions: tuple[ReplicaSetCondition, ...] | None = None


class ReplicaSet(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["apps/v1"] | None = None
    kind: Literal["ReplicaSet"] | None = None
    metadata: ObjectMeta | None = None
    spec: ReplicaSetSpec | None = None
    status: ReplicaSetStatus | None = None


class RollingUpdateDeployment(ApiStruct, frozen=True, kw_only=True):
    max_unavailable: IntOrString | None = None
    max_surge: IntOrString | None = None


class DeploymentStrategy(ApiStruct, frozen=True, kw_only=True):
    """Types: RollingUpdate (default), Recreate."""

    type: str | None = None
    rolling_update: RollingUpdateDeployment | None = None


class DeploymentCondition(ApiStruct, frozen=True, kw_only=True):
    """Types: Available, Progressing, ReplicaFailure."""

    type: str | None = None
    status: str | None = None
    last_update_time: Timestamp = UNSET
    last_transition_time: Timestamp = UNSET
    reason: str | None = None
    message: str | None = None


class DeploymentSpec(ApiStruct, frozen=True, kw_only=True):
    replicas: int | None = None
    selector: LabelSelector | None = None
    template: PodTemplateSpec | None = None
    strategy: DeploymentStrategy | None = None
    min_ready_seconds: int | None = None
    revision_history_limit: int | None = None
    paused: bool | None = None
    progress_deadline_seconds: int | None = None


class DeploymentStatus(ApiStruct, frozen=True, kw_only=True):
    observed_generation: int | None = None
    replicas: int | None = None
    updated_replicas: int | None = None
    ready_replicas: int | None = None
    available_replicas: int | None = None
    unavailable_replicas: int | None = None
    terminating_replicas: int | None = None
    conditions: tuple[DeploymentCondition, ...] | None = None
    collision_count: int | None = None


class Deployment(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["apps/v1"] | None = None
    kind: Literal["Deployment"] | None = None
    metadata: ObjectMeta | None = None
    spec: DeploymentSpec | None = None
    status: DeploymentStatus | None = None
