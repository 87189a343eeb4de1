"""coordination.k8s.io/v1 Lease (leader election, node heartbeats)."""

from __future__ import annotations

from typing import Literal

from models.k8s.base import ApiStruct
from models.k8s.meta import ObjectMeta


class LeaseSpec(ApiStruct, frozen=True, kw_only=True):
    """Times are ``metav1.MicroTime`` text (RFC 3339 with microseconds)."""

    holder_identity: str | None = None
    lease_duration_seconds: int | None = None
    acquire_time: str | None = None
    renew_time: str | None = None
    lease_transitions: int | None = None
    strategy: str | None = None
    preferred_holder: str | None = None


class Lease(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["coordination.k8s.io/v1"] | None = None
    kind: Literal["Lease"] | None = None
    metadata: ObjectMeta | None = None
    spec: LeaseSpec | None = None
