"""The objects of the metrics API (``metrics.k8s.io/v1beta1``) as metrics-server serves them:
NodeMetrics and PodMetrics with ``timestamp`` (RFC 3339, seconds), ``window`` (a Go duration,
``15.002s``) and usage quantities (cpu in nanocores, ``DecimalSI`` scale -9: ``1234567n``,
``5m``; memory bytes, ``BinarySI``: ``12Mi``, ``123456``), their lists, and the group's
discovery entries (legacy and aggregated).
"""

from __future__ import annotations

from typing import Any, Final

from impl.kubelet.metrics_storage import Usage
from models.apiserver.clock import rfc3339
from models.quantity import Quantity, QuantityFormat

GROUP: Final = "metrics.k8s.io"
VERSION: Final = "v1beta1"
GROUP_VERSION: Final = f"{GROUP}/{VERSION}"
Json = dict[str, Any]


def go_duration(ns: int) -> str:
    """Go's ``time.Duration.String()``."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size or unit == "ns":
                whole, rest = divmod(ns, size)
                digits = len(str(size)) - 1
                fraction = f"{rest:0{digits}d}".rstrip("0") if digits else ""
                return f"{sign}{whole}{'.' + fraction if fraction else ''}{unit}"
    hours, rest = divmod(ns, 3600 * 1_000_000_000)
    minutes, rest = divmod(rest, 60 * 1_000_000_000)
    seconds, fraction_ns = divmod(rest, 1_000_000_000)
    fraction = f"{fraction_ns:09d}".rstrip("0")
    text = f"{seconds}{'.' + fraction if fraction else ''}s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    return f"{sign}{text}"


def cpu_quantity(nanocores: int) -> str:
    return Quantity(unscaled=nanocores, exponent=-9, format=QuantityFormat.DECIMAL_SI).canonical()


def memory_quantity(value: int) -> str:
    return Quantity.from_int(value, QuantityFormat.BINARY_SI).canonical()


def _usage(used: Usage) -> Json:
    return {"cpu": cpu_quantity(used.cpu_nanocores), "memory": memory_quantity(used.memory_bytes)}


def _metadata(source: Json, namespaced: bool) -> Json:
    """The object's name (namespace), labels and creationTimestamp, as metrics-server copies
    them from its informer's Node or Pod."""
    meta = source.get("metadata") or {}
    out: Json = {"name": meta.get("name", "")}
    if namespaced:
        out["namespace"] = meta.get("namespace", "")
    out["creationTimestamp"] = meta.get("creationTimestamp")
    if meta.get("labels"):
        out["labels"] = dict(meta["labels"])
    return out


def node_metrics(node: Json, used: Usage) -> Json:
    return {
        "kind": "NodeMetrics",
        "apiVersion": GROUP_VERSION,
        "metadata": _metadata(node, False),
        "timestamp": rfc3339(used.timestamp_ns // 1_000_000_000),
        "window": go_duration(used.window_ns),
        "usage": _usage(used),
    }


def pod_metrics(pod: Json, used: Usage, containers: tuple[tuple[str, Usage], ...]) -> Json:
    return {
        "kind": "PodMetrics",
        "apiVersion": GROUP_VERSION,
        "metadata": _metadata(pod, True),
        "timestamp": rfc3339(used.timestamp_ns // 1_000_000_000),
        "window": go_duration(used.window_ns),
        "containers": [{"name": name, "usage": _usage(u)} for name, u in containers],
    }


def metrics_list(kind: str, items: list[Json]) -> Json:
    return {"kind": kind, "apiVersion": GROUP_VERSION, "metadata": {}, "items": items}


RESOURCES: Final = (("nodes", "NodeMetrics", False), ("pods", "PodMetrics", True))


def resource_list() -> Json:
    """``GET /apis/metrics.k8s.io/v1beta1``."""
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": GROUP_VERSION,
        "resources": [
            {
                "name": name,
                "singularName": "",
                "namespaced": namespaced,
                "kind": kind,
                "verbs": ["get", "list"],
            }
            for name, kind, namespaced in RESOURCES
        ],
    }


def api_group() -> Json:
    """``GET /apis/metrics.k8s.io`` (and its entry in ``/apis``)."""
    version = {"groupVersion": GROUP_VERSION, "version": VERSION}
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": GROUP,
        "versions": [version],
        "preferredVersion": version,
    }


def aggregated_group() -> Json:
    """The group's item in the aggregated ``/apis`` (APIGroupDiscoveryList)."""
    return {
        "metadata": {"name": GROUP, "creationTimestamp": None},
        "versions": [
            {
                "version": VERSION,
                "resources": [
                    {
                        "resource": name,
                        "responseKind": {"group": GROUP, "version": VERSION, "kind": kind},
                        "scope": "Namespaced" if namespaced else "Cluster",
                        "singularResource": name[:-1],
                        "verbs": ["get", "list"],
                    }
                    for name, kind, namespaced in RESOURCES
                ],
                "freshness": "Current",
            }
        ],
    }


def with_group(discovery: Json) -> Json:
    """``/apis`` (legacy APIGroupList or aggregated APIGroupDiscoveryList) with this group."""
    items_key = "items" if discovery.get("kind") == "APIGroupDiscoveryList" else "groups"
    entries = list(discovery.get(items_key) or [])
    names = [
        (e.get("metadata") or {}).get("name") if items_key == "items" else e.get("name")
        for e in entries
    ]
    if GROUP not in names:
        group = aggregated_group() if items_key == "items" else api_group()
        if items_key == "groups":
            group = {k: v for k, v in group.items() if k not in ("kind", "apiVersion")}
        entries.append(group)
    return {**discovery, items_key: entries}
