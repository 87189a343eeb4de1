"""The LimitRanger admission plugin for pods, from the namespace's LimitRanges of type
``Container``.

Mutating: a container without a request (limit) for a resource gets the range's
``defaultRequest`` (``default``), and the pod is annotated ``kubernetes.io/limit-ranger:
LimitRanger plugin set: cpu, memory request for container c; cpu limit for container c``. As
kube defaults a LimitRange item, ``default`` falls back to ``max``, and ``defaultRequest`` to
``default``, then to ``min``. Validating: every container's request and limit must be at least
``min`` and its limit (and request) at most ``max``: ``minimum cpu usage per Container is 100m,
but request is 50m``, ``maximum memory usage per Container is 1Gi.  No limit is specified``;
several refusals are listed in brackets. ``maxLimitRequestRatio`` and the Pod and
PersistentVolumeClaim types are not enforced.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from returns.result import Success

from models.apiserver.status import failure
from models.k8s.meta_ops import Status, StatusDetails
from models.quantity import Quantity, parse_quantity

Json = dict[str, Any]
ANNOTATION: Final = "kubernetes.io/limit-ranger"


def _dict(value: Any) -> Json:
    return value if isinstance(value, dict) else {}


def _quantity(value: Any) -> Quantity | None:
    parsed = parse_quantity(str(value))
    return parsed.unwrap() if isinstance(parsed, Success) else None


def container_items(ranges: Iterable[Json]) -> list[Json]:
    """The ``Container`` items of the ranges (by range name), with kube's item defaults."""
    items = []
    for limit_range in sorted(ranges, key=lambda r: str(_dict(r.get("metadata")).get("name"))):
        for item in _dict(limit_range.get("spec")).get("limits") or []:
            if not isinstance(item, dict) or item.get("type") != "Container":
                continue
            default = {**_dict(item.get("max")), **_dict(item.get("default"))}
            default_request = {
                **_dict(item.get("min")),
                **default,
                **_dict(item.get("defaultRequest")),
            }
            items.append({**item, "default": default, "defaultRequest": default_request})
    return items


def _containers(pod: Json) -> list[tuple[str, Json]]:
    spec = _dict(pod.get("spec"))
    return [
        (prefix, container)
        for prefix, field in (("init container", "initContainers"), ("container", "containers"))
        for container in spec.get(field) or []
        if isinstance(container, dict)
    ]


def apply_defaults(items: list[Json], pod: Json) -> None:
    """Fill missing requests and limits from the ranges' defaults; annotate what was set."""
    notes: list[str] = []
    for prefix, container in _containers(pod):
        resources = _dict(container.get("resources"))
        limits = dict(_dict(resources.get("limits")))
        requests = dict(_dict(resources.get("requests")))
        set_limits: list[str] = []
        set_requests: list[str] = []
        for item in items:
            for name, value in _dict(item.get("default")).items():
                if name not in limits:
                    limits[name] = value
                    set_limits.append(name)
            for name, value in _dict(item.get("defaultRequest")).items():
                if name not in requests:
                    requests[name] = value
                    set_requests.append(name)
        if set_limits or set_requests:
            changed = dict(resources)
            if limits:
                changed["limits"] = limits
            if requests:
                changed["requests"] = requests
            container["resources"] = changed
        name = container.get("name", "")
        if set_requests:
            notes.append(f"{', '.join(sorted(set_requests))} request for {prefix} {name}")
        if set_limits:
            notes.append(f"{', '.join(sorted(set_limits))} limit for {prefix} {name}")
    if notes:
        metadata = pod.setdefault("metadata", {})
        annotations = metadata.setdefault("annotations", {})
        annotations[ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)


def _errors(items: list[Json], pod: Json) -> list[str]:
    errors: list[str] = []
    for _, container in _containers(pod):
        resources = _dict(container.get("resources"))
        requests, limits = _dict(resources.get("requests")), _dict(resources.get("limits"))
        for item in items:
            for name, value in sorted(_dict(item.get("min")).items()):
                enforced = _quantity(value)
                if enforced is None:
                    continue
                request, limit = _quantity(requests.get(name)), _quantity(limits.get(name))
                what = f"minimum {name} usage per Container is {enforced}"
                if name not in requests or request is None:
                    errors.append(f"{what}.  No request is specified")
                elif request < enforced:
                    errors.append(f"{what}, but request is {request}")
                elif limit is not None and limit < enforced:
                    errors.append(f"{what}, but limit is {limit}")
            for name, value in sorted(_dict(item.get("max")).items()):
                enforced = _quantity(value)
                if enforced is None:
                    continue
                request, limit = _quantity(requests.get(name)), _quantity(limits.get(name))
                what = f"maximum {name} usage per Container is {enforced}"
                if name not in limits or limit is None:
                    errors.append(f"{what}.  No limit is specified")
                elif enforced < limit:
                    errors.append(f"{what}, but limit is {limit}")
                elif request is not None and enforced < request:
                    errors.append(f"{what}, but request is {request}")
    return errors


def validate(items: list[Json], pod: Json, name: str) -> Status | None:
    errors = _errors(items, pod)
    if not errors:
        return None
    why = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
    return failure(
        403,
        "Forbidden",
        f'pods "{name}" is forbidden: {why}',
        StatusDetails(name=name, kind="pods"),
    )
