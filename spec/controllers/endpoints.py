"""What the Endpoints and EndpointSlice controllers must make true, judged on stored objects
(decoded JSON), each with a ``sometimes`` companion showing the situation arises.

From the Kubernetes docs ("Service", "EndpointSlices", "Endpoints"):

- ``endpointslice.max_endpoints`` (safety, every state): a slice managed by
  ``endpointslice-controller.k8s.io`` holds at most ``--max-endpoints-per-slice`` (100)
  endpoints. Companion ``endpointslice.full``: some managed slice holds exactly that many.
- ``endpoints.ready_pods`` (once settled): for each Service with a selector (not
  ExternalName) whose ports all target a port number, the Endpoints object of the same name
  lists as ready addresses exactly the selected pods that have an IP, are Ready, are neither
  terminal nor being deleted, each with its IP; the selected pods with an IP that are not
  Ready are its not-ready addresses (unless ``publishNotReadyAddresses``, which lists them as
  ready). Companion ``endpoints.not_ready_listed``: a not-ready address was listed.
- ``endpointslice.ready_pods`` (once settled): the ready endpoints of the Service's managed
  slices are exactly the same pods (on a node that exists), each with its IP.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from spec.property import Violation

Obj = Mapping[str, Any]
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER = "endpointslice-controller.k8s.io"
SERVICE_NAME = "kubernetes.io/service-name"
SOMETIMES = ("endpointslice.full", "endpoints.not_ready_listed")


def _violation(name: str, reason: str) -> Violation:
    return Violation(property_name=name, nodes=(), reason=reason)


def _meta(obj: Obj) -> Mapping[str, Any]:
    found = obj.get("metadata")
    return found if isinstance(found, Mapping) else {}


def _of(objects: Iterable[Obj], kind: str) -> list[Obj]:
    return [obj for obj in objects if obj.get("kind") == kind]


def _managed_slices(objects: Iterable[Obj]) -> list[Obj]:
    return [
        s
        for s in _of(objects, "EndpointSlice")
        if (_meta(s).get("labels") or {}).get(MANAGED_BY) == CONTROLLER
    ]


def max_endpoints(objects: Iterable[Obj], limit: int = 100) -> list[Violation]:
    return [
        _violation(
            "endpointslice.max_endpoints",
            f"EndpointSlice {_meta(s).get('namespace')}/{_meta(s).get('name')} holds "
            f"{len(s.get('endpoints') or ())} endpoints (at most {limit})",
        )
        for s in _managed_slices(objects)
        if len(s.get("endpoints") or ()) > limit
    ]


def full(objects: Iterable[Obj], limit: int = 100) -> bool:
    return any(len(s.get("endpoints") or ()) == limit for s in _managed_slices(objects))


def _ready(pod: Obj) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _ip(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("podIP") or "")


def _selected(service: Obj, pods: list[Obj]) -> list[Obj]:
    selector = (service.get("spec") or {}).get("selector")
    namespace = _meta(service).get("namespace")
    return [
        pod
        for pod in pods
        if isinstance(selector, Mapping)
        and _meta(pod).get("namespace") == namespace
        and all((_meta(pod).get("labels") or {}).get(k) == v for k, v in selector.items())
    ]


def _judged(service: Obj) -> bool:
    spec = service.get("spec") or {}
    if spec.get("type") == "ExternalName" or not isinstance(spec.get("selector"), Mapping):
        return False
    ports = spec.get("ports") or ()
    return bool(ports) and all(isinstance(p.get("targetPort", p.get("port")), int) for p in ports)


def _listed(pods: list[Obj], publish: bool) -> tuple[dict[str, str], dict[str, str]]:
    """(ready, not ready) pod name -> IP, as the docs say they must be listed."""
    ready: dict[str, str] = {}
    not_ready: dict[str, str] = {}
    for pod in pods:
        phase = (pod.get("status") or {}).get("phase")
        if not _ip(pod) or phase in ("Succeeded", "Failed"):
            continue
        name = str(_meta(pod).get("name"))
        if _meta(pod).get("deletionTimestamp"):
            if publish:
                ready[name] = _ip(pod)
            continue
        (ready if publish or _ready(pod) else not_ready)[name] = _ip(pod)
    return ready, not_ready


def ready_pods(objects: Iterable[Obj]) -> list[Violation]:
    """``endpoints.ready_pods`` and ``endpointslice.ready_pods`` on a settled cluster."""
    listed = list(objects)
    pods = _of(listed, "Pod")
    nodes = {str(_meta(n).get("name")) for n in _of(listed, "Node")}
    found: list[Violation] = []
    for service in _of(listed, "Service"):
        if not _judged(service):
            continue
        namespace, name = _meta(service).get("namespace"), _meta(service).get("name")
        publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
        ready, not_ready = _listed(_selected(service, pods), publish)
        endpoints = [
            e
            for e in _of(listed, "Endpoints")
            if _meta(e).get("namespace") == namespace and _meta(e).get("name") == name
        ]
        subsets = [s for e in endpoints for s in e.get("subsets") or ()]
        got_ready = {
            a.get("targetRef", {}).get("name"): a.get("ip")
            for s in subsets
            for a in s.get("addresses") or ()
        }
        got_not_ready = {
            a.get("targetRef", {}).get("name"): a.get("ip")
            for s in subsets
            for a in s.get("notReadyAddresses") or ()
        }
        if (got_ready, got_not_ready) != (ready, not_ready):
            found.append(
                _violation(
                    "endpoints.ready_pods",
                    f"Endpoints {namespace}/{name}: ready {got_ready}, not ready "
                    f"{got_not_ready}; the pods say {ready}, {not_ready}",
                )
            )
        on_nodes = {
            pod_name: ip
            for pod_name, ip in ready.items()
            if any(
                str(_meta(p).get("name")) == pod_name
                and str((p.get("spec") or {}).get("nodeName")) in nodes
                for p in pods
            )
            or publish
        }
        slices = [
            s
            for s in _managed_slices(listed)
            if _meta(s).get("namespace") == namespace
            and (_meta(s).get("labels") or {}).get(SERVICE_NAME) == name
        ]
        got_slices = {
            e.get("targetRef", {}).get("name"): (e.get("addresses") or [""])[0]
            for s in slices
            for e in s.get("endpoints") or ()
            if (e.get("conditions") or {}).get("ready")
        }
        if got_slices != on_nodes:
            found.append(
                _violation(
                    "endpointslice.ready_pods",
                    f"EndpointSlices of {namespace}/{name} list ready {got_slices}; the pods "
                    f"say {on_nodes}",
                )
            )
    return found


def not_ready_listed(objects: Iterable[Obj]) -> bool:
    return any(
        s.get("notReadyAddresses")
        for e in _of(objects, "Endpoints")
        for s in e.get("subsets") or ()
    )
