"""RBAC as the Kubernetes documentation states it, written for plain reading: the reference that
judges any authorizer's decisions (the fuzz tier compares ``impl/apiserver/rbac.py`` with it).

Source: "Using RBAC Authorization" (kubernetes.io/docs/reference/access-authn-authz/rbac/):

- Permissions are purely additive; there are no deny rules.
- A Role grants within its namespace; a ClusterRole's rules apply cluster-wide through a
  ClusterRoleBinding, or within one namespace through a RoleBinding.
- A rule allows a resource request when the verb, the API group and the resource each appear in
  the rule (or the rule says ``*``); a subresource is written ``resource/subresource``, and
  ``*/subresource`` names that subresource of every resource; when ``resourceNames`` is given,
  the request must name one of them (so list, watch, create and deletecollection, which carry
  no name, never match such a rule).
- A ``nonResourceURLs`` rule allows a non-resource request to a listed path, or under a path
  ending in ``*``; only ClusterRoleBindings grant them.
- Subjects are users, groups and service accounts (a ServiceAccount subject without a
  namespace means the binding's namespace).
- An aggregated ClusterRole holds the rules of every ClusterRole its selectors match, including
  those that are themselves aggregated (the controller keeps them in sync, so the rules are
  those of every plain role reachable through selections).

The objects are taken as JSON, as the API stores them, so the reference shares no parsing with
any implementation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from models.apiserver.auth import Attributes, UserInfo

Json = Mapping[str, Any]


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _name(obj: Json) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _namespace(obj: Json) -> str:
    return str((obj.get("metadata") or {}).get("namespace", "") or "")


def _labels(obj: Json) -> dict[str, str]:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return {str(k): str(v) for k, v in labels.items()}


def selector_matches(selector: Json, labels: Mapping[str, str]) -> bool:
    """A label selector: all of matchLabels, and each expression (In, NotIn, Exists,
    DoesNotExist); nothing required means everything matches."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if key not in labels or labels[key] != value:
            return False
    for expression in _list(selector.get("matchExpressions")):
        key, operator = expression.get("key"), expression.get("operator")
        values = _list(expression.get("values"))
        has = key in labels
        if operator == "In":
            ok = has and labels[key] in values
        elif operator == "NotIn":
            ok = not has or labels[key] not in values
        elif operator == "Exists":
            ok = has
        elif operator == "DoesNotExist":
            ok = not has
        else:
            ok = False
        if not ok:
            return False
    return True


def cluster_role_rules(objects: Sequence[Json], name: str) -> list[Json]:
    """The rules ClusterRole ``name`` grants: its own, or if it aggregates, those of every
    non-aggregating ClusterRole reachable by following selections."""
    roles = {_name(o): o for o in objects if o.get("kind") == "ClusterRole"}
    if name not in roles:
        return []
    reached: set[str] = set()
    frontier = [name]
    while frontier:
        current = frontier.pop()
        if current in reached:
            continue
        reached.add(current)
        aggregation = roles[current].get("aggregationRule")
        if not isinstance(aggregation, dict):
            continue
        for selector in _list(aggregation.get("clusterRoleSelectors")):
            for other, role in roles.items():
                if other != current and selector_matches(selector, _labels(role)):
                    frontier.append(other)
    rules: list[Json] = []
    for reached_name in sorted(reached):
        role = roles[reached_name]
        if not isinstance(role.get("aggregationRule"), dict):
            rules.extend(_list(role.get("rules")))
    return rules


def _in(value: str, allowed: Iterable[Any]) -> bool:
    allowed = list(allowed)
    return "*" in allowed or value in allowed


def rule_allows(rule: Json, request: Attributes) -> bool:
    if not _in(request.verb, _list(rule.get("verbs"))):
        return False
    if not request.resource_request:
        for url in _list(rule.get("nonResourceURLs")):
            if url == "*" or url == request.path:
                return True
            if url.endswith("*") and request.path.startswith(url[:-1]):
                return True
        return False
    if not _in(request.group, _list(rule.get("apiGroups"))):
        return False
    resources = _list(rule.get("resources"))
    if request.subresource:
        wanted = request.resource + "/" + request.subresource
        resource_ok = (
            "*" in resources or wanted in resources or ("*/" + request.subresource) in resources
        )
    else:
        resource_ok = "*" in resources or request.resource in resources
    if not resource_ok:
        return False
    names = _list(rule.get("resourceNames"))
    return not names or request.name in names


def subject_is(subject: Json, user: UserInfo, binding_namespace: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return name == user.name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return namespace != "" and user.name == f"system:serviceaccount:{namespace}:{name}"
    return False


def granted_rules(objects: Sequence[Json], user: UserInfo, namespace: str) -> list[Json]:
    """Every rule some binding gives ``user`` where ``namespace`` is ("" : cluster-wide)."""
    rules: list[Json] = []
    for binding in objects:
        kind = binding.get("kind")
        if kind not in ("ClusterRoleBinding", "RoleBinding"):
            continue
        bound_in = _namespace(binding) if kind == "RoleBinding" else ""
        if kind == "RoleBinding" and bound_in != namespace:
            continue
        if not any(subject_is(s, user, bound_in) for s in _list(binding.get("subjects"))):
            continue
        ref = binding.get("roleRef") or {}
        if ref.get("kind") == "ClusterRole":
            rules.extend(cluster_role_rules(objects, str(ref.get("name"))))
        elif ref.get("kind") == "Role" and kind == "RoleBinding":
            for role in objects:
                if (
                    role.get("kind") == "Role"
                    and _name(role) == ref.get("name")
                    and _namespace(role) == bound_in
                ):
                    rules.extend(_list(role.get("rules")))
    return rules


def allows(objects: Sequence[Json], request: Attributes) -> bool:
    """Whether RBAC over ``objects`` (Roles, ClusterRoles and their bindings, as JSON) allows
    ``request``."""
    namespace = request.namespace if request.resource_request else ""
    return any(
        rule_allows(rule, request) for rule in granted_rules(objects, request.user, namespace)
    )
