"""autoscaling/v2 HorizontalPodAutoscaler and autoscaling/v1 Scale (the ``/scale``
subresource of deployments, replicasets, statefulsets and custom resources)."""

from __future__ import annotations

from typing import Literal

from msgspec import UNSET, UnsetType

from models.k8s.base import ApiStruct, Int32, Int64, Opaque
from models.k8s.meta import ObjectMeta, Timestamp


class CrossVersionObjectReference(ApiStruct, frozen=True, kw_only=True):
    kind: str | None = None
    name: str | None = None
    api_version: str | None = None


class HorizontalPodAutoscalerSpec(ApiStruct, frozen=True, kw_only=True):
    """``metrics`` (resource, pods, object, external, containerResource) and ``behavior``
    are kept opaque; ``minReplicas`` defaults to 1."""

    scale_target_ref: CrossVersionObjectReference | None = None
    min_replicas: Int32 | None = None
    max_replicas: Int32 | None = None
    metrics: Opaque | UnsetType = UNSET
    behavior: Opaque | UnsetType = UNSET


class HorizontalPodAutoscalerCondition(ApiStruct, frozen=True, kw_only=True):
    type: str | None = None
    status: str | None = None
    last_transition_time: Timestamp = UNSET
    reason: str | None = None
    message: str | None = None


class HorizontalPodAutoscalerStatus(ApiStruct, frozen=True, kw_only=True):
    observed_generation: Int64 | None = None
    last_scale_time: Timestamp = UNSET
    current_replicas: Int32 | None = None
    desired_replicas: Int32 | None = None
    current_metrics: Opaque | UnsetType = UNSET
    conditions: tuple[HorizontalPodAutoscalerCondition, ...] | None = None


class HorizontalPodAutoscaler(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["autoscaling/v2"] | None = None
    kind: Literal["HorizontalPodAutoscaler"] | None = None
    metadata: ObjectMeta | None = None
    spec: HorizontalPodAutoscalerSpec | None = None
    status: HorizontalPodAutoscalerStatus | None = None


class ScaleSpec(ApiStruct, frozen=True, kw_only=True):
    replicas: Int32 | None = None


class ScaleStatus(ApiStruct, frozen=True, kw_only=True):
    """``selector`` is the label selector in its string form."""

    replicas: Int32 | None = None
    selector: str | None = None


class Scale(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["autoscaling/v1"] | None = None
    kind: Literal["Scale"] | None = None
    metadata: ObjectMeta | None = None
    spec: ScaleSpec | None = None
    status: ScaleStatus | None = None
