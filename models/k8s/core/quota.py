"""core/v1 ResourceQuota: hard limits per resource name in a namespace (``pods``,
``requests.cpu``, ``limits.memory``, ``count/configmaps``, ...) and the usage the quota
controller records."""

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
