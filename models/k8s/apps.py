"""apps/v1 ReplicaSet, Deployment (strategy with maxSurge/maxUnavailable as IntOrString) and
StatefulSet (its selector is what the scheduler reads; volume claim templates stay opaque)."""

from __future__ import annotations

from typing import Literal

from msgspec import UNSET, UnsetType

from models.k8s.base import ApiStruct, Int32, Int64, IntOrString, Opaque
from models.k8s.core.pod import PodTemplateSpec
from models.k8s.meta import LabelSelector, ListMeta, ObjectMeta, Timestamp


class ReplicaSetCondition(ApiStruct, frozen=True, kw_only=True):
    type: str | None = None
    status: str | None = None
    last_transition_time: Timestamp = UNSET
    reason: str | None = None
    message: str | None = None


class ReplicaSetSpec(ApiStruct, frozen=True, kw_only=True):
    """``replicas`` defaults to 1 when absent."""

    replicas: Int32 | None = None
    min_ready_seconds: Int32 | None = None
    selector: LabelSelector | None = None
    template: PodTemplateSpec | None = None


class ReplicaSetStatus(ApiStruct, frozen=True, kw_only=True):
    replicas: Int32 | None = None
    fully_labeled_replicas: Int32 | None = None
    ready_replicas: Int32 | None = None
    available_replicas: Int32 | None = None
    terminating_replicas: Int32 | None = None
    observed_generation: Int64 | None = None
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
    replicas: Int32 | None = None
    selector: LabelSelector | None = None
    template: PodTemplateSpec | None = None
    strategy: DeploymentStrategy | None = None
    min_ready_seconds: Int32 | None = None
    revision_history_limit: Int32 | None = None
    paused: bool | None = None
    progress_deadline_seconds: Int32 | None = None


class DeploymentStatus(ApiStruct, frozen=True, kw_only=True):
    observed_generation: Int64 | None = None
    replicas: Int32 | None = None
    updated_replicas: Int32 | None = None
    ready_replicas: Int32 | None = None
    available_replicas: Int32 | None = None
    unavailable_replicas: Int32 | None = None
    terminating_replicas: Int32 | None = None
    conditions: tuple[DeploymentCondition, ...] | None = None
    collision_count: Int32 | None = None


class Deployment(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["apps/v1"] | None = None
    kind: Literal["Deployment"] | None = None
    metadata: ObjectMeta | None = None
    spec: DeploymentSpec | None = None
    status: DeploymentStatus | None = None


class StatefulSetSpec(ApiStruct, frozen=True, kw_only=True):
    """What the control plane does not interpret here (update strategy, claim templates,
    retention policy, ordinals) is kept opaque."""

    replicas: Int32 | None = None
    selector: LabelSelector | None = None
    template: PodTemplateSpec | None = None
    volume_claim_templates: Opaque | UnsetType = UNSET
    service_name: str | None = None
    pod_management_policy: str | None = None
    update_strategy: Opaque | UnsetType = UNSET
    revision_history_limit: Int32 | None = None
    min_ready_seconds: Int32 | None = None
    persistent_volume_claim_retention_policy: Opaque | UnsetType = UNSET
    ordinals: Opaque | UnsetType = UNSET


class StatefulSetStatus(ApiStruct, frozen=True, kw_only=True):
    observed_generation: Int64 | None = None
    replicas: Int32 | None = None
    ready_replicas: Int32 | None = None
    current_replicas: Int32 | None = None
    updated_replicas: Int32 | None = None
    current_revision: str | None = None
    update_revision: str | None = None
    collision_count: Int32 | None = None
    conditions: Opaque | UnsetType = UNSET
    available_replicas: Int32 | None = None


class StatefulSet(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["apps/v1"] | None = None
    kind: Literal["StatefulSet"] | None = None
    metadata: ObjectMeta | None = None
    spec: StatefulSetSpec | None = None
    status: StatefulSetStatus | None = None


class StatefulSetList(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["apps/v1"] | None = None
    kind: Literal["StatefulSetList"] | None = None
    metadata: ListMeta | None = None
    items: tuple[StatefulSet, ...] | None = None
