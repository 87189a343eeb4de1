"""From a URL path and method to what is asked (kube's ``RequestInfo``).

Resource paths: ``/api/v1[/namespaces/NS]/RESOURCE[/NAME[/SUBRESOURCE]]`` and
``/apis/GROUP/VERSION[/namespaces/NS]/RESOURCE[/NAME[/SUBRESOURCE]]``. ``/api/v1/namespaces/NS``
itself names the namespace object. Everything else (discovery, OpenAPI, health) is a
non-resource path. The verb is kube's authorization verb: get, list, watch, create, update,
patch, delete, deletecollection.
"""

from __future__ import annotations

from typing import Final

import msgspec

from models.apiserver.messages import ApiRequest

_NAMESPACE_SUBRESOURCES = ("status", "finalize")
_METHOD_VERBS: Final = {"POST": "create", "PUT": "update", "PATCH": "patch"}


class RequestInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A resource request's coordinates; ``resource`` is empty for non-resource paths."""

    verb: str
    path: str
    group: str = ""
    version: str = ""
    namespace: str = ""
    resource: str = ""
    name: str = ""
    subresource: str = ""

    @property
    def is_resource(self) -> bool:
        return bool(self.resource)


def _verb(request: ApiRequest, has_name: bool) -> str:
    method = request.method.upper()
    if method in ("GET", "HEAD"):
        if has_name:
            return "get"
        watch = request.param("watch")
        return "watch" if watch in ("true", "1") else "list"
    if method == "DELETE":
        return "delete" if has_name else "deletecollection"
    return _METHOD_VERBS.get(method, method.lower())


def request_info(request: ApiRequest) -> RequestInfo:
    """Parse the path; a non-resource path gives ``resource == ""``."""
    parts = [part for part in request.path.strip("/").split("/") if part]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return RequestInfo(verb=request.method.lower(), path=request.path)
    if not rest:
        return RequestInfo(
            verb=request.method.lower(), path=request.path, group=group, version=version
        )
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 2:
        # As kube's RequestInfoFactory: /namespaces/NS[/status|/finalize] is the namespace
        # object itself; /namespaces/NS/RESOURCE... a namespaced collection.
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) >= 2 else ""
    subresource = "/".join(rest[2:])
    return RequestInfo(
        verb=_verb(request, bool(name)),
        path=request.path,
        group=group,
        version=version,
        namespace=namespace,
        resource=resource,
        name=name,
        subresource=subresource,
    )
