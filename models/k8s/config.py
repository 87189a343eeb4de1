"""core/v1 ConfigMap, Secret and ServiceAccount: the configuration kinds pods refer to.

Secret ``data`` values are base64 text as the API carries them; ``stringData`` is write-only
(the API server merges it into ``data`` and never stores it).
"""

from __future__ import annotations

from typing import Literal

from models.k8s.base import ApiStruct, FrozenMap
from models.k8s.core.reference import ObjectReference
from models.k8s.meta import ObjectMeta


class ConfigMap(ApiStruct, frozen=True, kw_only=True):
    """``data`` holds UTF-8 values, ``binaryData`` base64 ones; their keys may not overlap."""

    api_version: Literal["v1"] | None = None
    kind: Literal["ConfigMap"] | None = None
    metadata: ObjectMeta | None = None
    immutable: bool | None = None
    data: FrozenMap[str, str] | None = None
    binary_data: FrozenMap[str, str] | None = None


class Secret(ApiStruct, frozen=True, kw_only=True):
    """``type`` defaults to ``Opaque``."""

    api_version: Literal["v1"] | None = None
    kind: Literal["Secret"] | None = None
    metadata: ObjectMeta | None = None
    immutable: bool | None = None
    data: FrozenMap[str, str] | None = None
    string_data: FrozenMap[str, str] | None = None
    type: str | None = None


class LocalObjectReference(ApiStruct, frozen=True, kw_only=True):
    name: str | None = None


class ServiceAccount(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["v1"] | None = None
    kind: Literal["ServiceAccount"] | None = None
    metadata: ObjectMeta | None = None
    secrets: tuple[ObjectReference, ...] | None = None
    image_pull_secrets: tuple[LocalObjectReference, ...] | None = None
    automount_service_account_token: bool | None = None
