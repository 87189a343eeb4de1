"""admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding:
CEL rules a request must pass (``validations``), what they apply to (``matchConstraints``,
``matchConditions``), their parameters (``paramKind``) and, in a binding, which policy applies
where, with which parameters and to what effect (``validationActions``)."""

from __future__ import annotations

from typing import Literal

from models.k8s.base import ApiStruct
from models.k8s.meta import Condition, ObjectMeta
from models.selectors import LabelSelector


class NamedRuleWithOperations(ApiStruct, frozen=True, kw_only=True):
    resource_names: tuple[str, ...] | None = None
    operations: tuple[str, ...] | None = None
    api_groups: tuple[str, ...] | None = None
    api_versions: tuple[str, ...] | None = None
    resources: tuple[str, ...] | None = None
    scope: str | None = None


class MatchResources(ApiStruct, frozen=True, kw_only=True):
    namespace_selector: LabelSelector | None = None
    object_selector: LabelSelector | None = None
    resource_rules: tuple[NamedRuleWithOperations, ...] | None = None
    exclude_resource_rules: tuple[NamedRuleWithOperations, ...] | None = None
    match_policy: str | None = None


class ParamKind(ApiStruct, frozen=True, kw_only=True):
    api_version: str | None = None
    kind: str | None = None


class Validation(ApiStruct, frozen=True, kw_only=True):
    expression: str
    message: str | None = None
    reason: str | None = None
    message_expression: str | None = None


class AuditAnnotation(ApiStruct, frozen=True, kw_only=True):
    key: str
    value_expression: str


class MatchCondition(ApiStruct, frozen=True, kw_only=True):
    name: str
    expression: str


class Variable(ApiStruct, frozen=True, kw_only=True):
    name: str
    expression: str


class ValidatingAdmissionPolicySpec(ApiStruct, frozen=True, kw_only=True):
    param_kind: ParamKind | None = None
    match_constraints: MatchResources | None = None
    validations: tuple[Validation, ...] | None = None
    failure_policy: str | None = None
    audit_annotations: tuple[AuditAnnotation, ...] | None = None
    match_conditions: tuple[MatchCondition, ...] | None = None
    variables: tuple[Variable, ...] | None = None


class ExpressionWarning(ApiStruct, frozen=True, kw_only=True):
    field_ref: str
    warning: str


class TypeChecking(ApiStruct, frozen=True, kw_only=True):
    expression_warnings: tuple[ExpressionWarning, ...] | None = None


class ValidatingAdmissionPolicyStatus(ApiStruct, frozen=True, kw_only=True):
    observed_generation: int | None = None
    type_checking: TypeChecking | None = None
    conditions: tuple[Condition, ...] | None = None


class ValidatingAdmissionPolicy(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["admissionregistration.k8s.io/v1"] | None = None
    kind: Literal["ValidatingAdmissionPolicy"] | None = None
    metadata: ObjectMeta | None = None
    spec: ValidatingAdmissionPolicySpec | None = None
    status: ValidatingAdmissionPolicyStatus | None = None


class ParamRef(ApiStruct, frozen=True, kw_only=True):
    name: str | None = None
    namespace: str | None = None
    selector: LabelSelector | None = None
    parameter_not_found_action: str | None = None


class ValidatingAdmissionPolicyBindingSpec(ApiStruct, frozen=True, kw_only=True):
    policy_name: str | None = None
    param_ref: ParamRef | None = None
    match_resources: MatchResources | None = None
    validation_actions: tuple[str, ...] | None = None


class ValidatingAdmissionPolicyBinding(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["admissionregistration.k8s.io/v1"] | None = None
    kind: Literal["ValidatingAdmissionPolicyBinding"] | None = None
    metadata: ObjectMeta | None = None
    spec: ValidatingAdmissionPolicyBindingSpec | None = None
