"""apiextensions.k8s.io/v1 CustomResourceDefinition: how users add kinds to the API.

Each version's ``schema.openAPIV3Schema`` is a JSON Schema subset (``JSONSchemaProps``),
recursive, so it is kept opaque here and checked by the API server's structural-schema rules.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import UNSET, UnsetType

from models.k8s.base import ApiStruct, Opaque
from models.k8s.meta import ObjectMeta, Timestamp


class CustomResourceDefinitionNames(ApiStruct, frozen=True, kw_only=True):
    plural: str | None = None
    singular: str | None = None
    short_names: tuple[str, ...] | None = None
    kind: str | None = None
    list_kind: str | None = None
    categories: tuple[str, ...] | None = None


class CustomResourceValidation(ApiStruct, frozen=True, kw_only=True):
    open_apiv3_schema: Opaque | UnsetType = msgspec.field(default=UNSET, name="openAPIV3Schema")


class CustomResourceColumnDefinition(ApiStruct, frozen=True, kw_only=True):
    name: str | None = None
    type: str | None = None
    format: str | None = None
    description: str | None = None
    priority: int | None = None
    json_path: str | None = None


class CustomResourceSubresourceScale(ApiStruct, frozen=True, kw_only=True):
    spec_replicas_path: str | None = None
    status_replicas_path: str | None = None
    label_selector_path: str | None = None


class CustomResourceSubresources(ApiStruct, frozen=True, kw_only=True):
    status: Opaque | UnsetType = UNSET
    scale: CustomResourceSubresourceScale | None = None


class CustomResourceDefinitionVersion(ApiStruct, frozen=True, kw_only=True):
    name: str | None = None
    served: bool | None = None
    storage: bool | None = None
    deprecated: bool | None = None
    deprecation_warning: str | None = None
    schema: CustomResourceValidation | None = None
    subresources: CustomResourceSubresources | None = None
    additional_printer_columns: tuple[CustomResourceColumnDefinition, ...] | None = None
    selectable_fields: Opaque | UnsetType = UNSET


class CustomResourceDefinitionSpec(ApiStruct, frozen=True, kw_only=True):
    """``scope`` is Namespaced or Cluster."""

    group: str | None = None
    names: CustomResourceDefinitionNames | None = None
    scope: str | None = None
    versions: tuple[CustomResourceDefinitionVersion, ...] | None = None
    conversion: Opaque | UnsetType = UNSET
    preserve_unknown_fields: bool | None = None


class CustomResourceDefinitionCondition(ApiStruct, frozen=True, kw_only=True):
    type: str | None = None
    status: str | None = None
    last_transition_time: Timestamp = UNSET
    reason: str | None = None
    message: str | None = None


class CustomResourceDefinitionStatus(ApiStruct, frozen=True, kw_only=True):
    conditions: tuple[CustomResourceDefinitionCondition, ...] | None = None
    accepted_names: CustomResourceDefinitionNames | None = None
    stored_versions: tuple[str, ...] | None = None


class CustomResourceDefinition(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["apiextensions.k8s.io/v1"] | None = None
    kind: Literal["CustomResourceDefinition"] | None = None
    metadata: ObjectMeta | None = None
    spec: CustomResourceDefinitionSpec | None = None
    status: CustomResourceDefinitionStatus | None = None
