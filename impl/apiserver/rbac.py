"""RBAC: the roles and bindings the server holds, read into an index, and the evaluation of a
request against them (kube's ``rbac`` authorizer and its rule resolver).

Theory of operation. ``build_index`` reads every Role, ClusterRole, RoleBinding and
ClusterRoleBinding out of the watch cache. An aggregated ClusterRole's rules are the union of
the rules of every ClusterRole its ``clusterRoleSelectors`` select, to a fixpoint (what the
clusterrole-aggregation controller writes into it). A request is allowed when one rule of a role
bound to the user allows it: ClusterRoleBindings everywhere, RoleBindings only in their
namespace (whether they reference a Role of that namespace or a ClusterRole). A rule allows a
resource request when its verbs, apiGroups, resources (``*``, ``res``, ``res/sub``, ``*/sub``)
and resourceNames (empty: any) match; a non-resource request when its verbs and
nonResourceURLs (``*``, exact, or a ``prefix*``) match. There is no deny.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import immutables
import msgspec

from models.apiserver.auth import (
    Attributes,
    Binding,
    Rule,
    SubjectRef,
    UserInfo,
    service_account_user,
)

RBAC_PREFIXES = (
    "/registry/roles/",
    "/registry/clusterroles/",
    "/registry/rolebindings/",
    "/registry/clusterrolebindings/",
)


class RbacIndex(msgspec.Struct, frozen=True, kw_only=True):
    """The effective rules of every role and every binding, by scope."""

    cluster_roles: immutables.Map[str, tuple[Rule, ...]] = msgspec.field(
        default_factory=immutables.Map
    )
    roles: immutables.Map[tuple[str, str], tuple[Rule, ...]] = msgspec.field(
        default_factory=immutables.Map
    )
    cluster_bindings: tuple[Binding, ...] = ()
    bindings: immutables.Map[str, tuple[Binding, ...]] = msgspec.field(
        default_factory=immutables.Map
    )


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


def rule_from_json(value: Any) -> Rule:
    if not isinstance(value, dict):
        return Rule()
    return Rule(
        verbs=_strings(value.get("verbs")),
        api_groups=_strings(value.get("apiGroups")),
        resources=_strings(value.get("resources")),
        resource_names=_strings(value.get("resourceNames")),
        non_resource_urls=_strings(value.get("nonResourceURLs")),
    )


def rules_from_json(value: Any) -> tuple[Rule, ...]:
    return tuple(rule_from_json(item) for item in value) if isinstance(value, list) else ()


def _metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def binding_from_json(obj: Mapping[str, Any]) -> Binding:
    metadata = _metadata(obj)
    ref = obj.get("roleRef")
    ref = ref if isinstance(ref, dict) else {}
    subjects: list[SubjectRef] = []
    for subject in obj.get("subjects") or ():
        if isinstance(subject, dict):
            subjects.append(
                SubjectRef(
                    kind=str(subject.get("kind", "")),
                    name=str(subject.get("name", "")),
                    namespace=str(subject.get("namespace", "") or ""),
                )
            )
    return Binding(
        namespace=str(metadata.get("namespace", "") or ""),
        name=str(metadata.get("name", "")),
        role_kind=str(ref.get("kind", "")),
        role_name=str(ref.get("name", "")),
        subjects=tuple(subjects),
    )


def _selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """``LabelSelectorAsSelector(selector).Matches(labels)`` for a selector as JSON: every
    matchLabels pair and every matchExpression must hold; an empty selector selects all."""
    match_labels = selector.get("matchLabels")
    if isinstance(match_labels, dict):
        for key, value in match_labels.items():
            if labels.get(str(key)) != value:
                return False
    for expression in selector.get("matchExpressions") or ():
        if not isinstance(expression, dict):
            return False
        key = str(expression.get("key", ""))
        values = _strings(expression.get("values"))
        operator = expression.get("operator")
        if operator == "In" and not (key in labels and labels[key] in values):
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True


def _selects(selectors: tuple[Mapping[str, Any], ...], labels: Mapping[str, str]) -> bool:
    return any(_selector_matches(selector, labels) for selector in selectors)


def _label_selectors(obj: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...] | None:
    aggregation = obj.get("aggregationRule")
    if not isinstance(aggregation, dict):
        return None
    found = aggregation.get("clusterRoleSelectors") or ()
    return tuple(item for item in found if isinstance(item, dict))


def _union(rules: Iterable[Rule]) -> tuple[Rule, ...]:
    seen: dict[Rule, None] = {}
    for rule in rules:
        seen.setdefault(rule, None)
    return tuple(seen)


def aggregate(
    own: Mapping[str, tuple[Rule, ...]],
    labels: Mapping[str, Mapping[str, str]],
    selectors: Mapping[str, tuple[Mapping[str, Any], ...]],
) -> dict[str, tuple[Rule, ...]]:
    """The rules of every ClusterRole once aggregation settles: an aggregated role's rules are
    the union of the current rules of the roles it selects (itself excluded), repeated from
    empty until nothing changes: the least fixpoint, which is where the aggregation controller
    settles when no aggregating roles select each other in a cycle (in a cycle, rules stored in
    the aggregating roles themselves are ignored)."""
    current = {name: (() if name in selectors else rules) for name, rules in own.items()}
    selected = {
        name: [
            other
            for other in sorted(own)
            if other != name and _selects(role_selectors, labels.get(other, {}))
        ]
        for name, role_selectors in selectors.items()
    }
    for _ in range(len(current) + 1):
        changed = False
        for name in sorted(selected):
            rules = _union(rule for other in selected[name] for rule in current[other])
            if rules != current[name]:
                current[name] = rules
                changed = True
        if not changed:
            break
    return current


def build_index(objects: Iterable[tuple[str, bytes]]) -> RbacIndex:
    """The index of the RBAC objects among ``objects`` (etcd key, JSON)."""
    own: dict[str, tuple[Rule, ...]] = {}
    labels: dict[str, Mapping[str, str]] = {}
    selectors: dict[str, tuple[Mapping[str, Any], ...]] = {}
    roles: dict[tuple[str, str], tuple[Rule, ...]] = {}
    cluster_bindings: list[Binding] = []
    bindings: dict[str, list[Binding]] = {}
    for key, value in objects:
        if not key.startswith(RBAC_PREFIXES):
            continue
        try:
            obj = msgspec.json.decode(value)
        except msgspec.DecodeError:
            continue
        if not isinstance(obj, dict):
            continue
        metadata = _metadata(obj)
        name = str(metadata.get("name", ""))
        if key.startswith("/registry/clusterroles/"):
            own[name] = rules_from_json(obj.get("rules"))
            raw_labels = metadata.get("labels")
            labels[name] = (
                {str(k): str(v) for k, v in raw_labels.items()}
                if isinstance(raw_labels, dict)
                else {}
            )
            role_selectors = _label_selectors(obj)
            if role_selectors is not None:
                selectors[name] = role_selectors
        elif key.startswith("/registry/roles/"):
            roles[(str(metadata.get("namespace", "")), name)] = rules_from_json(obj.get("rules"))
        elif key.startswith("/registry/clusterrolebindings/"):
            cluster_bindings.append(binding_from_json(obj))
        else:
            binding = binding_from_json(obj)
            bindings.setdefault(binding.namespace, []).append(binding)
    return RbacIndex(
        cluster_roles=immutables.Map(aggregate(own, labels, selectors)),
        roles=immutables.Map(roles),
        cluster_bindings=tuple(cluster_bindings),
        bindings=immutables.Map({ns: tuple(items) for ns, items in bindings.items()}),
    )


# Rule matching (rbac/v1 helpers) -------------------------------------------------------------


def verb_matches(rule: Rule, verb: str) -> bool:
    return "*" in rule.verbs or verb in rule.verbs


def group_matches(rule: Rule, group: str) -> bool:
    return "*" in rule.api_groups or group in rule.api_groups


def resource_matches(rule: Rule, resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for candidate in rule.resources:
        if candidate in ("*", combined):
            return True
        if subresource and candidate.startswith("*/") and candidate[2:] == subresource:
            return True
    return False


def name_matches(rule: Rule, name: str) -> bool:
    return not rule.resource_names or name in rule.resource_names


def url_matches(rule: Rule, path: str) -> bool:
    for candidate in rule.non_resource_urls:
        if candidate in ("*", path):
            return True
        if candidate.endswith("*") and path.startswith(candidate[:-1]):
            return True
    return False


def rule_allows(rule: Rule, attributes: Attributes) -> bool:
    if attributes.resource_request:
        return (
            verb_matches(rule, attributes.verb)
            and group_matches(rule, attributes.group)
            and resource_matches(rule, attributes.resource, attributes.subresource)
            and name_matches(rule, attributes.name)
        )
    return verb_matches(rule, attributes.verb) and url_matches(rule, attributes.path)


# Bindings ------------------------------------------------------------------------------------


def applies_to(subject: SubjectRef, user: UserInfo, binding_namespace: str) -> bool:
    """``appliesToUser``: a ServiceAccount subject without a namespace takes its binding's."""
    if subject.kind == "User":
        return user.name == subject.name
    if subject.kind == "Group":
        return subject.name in user.groups
    if subject.kind == "ServiceAccount":
        namespace = subject.namespace or binding_namespace
        return bool(namespace) and user.name == service_account_user(namespace, subject.name)
    return False


def role_rules(index: RbacIndex, binding: Binding) -> tuple[Rule, ...] | None:
    """The rules of the role a binding references; None when it does not exist."""
    if binding.role_kind == "ClusterRole":
        return index.cluster_roles.get(binding.role_name)
    if binding.role_kind == "Role" and binding.namespace:
        return index.roles.get((binding.namespace, binding.role_name))
    return None


def _bindings_in_scope(index: RbacIndex, namespace: str) -> tuple[Binding, ...]:
    if not namespace:
        return index.cluster_bindings
    return (*index.cluster_bindings, *index.bindings.get(namespace, ()))


def rules_for(index: RbacIndex, user: UserInfo, namespace: str) -> tuple[Rule, ...]:
    """Every rule that applies to ``user`` in ``namespace`` ("" : cluster-wide only)."""
    rules: list[Rule] = []
    for binding in _bindings_in_scope(index, namespace):
        if not any(applies_to(s, user, binding.namespace) for s in binding.subjects):
            continue
        found = role_rules(index, binding)
        if found is not None:
            rules.extend(found)
    return tuple(rules)


def describe_subject(subject: SubjectRef, binding_namespace: str) -> str:
    if subject.kind == "ServiceAccount":
        namespace = subject.namespace or binding_namespace
        return f'{subject.kind} "{namespace}/{subject.name}"'
    return f'{subject.kind} "{subject.name}"'


def describe_binding(binding: Binding, subject: SubjectRef) -> str:
    """How kube's RBAC authorizer names the grant that allowed a request."""
    who = describe_subject(subject, binding.namespace)
    if binding.namespace:
        return (
            f'RoleBinding "{binding.name}/{binding.namespace}" of {binding.role_kind} '
            f'"{binding.role_name}" to {who}'
        )
    return f'ClusterRoleBinding "{binding.name}" of ClusterRole "{binding.role_name}" to {who}'


def allowed_by(index: RbacIndex, attributes: Attributes) -> str | None:
    """Why RBAC allows the request (kube's reason: ``RBAC: allowed by ...``), or None."""
    namespace = attributes.namespace if attributes.resource_request else ""
    for binding in _bindings_in_scope(index, namespace):
        subject = next(
            (s for s in binding.subjects if applies_to(s, attributes.user, binding.namespace)),
            None,
        )
        if subject is None:
            continue
        found = role_rules(index, binding)
        if found is not None and any(rule_allows(rule, attributes) for rule in found):
            return f"RBAC: allowed by {describe_binding(binding, subject)}"
    return None
