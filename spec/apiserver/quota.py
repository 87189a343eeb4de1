"""ResourceQuota's guarantee, stated over the objects a server holds: in every namespace, the
pods that are not Succeeded or Failed use no more than any quota's ``spec.hard`` allows, for
``pods`` and for the cpu and memory requests and limits (summed over containers; an init
container counts when it asks for more than the sum); and the namespace's objects number no
more than its object counts allow: ``count/<resource>[.<group>]``, the core names
``configmaps``, ``secrets``, ``services``, ``persistentvolumeclaims``,
``replicationcontrollers``, ``resourcequotas``, and ``services.loadbalancers`` (LoadBalancer
Services) and ``services.nodeports`` (the ports of NodePort and LoadBalancer Services). Source:
"Resource Quotas" (kubernetes.io/docs/concepts/policy/resource-quotas/): "the quota system ...
ensures that creation of a resource does not exceed the hard limits", and its tables of object
count, service and scope quotas (a scoped quota counts only the pods in all its scopes, and no
other kind). Only quotas created before the objects bind them: a quota created
under the current usage is over at once (the companion test shows this check then fails)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any, Final

from returns.result import Success

from models.quantity import parse_quantity

Json = Mapping[str, Any]
ALIASES: Final = {"cpu": "requests.cpu", "memory": "requests.memory"}
TRACKED: Final = frozenset(
    {
        *ALIASES,
        "pods",
        "count/pods",
        "requests.cpu",
        "requests.memory",
        "limits.cpu",
        "limits.memory",
    }
)


def _amount(text: Any) -> Fraction | None:
    parsed = parse_quantity(str(text))
    return parsed.unwrap().exact if isinstance(parsed, Success) else None


def _container(container: Json, name: str) -> Fraction:
    kind, _, resource = name.partition(".")
    value = ((container.get("resources") or {}).get(kind) or {}).get(resource)
    amount = _amount(value) if value is not None else None
    return amount or Fraction(0)


def usage(pod: Json, name: str) -> Fraction:
    """How much of quota resource ``name`` one pod uses."""
    name = ALIASES.get(name, name)
    if name in ("pods", "count/pods"):
        return Fraction(1)
    spec = pod.get("spec") or {}
    summed = sum((_container(c, name) for c in spec.get("containers") or []), Fraction(0))
    largest_init = max((_container(c, name) for c in spec.get("initContainers") or []), default=0)
    return max(summed, Fraction(largest_init))


CORE_COUNTED: Final = (
    "configmaps",
    "secrets",
    "services",
    "persistentvolumeclaims",
    "replicationcontrollers",
    "resourcequotas",
)


def _object_usage(name: str, objects: Mapping[str, Sequence[Json]]) -> Fraction | None:
    """How much of an object-count or service quota name the objects (by ``resource`` or
    ``resource.group``) use; None for names this reference does not state."""
    if name in CORE_COUNTED:
        return Fraction(len(objects.get(name, ())))
    if name.startswith("count/") and name != "count/pods":
        return Fraction(len(objects.get(name.removeprefix("count/"), ())))
    services = objects.get("services", ())
    types = [(s.get("spec") or {}).get("type") for s in services]
    if name == "services.loadbalancers":
        return Fraction(types.count("LoadBalancer"))
    if name == "services.nodeports":
        total = 0
        for service in services:
            spec = service.get("spec") or {}
            ports = spec.get("ports") or []
            if spec.get("type") == "NodePort" or (
                spec.get("type") == "LoadBalancer"
                and spec.get("allocateLoadBalancerNodePorts") is not False
            ):
                total += len(ports)
            elif spec.get("type") == "LoadBalancer":
                total += sum(1 for port in ports if port.get("nodePort"))
        return Fraction(total)
    return None


def _scoped(quota: Json) -> bool:
    spec = quota.get("spec") or {}
    return bool(spec.get("scopes") or (spec.get("scopeSelector") or {}).get("matchExpressions"))


def in_scope(quota: Json, pod: Json) -> bool:
    """Whether a pod is in every scope of the quota, per the documentation's scope table:
    Terminating (``activeDeadlineSeconds >= 0``), NotTerminating (none), BestEffort (no
    cpu/memory requests or limits in any container), NotBestEffort, and PriorityClass (the
    pod's ``priorityClassName`` In / NotIn the values, or set for Exists)."""
    spec = quota.get("spec") or {}
    pod_spec = pod.get("spec") or {}
    deadline = pod_spec.get("activeDeadlineSeconds")
    containers = [*(pod_spec.get("containers") or []), *(pod_spec.get("initContainers") or [])]
    best_effort = not any(
        resource in ((c.get("resources") or {}).get(kind) or {})
        for c in containers
        for kind in ("requests", "limits")
        for resource in ("cpu", "memory")
    )
    facts = {
        "Terminating": deadline is not None and deadline >= 0,
        "NotTerminating": deadline is None,
        "BestEffort": best_effort,
        "NotBestEffort": not best_effort,
    }
    for scope in spec.get("scopes") or []:
        if not facts.get(scope, False):
            return False
    for requirement in (spec.get("scopeSelector") or {}).get("matchExpressions") or []:
        scope, operator = requirement.get("scopeName"), requirement.get("operator")
        values = requirement.get("values") or []
        if scope in facts:
            holds = facts[scope] if operator == "Exists" else False
        else:  # PriorityClass
            name = pod_spec.get("priorityClassName") or ""
            holds = {"In": name in values, "NotIn": name not in values, "Exists": name != ""}.get(
                str(operator), False
            )
        if not holds:
            return False
    return True


def violations(
    quotas: Sequence[Json],
    pods: Sequence[Json],
    objects: Mapping[str, Sequence[Json]] | None = None,
) -> list[str]:
    """Each quota resource whose usage is over its hard limit, named ``quota/resource``.
    ``objects`` holds the other objects by ``resource`` (core) or ``resource.group``."""
    live = [p for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
    found = []
    for quota in quotas:
        namespace = (quota.get("metadata") or {}).get("namespace")
        in_namespace = [
            p
            for p in live
            if (p.get("metadata") or {}).get("namespace") == namespace and in_scope(quota, p)
        ]
        others = {
            resource: [o for o in items if (o.get("metadata") or {}).get("namespace") == namespace]
            for resource, items in (objects or {}).items()
            if not _scoped(quota)  # a scoped quota tracks pods only
        }
        for name, hard in ((quota.get("spec") or {}).get("hard") or {}).items():
            limit = _amount(hard)
            if limit is None:
                continue
            if name in TRACKED:
                used: Fraction | None = sum((usage(p, name) for p in in_namespace), Fraction(0))
            else:
                used = _object_usage(name, others)
            if used is not None and used > limit:
                found.append(f"{(quota.get('metadata') or {}).get('name')}/{name}")
    return found


OLDER_COUNT_NAMES = (
    *("configmaps", "secrets", "services", "persistentvolumeclaims"),
    *("replicationcontrollers", "resourcequotas"),
)


def count_violations(quotas: Sequence[Json], objects: Sequence[tuple[str, str, Json]]) -> list[str]:
    """Each object-count quota name over its hard limit, named ``quota/name``; ``objects`` holds
    (resource, group, object) for the objects the server holds."""
    found = []
    for quota in quotas:
        namespace = (quota.get("metadata") or {}).get("namespace")
        for name, hard in ((quota.get("spec") or {}).get("hard") or {}).items():
            limit = _amount(hard)
            if limit is None:
                continue
            if name.startswith("count/") and name != "count/pods":
                counted = name[len("count/") :]
            elif name in OLDER_COUNT_NAMES:
                counted = name
            else:
                continue
            held = sum(
                1
                for resource, group, obj in objects
                if (f"{resource}.{group}" if group else resource) == counted
                and (obj.get("metadata") or {}).get("namespace") == namespace
            )
            if held > limit:
                found.append(f"{(quota.get('metadata') or {}).get('name')}/{name}")
    return found
