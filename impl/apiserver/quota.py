"""The ResourceQuota admission plugin for pods: a pod is created only if, for every quota of its
namespace, the usage after it stays within ``spec.hard``; refused with kube's messages.

Tracked names: ``pods`` and ``count/pods`` (one per pod), ``requests.cpu`` (alias ``cpu``),
``requests.memory`` (alias ``memory``), ``limits.cpu``, ``limits.memory`` (per pod: the sum over
containers, or the largest init container if larger). A quota on cpu or memory requires every
container to state it: ``failed quota: q: must specify limits.cpu for: c``. Over a limit:
``exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2`` (only the exceeded
names, sorted). Usage is counted from the pods the server holds in the namespace that are not
Succeeded or Failed: what the quota controller writes into ``status.used``, which this server
does not maintain; ``spec.hard`` stands for ``status.hard``.

Object counts (``admit_count``), for a create of any other namespaced kind: ``count/RES`` (a core
resource) or ``count/RES.GROUP``, and the older names ``services``, ``configmaps``, ``secrets``,
``persistentvolumeclaims``, ``replicationcontrollers`` and ``resourcequotas``; one per object the
namespace holds. Over a limit: ``configmaps "c" is forbidden: exceeded quota: q, requested:
configmaps=1,count/configmaps=1, used: ..., limited: ...``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from returns.result import Success

from models.apiserver.status import failure
from models.k8s.meta_ops import Status, StatusDetails
from models.quantity import Quantity, QuantityFormat, parse_quantity

Json = dict[str, Any]
COMPUTE: Final = ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory", "cpu", "memory")
TRACKED: Final = frozenset({"pods", "count/pods", *COMPUTE})
LEGACY_COUNTS: Final = frozenset(
    {
        "services",
        "configmaps",
        "secrets",
        "persistentvolumeclaims",
        "replicationcontrollers",
        "resourcequotas",
    }
)
"""Core resources whose object count a quota may also name without ``count/``."""
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


def _forbidden(name: str, why: str) -> Status:
    return failure(
        403,
        "Forbidden",
        f'pods "{name}" is forbidden: {why}',
        StatusDetails(name=name, kind="pods"),
    )


def admit_pod(quotas: Iterable[Json], pods: Iterable[Json], pod: Json, name: str) -> Status | None:
    """The refusal of a pod the namespace's quotas (``quotas``) do not allow, given the pods
    the namespace already has; None admits it."""
    quotas = sorted(quotas, key=lambda q: str(_dict(q.get("metadata")).get("name", "")))
    if not quotas:
        return None
    used: dict[str, Quantity] = {}
    for other in pods:
        if _dict(other.get("status")).get("phase") not in ("Succeeded", "Failed"):
            _add(used, pod_usage(other))
    requested = pod_usage(pod)
    for quota in quotas:
        quota_name = str(_dict(quota.get("metadata")).get("name", ""))
        hard = {
            key: q
            for key, value in _dict(_dict(quota.get("spec")).get("hard")).items()
            if key in TRACKED and (q := _quantity(value)) is not None
        }
        missing = _missing(hard, pod)
        if missing is not None:
            return _forbidden(name, f"failed quota: {quota_name}: {missing}")
        exceeded = sorted(
            key
            for key, limit in hard.items()
            if key in requested
            and limit < (used[key] + requested[key] if key in used else requested[key])
        )
        if exceeded:
            zero = Quantity.zero()
            return _forbidden(
                name,
                f"exceeded quota: {quota_name}, "
                f"requested: {_pretty({k: requested[k] for k in exceeded})}, "
                f"used: {_pretty({k: used.get(k, zero) for k in exceeded})}, "
                f"limited: {_pretty({k: hard[k] for k in exceeded})}",
            )
    return None


def count_names(resource: str, group: str) -> frozenset[str]:
    """The quota names that count objects of ``resource`` in ``group``."""
    names = {f"count/{resource}.{group}" if group else f"count/{resource}"}
    if not group and resource in LEGACY_COUNTS:
        names.add(resource)
    return frozenset(names)


def admit_count(
    quotas: Iterable[Json], resource: str, group: str, held: int, name: str
) -> Status | None:
    """The refusal of one more object of ``resource`` when the namespace holds ``held`` and a
    quota counts them; None admits it."""
    names = count_names(resource, group)
    for quota in sorted(quotas, key=lambda q: str(_dict(q.get("metadata")).get("name", ""))):
        quota_name = str(_dict(quota.get("metadata")).get("name", ""))
        hard = {
            key: q
            for key, value in _dict(_dict(quota.get("spec")).get("hard")).items()
            if key in names and (q := _quantity(value)) is not None
        }
        one, used, after = _quantity("1"), _quantity(str(held)), _quantity(str(held + 1))
        assert one is not None
        assert used is not None
        assert after is not None
        exceeded = sorted(key for key, limit in hard.items() if limit < after)
        if exceeded:
            qualified = f"{resource}.{group}" if group else resource
            return failure(
                403,
                "Forbidden",
                f'{qualified} "{name}" is forbidden: exceeded quota: {quota_name}, '
                f"requested: {_pretty(dict.fromkeys(exceeded, one))}, "
                f"used: {_pretty(dict.fromkeys(exceeded, used))}, "
                f"limited: {_pretty({k: hard[k] for k in exceeded})}",
                StatusDetails(name=name, group=group or None, kind=resource),
            )
    return None
