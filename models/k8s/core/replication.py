"""core/v1 ReplicationController: the older workload controller, which selects its pods with
a plain label map."""

from __future__ import annotations

from typing import Literal

from msgspec import UNSET

from models.k8s.base import ApiStruct, FrozenMap, Int32, Int64
from models.k8s.core.pod import PodTemplateSpec
from models.k8s.meta import ListMeta, ObjectMeta, Timestamp


class ReplicationControllerSpec(ApiStruct, frozen=True, kw_only=True):
    replicas: Int32 | None = None
    min_ready_seconds: Int32 | None = None
    selector: FrozenMap[str, str] | None = None
    template: PodTemplateSpec | None = None


class ReplicationControllerCondition(ApiStruct, frozen=True, kw_only=True):
    type: str | None = None
    status: str | None = None
    last_transition_time: Timestamp = UNSET
    reason: str | None = None
    message: str | None = None


class ReplicationControllerStatus(ApiStruct, frozen=True, kw_only=True):
    replicas: Int32 | None = None
    fully_labeled_replicas: Int32 | None = None
    ready_replicas: Int32 | None = None
    available_replicas: Int32 | None = None
    observed_generation: Int64 | None = None
    conditions: tuple[ReplicationControllerCondition, ...] | None = None


class ReplicationController(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["v1"] | None = None
    kind: Literal["ReplicationController"] | None = None
    metadata: ObjectMeta | None = None
    spec: ReplicationControllerSpec | None = None
    status: ReplicationControllerStatus | None = None


class ReplicationControllerList(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["v1"] | None = None
    kind: Literal["ReplicationControllerList"] | None = None
    metadata: ListMeta | None = None
    items: tuple[ReplicationController, ...] | None = None
