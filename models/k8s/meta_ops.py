"""meta/v1 request and answer objects: Status (every error answer), DeleteOptions,
WatchEvent, and policy/v1 Eviction (a delete with options, posted to ``pods/<n>/eviction``)."""

from __future__ import annotations

from typing import Literal

from msgspec import UNSET, UnsetType

from models.k8s.base import ApiStruct, Int32, Int64, Opaque
from models.k8s.meta import ListMeta, ObjectMeta


class StatusCause(ApiStruct, frozen=True, kw_only=True):
    """``reason`` is a CauseType such as ``FieldValueRequired``; ``field`` its path."""

    reason: str | None = None
    message: str | None = None
    field: str | None = None


class StatusDetails(ApiStruct, frozen=True, kw_only=True):
    name: str | None = None
    group: str | None = None
    kind: str | None = None
    uid: str | None = None
    causes: tuple[StatusCause, ...] | None = None
    retry_after_seconds: Int32 | None = None


class Status(ApiStruct, frozen=True, kw_only=True):
    """``status`` is Success or Failure; ``reason`` a StatusReason; ``code`` the HTTP code."""

    api_version: Literal["v1"] | None = None
    kind: Literal["Status"] | None = None
    metadata: ListMeta | None = None
    status: str | None = None
    message: str | None = None
    reason: str | None = None
    details: StatusDetails | None = None
    code: Int32 | None = None


class Preconditions(ApiStruct, frozen=True, kw_only=True):
    uid: str | None = None
    resource_version: str | None = None


class DeleteOptions(ApiStruct, frozen=True, kw_only=True):
    """``propagationPolicy`` is Orphan, Background or Foreground."""

    api_version: str | None = None
    kind: Literal["DeleteOptions"] | None = None
    grace_period_seconds: Int64 | None = None
    preconditions: Preconditions | None = None
    orphan_dependents: bool | None = None
    propagation_policy: str | None = None
    dry_run: tuple[str, ...] | None = None
    ignore_store_read_error_with_cluster_breaking_potential: bool | None = None


class Eviction(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["policy/v1", "policy/v1beta1"] | None = None
    kind: Literal["Eviction"] | None = None
    metadata: ObjectMeta | None = None
    delete_options: DeleteOptions | None = None


class WatchEvent(ApiStruct, frozen=True, kw_only=True):
    """One line of a watch stream: ADDED, MODIFIED, DELETED, BOOKMARK or ERROR."""

    type: str
    object: Opaque | UnsetType = UNSET
