"""core/v1 ResourceQuota (hard limits per resource name in a namespace: ``pods``,
``requests.cpu``, ``limits.memory``, ``count/configmaps``, ..., and the usage the quota
controller records) and LimitRange (per-container defaults, minimums and maximums)."""

from __future__ import annotations

from typing import Literal

from models.k8s.base import ApiStruct, Opaque
from models.k8s.core.pod import ResourceList
from models.k8s.meta import ObjectMeta


class ResourceQuotaSpec(ApiStruct, frozen=True, kw_only=True):
    hard: ResourceList | None = None
    scopes: tuple[str, ...] | None = None
    scope_selector: Opaque | None = None


class ResourceQuotaStatus(ApiStruct, frozen=True, kw_only=True):
    hard: ResourceList | None = None
    used: ResourceList | None = None


class ResourceQuota(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["v1"] | None = None
    kind: Literal["ResourceQuota"] | None = None
    metadata: ObjectMeta | None = None
    spec: ResourceQuotaSpec | None = None
    status: ResourceQuotaStatus | None = None


class LimitRangeItem(ApiStruct, frozen=True, kw_only=True):
    """Limits of one object type (``Container``, ``Pod``, ``PersistentVolumeClaim``)."""

    type: str | None = None
    max: ResourceList | None = None
    min: ResourceList | None = None
    default: ResourceList | None = None
    default_request: ResourceList | None = None
    max_limit_request_ratio: ResourceList | None = None


class LimitRangeSpec(ApiStruct, frozen=True, kw_only=True):
    limits: tuple[LimitRangeItem, ...] | None = None


class LimitRange(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["v1"] | None = None
    kind: Literal["LimitRange"] | None = None
    metadata: ObjectMeta | None = None
    spec: LimitRangeSpec | None = None
