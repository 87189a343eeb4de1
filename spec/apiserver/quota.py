"""ResourceQuota's guarantee, stated over the objects a server holds: in every namespace, the
pods that are not Succeeded or Failed use no more than any quota's ``spec.hard`` allows, for
``pods`` and for the cpu and memory requests and limits (summed over containers; an init
container counts when it asks for more than the sum); and the namespace holds no more objects
of a kind than ``count/RESOURCE[.GROUP]`` allows (or the older ``configmaps``, ``secrets``,
``services``, ``persistentvolumeclaims``, ``replicationcontrollers``, ``resourcequotas``).
Source: "Resource Quotas" (kubernetes.io/docs/concepts/policy/resource-quotas/): "the quota
system ... ensures that creation of a resource does not exceed the hard limits"."""

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


def violations(quotas: Sequence[Json], pods: Sequence[Json]) -> list[str]:
    """Each quota resource whose usage is over its hard limit, named ``quota/resource``."""
    live = [p for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
    found = []
    for quota in quotas:
        namespace = (quota.get("metadata") or {}).get("namespace")
        in_namespace = [p for p in live if (p.get("metadata") or {}).get("namespace") == namespace]
        for name, hard in ((quota.get("spec") or {}).get("hard") or {}).items():
            limit = _amount(hard)
            if limit is None or name not in TRACKED:
                continue
            used = sum((usage(p, name) for p in in_namespace), Fraction(0))
            if used > limit:
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
