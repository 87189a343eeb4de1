"""rbac.authorization.k8s.io/v1: Role, ClusterRole, RoleBinding and ClusterRoleBinding.

The API server stores and validates them; evaluating them (authorization) is not done here.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from models.k8s.base import ApiStruct
from models.k8s.meta import LabelSelector, ObjectMeta


class PolicyRule(ApiStruct, frozen=True, kw_only=True):
    """Either resources (with apiGroups) or nonResourceURLs; verbs are required."""

    verbs: tuple[str, ...] | None = None
    api_groups: tuple[str, ...] | None = None
    resources: tuple[str, ...] | None = None
    resource_names: tuple[str, ...] | None = None
    non_resource_urls: tuple[str, ...] | None = msgspec.field(default=None, name="nonResourceURLs")


class AggregationRule(ApiStruct, frozen=True, kw_only=True):
    cluster_role_selectors: tuple[LabelSelector, ...] | None = None


class Role(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["rbac.authorization.k8s.io/v1"] | None = None
    kind: Literal["Role"] | None = None
    metadata: ObjectMeta | None = None
    rules: tuple[PolicyRule, ...] | None = None


class ClusterRole(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["rbac.authorization.k8s.io/v1"] | None = None
    kind: Literal["ClusterRole"] | None = None
    metadata: ObjectMeta | None = None
    rules: tuple[PolicyRule, ...] | None = None
    aggregation_rule: AggregationRule | None = None


class Subject(ApiStruct, frozen=True, kw_only=True):
    """``kind`` is User, Group or ServiceAccount."""

    kind: str | None = None
    api_group: str | None = None
    name: str | None = None
    namespace: str | None = None


class RoleRef(ApiStruct, frozen=True, kw_only=True):
    """Immutable once the binding exists."""

    api_group: str | None = None
    kind: str | None = None
    name: str | None = None


class RoleBinding(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["rbac.authorization.k8s.io/v1"] | None = None
    kind: Literal["RoleBinding"] | None = None
    metadata: ObjectMeta | None = None
    subjects: tuple[Subject, ...] | None = None
    role_ref: RoleRef | None = None


class ClusterRoleBinding(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["rbac.authorization.k8s.io/v1"] | None = None
    kind: Literal["ClusterRoleBinding"] | None = None
    metadata: ObjectMeta | None = None
    subjects: tuple[Subject, ...] | None = None
    role_ref: RoleRef | None = None
