"""core/v1 ObjectReference: names another object (Binding target, Event subject, endpoint)."""

from __future__ import annotations

from models.k8s.base import ApiStruct


class ObjectReference(ApiStruct, frozen=True, kw_only=True):
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    uid: str | None = None
    api_version: str | None = None
    resource_version: str | None = None
    field_path: str | None = None
