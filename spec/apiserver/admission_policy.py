"""ValidatingAdmissionPolicy's guarantee, stated over the objects a server holds: an object
created while a Deny binding applied its policy to it satisfies every validation of that policy.
Source: "Validating Admission Policy"
(kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/): "If an
evaluation evaluates to false, the validation check is enforced according to the
validationActions field", and Deny "validation failure results in a denied request".

Stated for the simple policies a property test draws: ``matchConstraints.resourceRules`` naming
groups and resources (``*`` allowed) with CREATE among the operations, bindings with no
``matchResources`` and no params, validations whose expression reads ``object`` only. The
expressions are evaluated with cel-python directly; nothing is shared with ``impl/``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import celpy
from celpy import celtypes
from celpy.adapter import json_to_cel

Json = Mapping[str, Any]


def _applies(policy: Json, group: str, resource: str) -> bool:
    for rule in (policy.get("spec") or {}).get("matchConstraints", {}).get("resourceRules", []):
        if "CREATE" not in rule.get("operations", []) and "*" not in rule.get("operations", []):
            continue
        if group not in rule.get("apiGroups", []) and "*" not in rule.get("apiGroups", []):
            continue
        if resource in rule.get("resources", []) or "*" in rule.get("resources", []):
            return True
    return False


def _holds(expression: str, obj: Json) -> bool:
    environment = celpy.Environment()
    try:
        value = environment.program(environment.compile(expression)).evaluate(
            {"object": json_to_cel(dict(obj))}
        )
    except Exception:  # an error fails a Fail policy: the object could not have passed
        return False
    return isinstance(value, celtypes.BoolType | bool) and bool(value)


def violations(
    policies: Iterable[Json],
    bindings: Iterable[Json],
    created: Iterable[tuple[str, str, Json]],
) -> list[str]:
    """Each (object, policy, expression) where an object created under a Deny binding fails a
    validation; ``created`` holds (group, resource, object) for objects created while the
    policies and bindings were in place."""
    denying = {
        (b.get("spec") or {}).get("policyName")
        for b in bindings
        if "Deny" in (b.get("spec") or {}).get("validationActions", [])
    }
    found = []
    for group, resource, obj in created:
        for policy in policies:
            name = (policy.get("metadata") or {}).get("name")
            if name not in denying or not _applies(policy, group, resource):
                continue
            for validation in (policy.get("spec") or {}).get("validations", []):
                if not _holds(validation["expression"], obj):
                    object_name = (obj.get("metadata") or {}).get("name")
                    found.append(
                        f"{resource}/{object_name} fails {name}: {validation['expression']}"
                    )
    return found
