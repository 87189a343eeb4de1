"""core/v1 Namespace, Event (the core/v1 kind kubectl describe reads) and Binding (what the
scheduler posts to ``pods/<name>/binding``)."""

from __future__ import annotations

from typing import Literal

from msgspec import UNSET

from models.k8s.base import ApiStruct
from models.k8s.core.reference import ObjectReference
from models.k8s.meta import ObjectMeta, Timestamp


class NamespaceSpec(ApiStruct, frozen=True, kw_only=True):
    finalizers: tuple[str, ...] | None = None


class NamespaceCondition(ApiStruct, frozen=True, kw_only=True):
    type: str | None = None
    status: str | None = None
    last_transition_time: Timestamp = UNSET
    reason: str | None = None
    message: str | None = None


class NamespaceStatus(ApiStruct, frozen=True, kw_only=True):
    """Phases: Active, Terminating."""

    phase: str | None = None
    conditions: tuple[NamespaceCondition, ...] | None = None


class Namespace(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["v1"] | None = None
    kind: Literal["Namespace"] | None = None
    metadata: ObjectMeta | None = None
    spec: NamespaceSpec | None = None
    status: NamespaceStatus | None = None


class EventSource(ApiStruct, frozen=True, kw_only=True):
    component: str | None = None
    host: str | None = None


class EventSeries(ApiStruct, frozen=True, kw_only=True):
    count: int | None = None
    last_observed_time: Timestamp = UNSET


class Event(ApiStruct, frozen=True, kw_only=True):
    """``core/v1 Event``. Go prints unset ``firstTimestamp``/``lastTimestamp``/``eventTime``
    as ``null``; those fields keep null apart from absent."""

    api_version: Literal["v1"] | None = None
    kind: Literal["Event"] | None = None
    metadata: ObjectMeta | None = None
    involved_object: ObjectReference | None = None
    reason: str | None = None
    message: str | None = None
    source: EventSource | None = None
    first_timestamp: Timestamp = UNSET
    last_timestamp: Timestamp = UNSET
    count: int | None = None
    type: str | None = None
    event_time: Timestamp = UNSET
    series: EventSeries | None = None
    action: str | None = None
    related: ObjectReference | None = None
    reporting_component: str | None = None
    reporting_instance: str | None = None


class Binding(ApiStruct, frozen=True, kw_only=True):
    """Binds a pod (``metadata``) to a node (``target``, kind Node)."""

    api_version: Literal["v1"] | None = None
    kind: Literal["Binding"] | None = None
    metadata: ObjectMeta | None = None
    target: ObjectReference | None = None
