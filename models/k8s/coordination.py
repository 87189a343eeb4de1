"""coordination.k8s.io/v1 Lease (leader election, node heartbeats)."""

from __future__ import annotations

from typing import Literal

from models.k8s.base import ApiStruct, Int32
from models.k8s.meta import ObjectMeta, Time


class LeaseSpec(ApiStruct, frozen=True, kw_only=True):
    """Times are ``metav1.MicroTime`` text (RFC 3339 with microseconds)."""

    holder_identity: str | None = None
    lease_duration_seconds: Int32 | None = None
    acquire_time: Time | None = None
    renew_time: Time | None = None
    lease_transitions: Int32 | None = None
    strategy: str | None = None
    preferred_holder: str | None = None


class Lease(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["coordination.k8s.io/v1"] | None = None
    kind: Literal["Lease"] | None = None
    metadata: ObjectMeta | None = None
    spec: LeaseSpec | None = None
