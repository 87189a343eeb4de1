"""The ResourceQuota admission plugin: an object is created only if, for every quota of its
namespace, the usage after it stays within ``spec.hard``; refused with kube's messages.

Tracked names (kube's evaluators, v1.35):

- pods: ``pods`` and ``count/pods`` (one per pod), ``requests.cpu`` (alias ``cpu``),
  ``requests.memory`` (alias ``memory``), ``limits.cpu``, ``limits.memory`` (per pod: the sum
  over containers, or the largest init container if larger). A quota on cpu or memory requires
  every container to state it: ``failed quota: q: must specify limits.cpu for: c``. Pods that
  are Succeeded or Failed use nothing.
- services: ``services``, ``services.nodeports`` (a NodePort or LoadBalancer Service's port
  count; with ``allocateLoadBalancerNodePorts: false`` only its ports that name a
  ``nodePort``), ``services.loadbalancers`` (one per LoadBalancer Service).
- every resource: ``count/<resource>`` (core group) or ``count/<resource>.<group>``
  (``count/deployments.apps``, custom resources too), one per object; the legacy names
  ``configmaps``, ``secrets``, ``persistentvolumeclaims``, ``replicationcontrollers``,
  ``resourcequotas`` and ``services`` count the same.

A quota with ``scopes`` or a ``scopeSelector`` (Terminating, NotTerminating, BestEffort,
NotBestEffort, PriorityClass) counts and limits only the pods it matches, and no other kind.

Over a limit: ``exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2`` (only the
exceeded names, sorted); names the object uses none of are not checked. Usage is counted from
the objects the server holds in the namespace: what kube's quota controller writes into
``status.used``; ``status_of`` gives a quota the status that controller would write.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from returns.result import Success

from models.apiserver.status import forbidden
from models.k8s.meta_ops import Status
from models.quantity import Quantity, QuantityFormat, parse_quantity

Json = dict[str, Any]
COMPUTE: Final = ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory", "cpu", "memory")
LEGACY: Final = frozenset(
    {
        "configmaps",
        "secrets",
        "persistentvolumeclaims",
        "replicationcontrollers",
        "resourcequotas",
        "services",
    }
)
"""Core resources whose plain name counts objects as ``count/<resource>`` does."""
SERVICE_NAMES: Final = ("services", "services.nodeports", "services.loadbalancers")
QUOTA_PREFIX: Final = "/registry/resourcequotas/"
LIMITS_PREFIX: Final = "/registry/limitranges/"
POLICY_PREFIXES: Final = (QUOTA_PREFIX, LIMITS_PREFIX)
"""The namespaced policies pod admission reads (ResourceQuota, LimitRange)."""


def _dict(value: Any) -> Json:
    return value if isinstance(value, dict) else {}


def _quantity(value: Any) -> Quantity | None:
    parsed = parse_quantity(str(value))
    return parsed.unwrap() if isinstance(parsed, Success) else None


def _container_usage(container: Json) -> dict[str, Quantity]:
    resources = _dict(container.get("resources"))
    usage: dict[str, Quantity] = {}
    for kind, field in (("requests", "requests"), ("limits", "limits")):
        values = _dict(resources.get(field))
        for name in ("cpu", "memory"):
            if name in values:
                quantity = _quantity(values[name])
                if quantity is not None:
                    usage[f"{kind}.{name}"] = quantity
                    if kind == "requests":
                        usage[name] = quantity
    return usage


def _add(total: dict[str, Quantity], more: dict[str, Quantity]) -> None:
    for name, quantity in more.items():
        total[name] = total[name] + quantity if name in total else quantity


def pod_usage(pod: Json) -> dict[str, Quantity]:
    spec = _dict(pod.get("spec"))
    summed: dict[str, Quantity] = {}
    for container in spec.get("containers") or []:
        _add(summed, _container_usage(_dict(container)))
    for container in spec.get("initContainers") or []:
        for name, quantity in _container_usage(_dict(container)).items():
            if name not in summed or summed[name] < quantity:
                summed[name] = quantity
    one = Quantity.from_int(1, QuantityFormat.DECIMAL_SI)
    return {"pods": one, "count/pods": one, **summed}


def _missing(hard: Iterable[str], pod: Json) -> str | None:
    required = sorted(set(hard) & set(COMPUTE))
    missing: dict[str, list[str]] = {}
    for container in _dict(pod.get("spec")).get("containers") or []:
        usage = _container_usage(_dict(container))
        for name in required:
            if name not in usage:
                missing.setdefault(name, []).append(str(_dict(container).get("name", "")))
    if not missing:
        return None
    return "must specify " + "; ".join(
        f"{name} for: {','.join(sorted(missing[name]))}" for name in sorted(missing)
    )


def _pretty(values: dict[str, Quantity]) -> str:
    return ",".join(f"{name}={values[name]}" for name in sorted(values))


def _forbidden(qualified: str, name: str, why: str) -> Status:
    return forbidden(qualified, name, why)


def count_name(group: str, resource: str) -> str:
    return f"count/{resource}.{group}" if group else f"count/{resource}"


def counted_resource(name: str) -> tuple[str, str] | None:
    """The (group, resource) whose objects a quota name counts; None for names not tracked."""
    if name in ("pods", *COMPUTE):
        return ("", "pods")
    if name in SERVICE_NAMES:
        return ("", "services")
    if name in LEGACY:
        return ("", name)
    if name.startswith("count/") and len(name) > len("count/"):
        resource, _, group = name[len("count/") :].partition(".")
        return (group, resource)
    return None


def _service_usage(service: Json) -> dict[str, Quantity]:
    spec = _dict(service.get("spec"))
    ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
    kind = spec.get("type")
    node_ports = 0
    balancers = 0
    if kind == "NodePort":
        node_ports = len(ports)
    elif kind == "LoadBalancer":
        balancers = 1
        if spec.get("allocateLoadBalancerNodePorts") is False:
            node_ports = sum(1 for p in ports if p.get("nodePort"))
        else:
            node_ports = len(ports)
    return {
        "services.nodeports": Quantity.from_int(node_ports, QuantityFormat.DECIMAL_SI),
        "services.loadbalancers": Quantity.from_int(balancers, QuantityFormat.DECIMAL_SI),
    }


def usage(group: str, resource: str, obj: Json) -> dict[str, Quantity]:
    """What one object of ``group``/``resource`` uses, by quota name (a finished pod nothing)."""
    if (group, resource) == ("", "pods"):
        if _dict(obj.get("status")).get("phase") in ("Succeeded", "Failed"):
            return {}
        return pod_usage(obj)
    one = Quantity.from_int(1, QuantityFormat.DECIMAL_SI)
    used = {count_name(group, resource): one}
    if not group and resource in LEGACY:
        used[resource] = one
    if (group, resource) == ("", "services"):
        used.update(_service_usage(obj))
    return used


def charge(group: str, resource: str, obj: Json, previous: Json | None) -> dict[str, Quantity]:
    """What a write charges: the object's usage, less (never below zero) what the object it
    replaces used (kube's ``SubtractWithNonNegativeResult``)."""
    new = usage(group, resource, obj)
    if previous is None:
        return new
    old = usage(group, resource, previous)
    zero = Quantity.zero()
    return {
        key: value - old[key]
        if key in old and old[key] < value
        else (zero if key in old else value)
        for key, value in new.items()
    }


def _hard(quota: Json) -> dict[str, Quantity]:
    return {
        key: q
        for key, value in _dict(_dict(quota.get("spec")).get("hard")).items()
        if counted_resource(key) is not None and (q := _quantity(value)) is not None
    }


def total(group: str, resource: str, objects: Iterable[Json]) -> dict[str, Quantity]:
    used: dict[str, Quantity] = {}
    for obj in objects:
        _add(used, usage(group, resource, obj))
    return used


def admit(
    quotas: Iterable[Json],
    held: Iterable[Json],
    obj: Json,
    group: str,
    resource: str,
    qualified: str,
    name: str,
    recorded: Mapping[str, dict[str, Quantity]] | None = None,
    previous: Json | None = None,
) -> Status | None:
    """The refusal of an object (of ``group``/``resource``, its errors naming ``qualified``)
    the namespace's quotas do not allow, given the objects of its resource the namespace
    already holds; None admits it. A quota named in ``recorded`` is judged from that usage (its
    ``status.used``, when the quota is fresher than the objects counted) instead. On an update
    (``previous`` is the stored object, which ``held`` includes) only the growth is charged."""
    quotas = sorted(quotas, key=lambda q: str(_dict(q.get("metadata")).get("name", "")))
    if not quotas:
        return None
    requested = {k: v for k, v in charge(group, resource, obj, previous).items() if not v.is_zero()}
    if not requested:
        return None
    held = list(held)
    counted = total(group, resource, held)
    for quota in quotas:
        if not matches(quota, group, resource, obj):
            continue
        quota_name = str(_dict(quota.get("metadata")).get("name", ""))
        scoped = counted
        if _selectors(quota):
            scoped = total(group, resource, [h for h in held if matches(quota, group, resource, h)])
        used = (recorded or {}).get(quota_name, scoped)
        hard = _hard(quota)
        if (group, resource) == ("", "pods"):
            missing = _missing(hard, obj)
            if missing is not None:
                return _forbidden(qualified, name, f"failed quota: {quota_name}: {missing}")
        exceeded = sorted(
            key
            for key, limit in hard.items()
            if key in requested
            and limit < (used[key] + requested[key] if key in used else requested[key])
        )
        if exceeded:
            zero = Quantity.zero()
            return _forbidden(
                qualified,
                name,
                f"exceeded quota: {quota_name}, "
                f"requested: {_pretty({k: requested[k] for k in exceeded})}, "
                f"used: {_pretty({k: used.get(k, zero) for k in exceeded})}, "
                f"limited: {_pretty({k: hard[k] for k in exceeded})}",
            )
    return None


def recorded_usage(quota: Json) -> dict[str, Quantity]:
    """A quota's ``status.used``, parsed."""
    return {
        key: q
        for key, value in _dict(_dict(quota.get("status")).get("used")).items()
        if (q := _quantity(value)) is not None
    }


def charged_status(quota: Json, requested: dict[str, Quantity]) -> Json:
    """A quota's status after charging ``requested`` on top of its ``status.used``."""
    used = recorded_usage(quota)
    for key in _hard(quota):
        if key in requested:
            used[key] = used[key] + requested[key] if key in used else requested[key]
    spec_hard = _dict(_dict(quota.get("spec")).get("hard"))
    return {"hard": dict(spec_hard), "used": {key: str(value) for key, value in used.items()}}


def status_of(quota: Json, objects_by: Mapping[tuple[str, str], list[Json]]) -> Json:
    """The status kube's quota controller writes: ``hard`` as in the spec, ``used`` for every
    tracked hard name, from the objects of each counted resource (``objects_by``) the quota's
    scopes match."""
    spec_hard = _dict(_dict(quota.get("spec")).get("hard"))
    totals: dict[tuple[str, str], dict[str, Quantity]] = {}
    used: Json = {}
    for key in spec_hard:
        counted = counted_resource(key)
        if counted is None:
            continue
        if counted not in totals:
            group, resource = counted
            matching = [
                o for o in objects_by.get(counted, []) if matches(quota, group, resource, o)
            ]
            totals[counted] = total(group, resource, matching)
        amount = totals[counted].get(key)
        used[key] = str(amount) if amount is not None else "0"
    return {"hard": dict(spec_hard), "used": used}


def _selectors(quota: Json) -> list[Json]:
    """The quota's scopes (as ``Exists`` requirements) and scope selector requirements."""
    spec = _dict(quota.get("spec"))
    found = [{"scopeName": scope, "operator": "Exists"} for scope in spec.get("scopes") or []]
    selector = _dict(spec.get("scopeSelector"))
    found += [r for r in selector.get("matchExpressions") or [] if isinstance(r, dict)]
    return found


def _best_effort(pod: Json) -> bool:
    spec = _dict(pod.get("spec"))
    for field in ("initContainers", "containers"):
        for container in spec.get(field) or []:
            resources = _dict(_dict(container).get("resources"))
            for kind in ("requests", "limits"):
                if {"cpu", "memory"} & set(_dict(resources.get(kind))):
                    return False
    return True


def _pod_matches(requirement: Json, pod: Json) -> bool:
    """``podMatchesScopeFunc``: one scope requirement against a pod."""
    spec = _dict(pod.get("spec"))
    scope = requirement.get("scopeName")
    deadline = spec.get("activeDeadlineSeconds")
    terminating = isinstance(deadline, int) and deadline >= 0
    if scope == "Terminating":
        return terminating
    if scope == "NotTerminating":
        return not terminating
    if scope == "BestEffort":
        return _best_effort(pod)
    if scope == "NotBestEffort":
        return not _best_effort(pod)
    if scope == "PriorityClass":
        name = str(spec.get("priorityClassName") or "")
        operator = requirement.get("operator")
        values = [str(v) for v in requirement.get("values") or []]
        if operator == "Exists":
            return name != ""
        if operator == "In":
            return name in values
        if operator == "NotIn":
            return name not in values
        return False  # DoesNotExist: the key is always there (kube's label-set view)
    return False


def matches(quota: Json, group: str, resource: str, obj: Json) -> bool:
    """Whether a quota's scopes match the object: an unscoped quota matches everything, a
    scoped one only pods meeting every requirement (kube's evaluators for other kinds match no
    scope)."""
    selectors = _selectors(quota)
    if not selectors:
        return True
    if (group, resource) != ("", "pods"):
        return False
    return all(_pod_matches(requirement, obj) for requirement in selectors)
