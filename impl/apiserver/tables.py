"""Server-side printing: the ``meta.k8s.io/v1 Table`` kubectl asks for, with the columns kube's
printers (``pkg/printers/internalversion/printers.go``) give each kind. Columns of priority 1
show only with ``-o wide``. Ages are ``duration.HumanDuration`` of now minus the creation
time; custom resources get their CRD's ``additionalPrinterColumns`` (or Name and Age).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from impl.apiserver.catalog import CustomResource
from impl.apiserver.context import Context
from models.apiserver.clock import parse_rfc3339
from models.apiserver.resources import Resource

Json = dict[str, Any]
Column = tuple[str, str, int]  # name, type, priority


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def human_duration(seconds: int) -> str:
    """``duration.HumanDuration``."""
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = seconds // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def _age(obj: Json, now: int) -> str:
    created = parse_rfc3339((obj.get("metadata") or {}).get("creationTimestamp"))
    return "<unknown>" if created is None else human_duration(now - created)


def _d(obj: Json, *path: str) -> Any:
    node: Any = obj
    for step in path:
        node = node.get(step) if isinstance(node, dict) else None
    return node


def _na(value: object) -> str:
    return "N/A" if value is None else str(value)


def _none(value: object) -> str:
    return "<none>" if value in (None, "", []) else str(value)


def _selector_text(selector: object) -> str:
    if not isinstance(selector, dict):
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        parts.append(
            f"{expression.get('key')} {str(expression.get('operator', '')).lower()} "
            f"({','.join(expression.get('values') or [])})"
        )
    return ",".join(parts) or "<none>"


def _containers(obj: Json) -> tuple[str, str]:
    containers = _d(obj, "spec", "template", "spec", "containers") or []
    return ",".join(str(c.get("name")) for c in containers), ",".join(
        str(c.get("image")) for c in containers
    )


def _pod(obj: Json, now: int) -> list[object]:
    containers = _d(obj, "spec", "containers") or []
    statuses = _d(obj, "status", "containerStatuses") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    restarts = sum(int(s.get("restartCount") or 0) for s in statuses)
    reason = _d(obj, "status", "reason") or _d(obj, "status", "phase") or "Unknown"
    for status in statuses:
        waiting = _d(status, "state", "waiting", "reason")
        if waiting:
            reason = waiting
    if _d(obj, "metadata", "deletionTimestamp"):
        reason = "Terminating"
    gates = _d(obj, "spec", "readinessGates") or []
    return [
        f"{ready}/{len(containers)}",
        reason,
        str(restarts),
        _age(obj, now),
        _none(_d(obj, "status", "podIP")),
        _none(_d(obj, "spec", "nodeName")),
        _none(_d(obj, "status", "nominatedNodeName")),
        "<none>" if not gates else f"0/{len(gates)}",
    ]


_POD: Final[list[Column]] = [
    ("Ready", "string", 0),
    ("Status", "string", 0),
    ("Restarts", "string", 0),
    ("Age", "string", 0),
    ("IP", "string", 1),
    ("Node", "string", 1),
    ("Nominated Node", "string", 1),
    ("Readiness Gates", "string", 1),
]


def _deployment(obj: Json, now: int) -> list[object]:
    names, images = _containers(obj)
    return [
        f"{_d(obj, 'status', 'readyReplicas') or 0}/{_d(obj, 'spec', 'replicas') or 0}",
        _d(obj, "status", "updatedReplicas") or 0,
        _d(obj, "status", "availableReplicas") or 0,
        _age(obj, now),
        names,
        images,
        _selector_text(_d(obj, "spec", "selector")),
    ]


_DEPLOYMENT: Final[list[Column]] = [
    ("Ready", "string", 0),
    ("Up-to-date", "integer", 0),
    ("Available", "integer", 0),
    ("Age", "string", 0),
    ("Containers", "string", 1),
    ("Images", "string", 1),
    ("Selector", "string", 1),
]


def _replica_set(obj: Json, now: int) -> list[object]:
    names, images = _containers(obj)
    return [
        _d(obj, "spec", "replicas") or 0,
        _d(obj, "status", "replicas") or 0,
        _d(obj, "status", "readyReplicas") or 0,
        _age(obj, now),
        names,
        images,
        _selector_text(_d(obj, "spec", "selector")),
    ]


_REPLICA_SET: Final[list[Column]] = [
    ("Desired", "integer", 0),
    ("Current", "integer", 0),
    ("Ready", "integer", 0),
    ("Age", "string", 0),
    ("Containers", "string", 1),
    ("Images", "string", 1),
    ("Selector", "string", 1),
]


def _service_ports(obj: Json) -> str:
    ports = []
    for port in _d(obj, "spec", "ports") or []:
        text = f"{port.get('port')}"
        if port.get("nodePort"):
            text += f":{port['nodePort']}"
        ports.append(f"{text}/{port.get('protocol', 'TCP')}")
    return ",".join(ports) or "<none>"


def _service(obj: Json, now: int) -> list[object]:
    kind = _d(obj, "spec", "type") or "ClusterIP"
    external = (
        _d(obj, "spec", "externalName")
        if kind == "ExternalName"
        else ",".join(_d(obj, "spec", "externalIPs") or [])
        or ("<pending>" if kind == "LoadBalancer" else "<none>")
    )
    selector = _d(obj, "spec", "selector") or {}
    return [
        kind,
        _none(_d(obj, "spec", "clusterIP")),
        external,
        _service_ports(obj),
        _age(obj, now),
        ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or "<none>",
    ]


_SERVICE: Final[list[Column]] = [
    ("Type", "string", 0),
    ("Cluster-IP", "string", 0),
    ("External-IP", "string", 0),
    ("Port(s)", "string", 0),
    ("Age", "string", 0),
    ("Selector", "string", 1),
]


def _simple(*cells: Callable[[Json], object]) -> Callable[[Json, int], list[object]]:
    def row(obj: Json, now: int) -> list[object]:
        values = [cell(obj) for cell in cells]
        return [*values, _age(obj, now)]

    return row


PRINTERS: Final[dict[str, tuple[list[Column], Callable[[Json, int], list[object]]]]] = {
    "Pod": (_POD, _pod),
    "Deployment": (_DEPLOYMENT, _deployment),
    "ReplicaSet": (_REPLICA_SET, _replica_set),
    "Service": (_SERVICE, _service),
    "Namespace": (
        [("Status", "string", 0), ("Age", "string", 0)],
        _simple(lambda o: _d(o, "status", "phase") or ""),
    ),
    "ConfigMap": (
        [("Data", "integer", 0), ("Age", "string", 0)],
        _simple(lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {})),
    ),
    "Secret": (
        [("Type", "string", 0), ("Data", "integer", 0), ("Age", "string", 0)],
        _simple(lambda o: o.get("type", ""), lambda o: len(o.get("data") or {})),
    ),
    "ServiceAccount": (
        [("Secrets", "string", 0), ("Age", "string", 0)],
        _simple(lambda o: str(len(o.get("secrets") or []))),
    ),
    "Node": (
        [
            ("Status", "string", 0),
            ("Roles", "string", 0),
            ("Age", "string", 0),
            ("Version", "string", 0),
            ("Internal-IP", "string", 1),
            ("External-IP", "string", 1),
            ("OS-Image", "string", 1),
            ("Kernel-Version", "string", 1),
            ("Container-Runtime", "string", 1),
        ],
        lambda o, now: [
            _node_status(o),
            _node_roles(o),
            _age(o, now),
            _d(o, "status", "nodeInfo", "kubeletVersion") or "",
            _node_address(o, "InternalIP"),
            _node_address(o, "ExternalIP"),
            _d(o, "status", "nodeInfo", "osImage") or "<unknown>",
            _d(o, "status", "nodeInfo", "kernelVersion") or "<unknown>",
            _d(o, "status", "nodeInfo", "containerRuntimeVersion") or "<unknown>",
        ],
    ),
    "Job": (
        [
            ("Status", "string", 0),
            ("Completions", "string", 0),
            ("Duration", "string", 0),
            ("Age", "string", 0),
        ],
        lambda o, now: [
            "Running"
            if not _d(o, "status", "conditions")
            else str(_d(o, "status", "conditions")[-1].get("type")),
            f"{_d(o, 'status', 'succeeded') or 0}/{_d(o, 'spec', 'completions') or 1}",
            "",
            _age(o, now),
        ],
    ),
    "Lease": (
        [("Holder", "string", 0), ("Age", "string", 0)],
        _simple(lambda o: _d(o, "spec", "holderIdentity") or ""),
    ),
    "Endpoints": (
        [("Endpoints", "string", 0), ("Age", "string", 0)],
        _simple(lambda o: _endpoints(o)),
    ),
    "EndpointSlice": (
        [
            ("AddressType", "string", 0),
            ("Ports", "string", 0),
            ("Endpoints", "string", 0),
            ("Age", "string", 0),
        ],
        _simple(
            lambda o: o.get("addressType") or "",
            lambda o: _slice_ports(o),
            lambda o: _at_most_three(
                [str(a) for e in o.get("endpoints") or [] for a in e.get("addresses") or []]
            ),
        ),
    ),
    "StatefulSet": (
        [
            ("Ready", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
        ],
        lambda o, now: [
            f"{_d(o, 'status', 'readyReplicas') or 0}/{_d(o, 'spec', 'replicas') or 0}",
            _age(o, now),
            *_containers(o),
        ],
    ),
    "PodDisruptionBudget": (
        [
            ("Min Available", "string", 0),
            ("Max Unavailable", "string", 0),
            ("Allowed Disruptions", "integer", 0),
            ("Age", "string", 0),
        ],
        lambda o, now: [
            _na(_d(o, "spec", "minAvailable")),
            _na(_d(o, "spec", "maxUnavailable")),
            _d(o, "status", "disruptionsAllowed") or 0,
            _age(o, now),
        ],
    ),
    "DaemonSet": (
        [
            ("Desired", "integer", 0),
            ("Current", "integer", 0),
            ("Ready", "integer", 0),
            ("Up-to-date", "integer", 0),
            ("Available", "integer", 0),
            ("Node Selector", "string", 0),
            ("Age", "string", 0),
        ],
        lambda o, now: (
            [
                _d(o, "status", k) or 0
                for k in (
                    "desiredNumberScheduled",
                    "currentNumberScheduled",
                    "numberReady",
                    "updatedNumberScheduled",
                    "numberAvailable",
                )
            ]
            + [
                ",".join(
                    f"{k}={v}"
                    for k, v in sorted(
                        (_d(o, "spec", "template", "spec", "nodeSelector") or {}).items()
                    )
                )
                or "<none>",
                _age(o, now),
            ]
        ),
    ),
    "HorizontalPodAutoscaler": (
        [
            ("Reference", "string", 0),
            ("Targets", "string", 0),
            ("MinPods", "string", 0),
            ("MaxPods", "integer", 0),
            ("Replicas", "integer", 0),
            ("Age", "string", 0),
        ],
        lambda o, now: [
            f"{_d(o, 'spec', 'scaleTargetRef', 'kind')}/{_d(o, 'spec', 'scaleTargetRef', 'name')}",
            "<unknown>",
            str(_d(o, "spec", "minReplicas") or 1),
            _d(o, "spec", "maxReplicas") or 0,
            _d(o, "status", "currentReplicas") or 0,
            _age(o, now),
        ],
    ),
    "ResourceQuota": (
        [("Age", "string", 0), ("Request", "string", 0), ("Limit", "string", 0)],
        lambda o, now: [_age(o, now), *_quota_columns(o)],
    ),
    "PriorityClass": (
        [
            ("Value", "integer", 0),
            ("Global-Default", "boolean", 0),
            ("Age", "string", 0),
            ("PreemptionPolicy", "string", 0),
        ],
        lambda o, now: [
            o.get("value", 0),
            o.get("globalDefault") is True,
            _age(o, now),
            o.get("preemptionPolicy") or "",
        ],
    ),
    "RoleBinding": (
        [("Role", "string", 0), ("Age", "string", 0)],
        _simple(lambda o: f"{_d(o, 'roleRef', 'kind')}/{_d(o, 'roleRef', 'name')}"),
    ),
    "ClusterRoleBinding": (
        [("Role", "string", 0), ("Age", "string", 0)],
        _simple(lambda o: f"{_d(o, 'roleRef', 'kind')}/{_d(o, 'roleRef', 'name')}"),
    ),
}


_EVENT: Final[list[tuple[str, str, int, str]]] = [
    ("Last Seen", "string", 0, ""),
    ("Type", "string", 0, ""),
    ("Reason", "string", 0, ""),
    ("Object", "string", 0, ""),
    ("Subobject", "string", 1, ""),
    ("Source", "string", 1, ""),
    ("Message", "string", 0, ""),
    ("First Seen", "string", 1, ""),
    ("Count", "string", 1, ""),
    ("Name", "string", 1, "name"),
]
"""kube's event columns: no leading Name (it comes last, with ``-o wide``)."""


def _quota_columns(quota: Json) -> tuple[str, str]:
    """kube's ResourceQuota Request and Limit cells: ``name: used/hard`` per ``status.hard``
    name, sorted, ``limits.*`` in Limit."""
    hard = _d(quota, "status", "hard") or {}
    used = _d(quota, "status", "used") or {}
    request: list[str] = []
    limit: list[str] = []
    for name in sorted(hard):
        cell = f"{name}: {used.get(name, '0')}/{hard[name]}"
        (limit if name.split(".")[0] == "limits" and "." in name else request).append(cell)
    return ", ".join(request), ", ".join(limit)


def _since(text: object, now: int) -> str:
    """``translateTimestampSince``: ``<unknown>`` for a zero time."""
    when = parse_rfc3339(text)
    return "<unknown>" if when is None else human_duration(now - when)


def _event(obj: Json, now: int) -> list[object]:
    """``printEvent`` (wide: the server prints every column) of a core/v1 Event, or of an
    events.k8s.io/v1 one by its field names (``regarding``, ``note``, ``deprecated*``)."""
    first_time = obj.get("firstTimestamp") or obj.get("deprecatedFirstTimestamp")
    first = _since(first_time or obj.get("eventTime"), now)
    last_time = obj.get("lastTimestamp") or obj.get("deprecatedLastTimestamp")
    last = _since(last_time, now) if last_time else first
    count = obj.get("count") or obj.get("deprecatedCount") or 0
    series = obj.get("series")
    if isinstance(series, dict):
        last, count = _since(series.get("lastObservedTime"), now), series.get("count") or 0
    elif not count:
        count = 1  # a singleton event of the new API has no count
    regarding = obj.get("involvedObject") or obj.get("regarding") or {}
    kind = str(regarding.get("kind") or "").lower()
    target = f"{kind}/{regarding['name']}" if regarding.get("name") else kind
    source = obj.get("source") or obj.get("deprecatedSource") or {}
    component = source.get("component") or obj.get("reportingComponent") or ""
    component = component or obj.get("reportingController") or ""
    instance = source.get("host") or obj.get("reportingInstance") or ""
    message = str(obj.get("message") or obj.get("note") or "").strip()
    return [
        last,
        obj.get("type") or "",
        obj.get("reason") or "",
        target,
        regarding.get("fieldPath") or "",
        f"{component}, {instance}" if instance else component,
        message,
        first,
        int(count),
        _d(obj, "metadata", "name"),
    ]


def _node_status(obj: Json) -> str:
    for condition in _d(obj, "status", "conditions") or []:
        if condition.get("type") == "Ready":
            status = "Ready" if condition.get("status") == "True" else "NotReady"
            break
    else:
        status = "Unknown"
    if _d(obj, "spec", "unschedulable"):
        status += ",SchedulingDisabled"
    return status


def _at_most_three(items: list[str], empty: str = "<unset>") -> str:
    """``listWithMoreString``: the first three, then ``+ N more...``."""
    if len(items) > 3:
        return f"{','.join(items[:3])} + {len(items) - 3} more..."
    return ",".join(items) or empty


def _endpoints(obj: Json) -> str:
    """``formatEndpoints``: ``<none>`` without subsets; ``IP:PORT`` of the ready addresses
    for each port (bare IPs for a subset without ports), at most three shown."""
    subsets = obj.get("subsets") or []
    if not subsets:
        return "<none>"
    items: list[str] = []
    for subset in subsets:
        addresses = [str(a.get("ip")) for a in subset.get("addresses") or []]
        ports = subset.get("ports") or []
        if not ports:
            items.extend(addresses)
        for port in ports:
            items.extend(_host_port(ip, port.get("port")) for ip in addresses)
    return _at_most_three(items, "")


def _host_port(ip: str, port: object) -> str:
    """``net.JoinHostPort``: an IPv6 address in brackets."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _slice_ports(obj: Json) -> str:
    """``formatDiscoveryPorts``: each port's number, else its name, else ``*``."""
    names = []
    for port in obj.get("ports") or []:
        number, name = port.get("port"), port.get("name")
        names.append(str(number) if number is not None else (name if name is not None else "*"))
    return _at_most_three(names)


def _node_address(obj: Json, kind: str) -> str:
    """The node's first address of ``kind``, or ``<none>``."""
    for address in _d(obj, "status", "addresses") or []:
        if isinstance(address, dict) and address.get("type") == kind:
            return str(address.get("address") or "<none>")
    return "<none>"


def _node_roles(obj: Json) -> str:
    roles = sorted(
        key.split("/", 1)[1]
        for key in (_d(obj, "metadata", "labels") or {})
        if key.startswith("node-role.kubernetes.io/")
    )
    return ",".join(roles) or "<none>"


def _partial(obj: Json) -> Json:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata") or {},
    }


def _jsonpath(obj: Json, path: str) -> object:
    node: Any = obj
    for step in [s for s in path.strip(".").split(".") if s]:
        node = node.get(step) if isinstance(node, dict) else None
    return node


def table_for(
    ctx: Context, objects: list[Json], resource_version: str, continue_token: str
) -> Json:
    """The Table of ``objects`` for a request, its rows carrying what ``includeObject`` asks:
    ``Metadata`` (the default: PartialObjectMetadata), ``Object`` (the whole object, which
    ``kubectl get --sort-by`` sorts on) or ``None``."""
    table = build_table(
        ctx.resource, ctx.custom, ctx.entropy.now_seconds, objects, resource_version, continue_token
    )
    include = ctx.request.param("includeObject")
    if include in ("Object", "None"):
        for row, obj in zip(table["rows"], objects, strict=True):
            if include == "Object":
                row["object"] = obj
            else:
                del row["object"]
    return table


def build_table(
    resource: Resource,
    custom: CustomResource | None,
    now: int,
    objects: list[Json],
    resource_version: str,
    continue_token: str = "",
) -> Json:
    """The Table of ``objects`` with the kind's columns (a custom resource's printer columns)."""
    name_column = {
        "name": "Name",
        "type": "string",
        "format": "name",
        "description": "Name must be unique within a namespace.",
        "priority": 0,
    }
    if custom is not None:
        columns_spec = custom.columns or ()
        definitions = [name_column] + [
            {
                "name": c.name,
                "type": c.type,
                "format": c.format,
                "description": c.description,
                "priority": c.priority,
            }
            for c in columns_spec
        ]
        if not columns_spec:
            definitions.append(
                {"name": "Age", "type": "date", "format": "", "description": "", "priority": 0}
            )
        rows = []
        for obj in objects:
            cells: list[object] = [_d(obj, "metadata", "name")]
            if columns_spec:
                cells += [_jsonpath(obj, c.json_path) for c in columns_spec]
            else:
                cells.append(_d(obj, "metadata", "creationTimestamp"))
            rows.append({"cells": cells, "object": _partial(obj)})
    elif resource.kind == "Event":
        definitions = [
            {"name": n, "type": t, "format": f, "description": "", "priority": p}
            for n, t, p, f in _EVENT
        ]
        rows = [{"cells": _event(o, now), "object": _partial(o)} for o in objects]
    else:
        printer = PRINTERS.get(resource.kind)
        if printer is None:
            definitions = [
                name_column,
                {
                    "name": "Created At",
                    "type": "date",
                    "format": "",
                    "description": "",
                    "priority": 0,
                },
            ]
            rows = [
                {
                    "cells": [_d(o, "metadata", "name"), _d(o, "metadata", "creationTimestamp")],
                    "object": _partial(o),
                }
                for o in objects
            ]
        else:
            columns, render = printer
            definitions = [name_column] + [
                {"name": n, "type": t, "format": "", "description": "", "priority": p}
                for n, t, p in columns
            ]
            rows = [
                {"cells": [_d(o, "metadata", "name"), *render(o, now)], "object": _partial(o)}
                for o in objects
            ]
    metadata: Json = {"resourceVersion": resource_version}
    if continue_token:
        metadata["continue"] = continue_token
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": definitions,
        "rows": rows,
    }
