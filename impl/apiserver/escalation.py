"""Escalation prevention, enforced by the RBAC API itself: a user may write a Role or
ClusterRole only if it already holds every permission in it (or may ``escalate`` roles), and a
RoleBinding or ClusterRoleBinding only if it holds every permission of the referenced role at
the binding's scope (or may ``bind`` that role). ``system:masters`` is exempt. Setting an
``aggregationRule`` needs every permission (``*`` on everything).

Coverage is kube's: each written rule is broken down into one rule per (group, resource, verb,
name) or (URL, verb), and each of those must be covered by one rule the user holds, where a
``*`` in a written rule is a literal that only a ``*`` covers.
"""

from __future__ import annotations

from typing import Any

import msgspec

from impl.apiserver.authz import authorize, forbidden_status
from impl.apiserver.rbac import (
    RbacIndex,
    binding_from_json,
    role_rules,
    rules_for,
    rules_from_json,
)
from models.apiserver.auth import MASTERS, Attributes, AuthConfig, Rule, UserInfo
from models.apiserver.status import not_found
from models.k8s.meta_ops import Status

RBAC_GROUP = "rbac.authorization.k8s.io"
FULL_AUTHORITY = (
    Rule(verbs=("*",), api_groups=("*",), resources=("*",)),
    Rule(verbs=("*",), non_resource_urls=("*",)),
)


def breakdown(rule: Rule) -> list[Rule]:
    """``BreakdownRule``: one rule per group, resource, verb and name; per URL and verb."""
    atoms: list[Rule] = []
    for group in rule.api_groups:
        for resource in rule.resources:
            for verb in rule.verbs:
                names = rule.resource_names or ("",)
                for name in names:
                    atoms.append(
                        Rule(
                            verbs=(verb,),
                            api_groups=(group,),
                            resources=(resource,),
                            resource_names=(name,) if name else (),
                        )
                    )
    for url in rule.non_resource_urls:
        for verb in rule.verbs:
            atoms.append(Rule(verbs=(verb,), non_resource_urls=(url,)))
    return atoms


def _resources_cover(held: tuple[str, ...], wanted: tuple[str, ...]) -> bool:
    if "*" in held:
        return True
    for path in wanted:
        if path in held:
            continue
        if "/" not in path:
            return False
        if "*/" + path.split("/", 1)[1] not in held:
            return False
    return True


def _urls_cover(held: tuple[str, ...], wanted: tuple[str, ...]) -> bool:
    for url in wanted:
        if not any(
            candidate in ("*", url) or (candidate.endswith("*") and url.startswith(candidate[:-1]))
            for candidate in held
        ):
            return False
    return True


def rule_covers(owner: Rule, wanted: Rule) -> bool:
    """``ruleCovers``: every part of ``wanted`` is in ``owner`` (a ``*`` in owner covers
    anything; a ``*`` in wanted only a ``*``)."""
    verbs = "*" in owner.verbs or all(v in owner.verbs for v in wanted.verbs)
    groups = "*" in owner.api_groups or all(g in owner.api_groups for g in wanted.api_groups)
    resources = _resources_cover(owner.resources, wanted.resources)
    urls = _urls_cover(owner.non_resource_urls, wanted.non_resource_urls)
    if wanted.resource_names:
        names = not owner.resource_names or all(
            n in owner.resource_names for n in wanted.resource_names
        )
    else:
        names = not owner.resource_names
    return verbs and groups and resources and urls and names


def missing_rules(owned: tuple[Rule, ...], wanted: tuple[Rule, ...]) -> list[Rule]:
    """The atoms of ``wanted`` that no rule of ``owned`` covers."""
    return [
        atom
        for rule in wanted
        for atom in breakdown(rule)
        if not any(rule_covers(owner, atom) for owner in owned)
    ]


def _go_quoted(values: tuple[str, ...]) -> str:
    return (
        "["
        + " ".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
        + "]"
    )


def compact_string(rule: Rule) -> str:
    """``CompactString``: the fields a rule sets, Go-quoted."""
    parts = []
    if rule.api_groups:
        parts.append(f"APIGroups:{_go_quoted(rule.api_groups)}")
    if rule.resources:
        parts.append(f"Resources:{_go_quoted(rule.resources)}")
    if rule.non_resource_urls:
        parts.append(f"NonResourceURLs:{_go_quoted(rule.non_resource_urls)}")
    if rule.resource_names:
        parts.append(f"ResourceNames:{_go_quoted(rule.resource_names)}")
    if rule.verbs:
        parts.append(f"Verbs:{_go_quoted(rule.verbs)}")
    return "{" + ", ".join(parts) + "}"


def _compact(rules: list[Rule]) -> list[Rule]:
    """``CompactRules``: resource atoms that differ only in their verb become one rule."""
    merged: dict[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]], list[str]] = {}
    others: list[Rule] = []
    for rule in rules:
        if rule.non_resource_urls:
            others.append(rule)
            continue
        key = (rule.api_groups, rule.resources, rule.resource_names)
        verbs = merged.setdefault(key, [])
        verbs.extend(v for v in rule.verbs if v not in verbs)
    compacted = [
        Rule(verbs=tuple(verbs), api_groups=k[0], resources=k[1], resource_names=k[2])
        for k, verbs in merged.items()
    ]
    return compacted + others


def escalation_message(user: UserInfo, missing: list[Rule]) -> str:
    lines = sorted({compact_string(rule) for rule in _compact(missing)})
    groups = _go_quoted(user.groups)
    return (
        f'user "{user.name}" (groups={groups}) is attempting to grant RBAC permissions not '
        "currently held:\n" + "\n".join(lines)
    )


def _may(
    config: AuthConfig,
    index: RbacIndex,
    user: UserInfo,
    verb: str,
    resource: str,
    ns: str,
    name: str,
) -> bool:
    attributes = Attributes(
        user=user,
        verb=verb,
        resource_request=True,
        group=RBAC_GROUP,
        version="v1",
        namespace=ns,
        resource=resource,
        name=name,
    )
    return authorize(config, index, attributes).allowed


def check_write(
    config: AuthConfig,
    index: RbacIndex,
    user: UserInfo,
    resource: str,
    namespace: str,
    obj: dict[str, Any],
) -> Status | None:
    """Refuse writing ``obj`` (the object as it would be stored) to ``resource`` when it would
    grant ``user`` permissions it does not hold; None allows it."""
    if MASTERS in user.groups:
        return None
    metadata = obj.get("metadata")
    name = str(metadata.get("name", "")) if isinstance(metadata, dict) else ""
    qualified = f"{resource}.{RBAC_GROUP}"
    held = rules_for(index, user, namespace)
    if resource in ("roles", "clusterroles"):
        if resource == "clusterroles" and isinstance(obj.get("aggregationRule"), dict):
            if missing_rules(held, FULL_AUTHORITY):
                return forbidden_status(
                    qualified,
                    RBAC_GROUP,
                    resource,
                    name,
                    "must have cluster-admin privileges to use the aggregationRule",
                )
            return None
        if _may(config, index, user, "escalate", resource, namespace, name):
            return None
        missing = missing_rules(held, rules_from_json(obj.get("rules")))
    else:
        binding = binding_from_json(obj)
        role_resource = "clusterroles" if binding.role_kind == "ClusterRole" else "roles"
        if _may(config, index, user, "bind", role_resource, namespace, binding.role_name):
            return None
        granted = role_rules(index, msgspec.structs.replace(binding, namespace=namespace))
        if granted is None:
            return not_found(f"{role_resource}.{RBAC_GROUP}", binding.role_name)
        missing = missing_rules(held, granted)
    if not missing:
        return None
    return forbidden_status(
        qualified, RBAC_GROUP, resource, name, escalation_message(user, missing)
    )
