"""Non-resource paths: discovery (legacy and aggregated v2), OpenAPI v2 and v3, /version and
the health checks.

Aggregated discovery is answered when the Accept header asks for
``as=APIGroupDiscoveryList`` (kubectl v1.32 asks for it first), with that exact content type;
otherwise the legacy ``APIVersions``/``APIGroupList``/``APIResourceList``. OpenAPI v3 serves
one document per group-version whose PATCH operations declare ``fieldValidation`` (what kubectl
checks before sending ``fieldValidation=Strict``) and whose schemas carry
``x-kubernetes-group-version-kind`` (what ``kubectl explain`` looks up).
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

from impl.apiserver.cache import WatchCache
from impl.apiserver.catalog import Catalog, all_resources, custom_for
from impl.apiserver.context import Config, json_response, status_response
from impl.apiserver.objects import decode, encode
from impl.apiserver.routing import RequestInfo
from models.apiserver.messages import ApiRequest, ApiResponse
from models.apiserver.resources import Resource
from models.apiserver.status import failure
from models.k8s.base import thaw_json

Json = dict[str, Any]
AGGREGATED_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def _not_found() -> ApiResponse:
    return status_response(
        failure(404, "NotFound", "the server could not find the requested resource")
    )


def _text(code: int, text: str) -> ApiResponse:
    return ApiResponse(status=code, content_type="text/plain; charset=utf-8", body=text.encode())


def _groups(catalog: Catalog) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for resource in all_resources(catalog):
        versions = groups.setdefault(resource.group, [])
        if resource.version not in versions:
            versions.append(resource.version)
    return groups


def _aggregated_resource(resource: Resource) -> Json:
    entry: Json = {
        "resource": resource.resource,
        "responseKind": {
            "group": resource.group,
            "version": resource.version,
            "kind": resource.kind,
        },
        "scope": "Namespaced" if resource.namespaced else "Cluster",
        "singularResource": resource.singular,
        "verbs": sorted(resource.verbs),
    }
    if resource.short_names:
        entry["shortNames"] = list(resource.short_names)
    if resource.categories:
        entry["categories"] = list(resource.categories)
    if resource.subresources:
        entry["subresources"] = [
            {
                "subresource": sub.name,
                "responseKind": {"group": sub.group, "version": sub.version, "kind": sub.kind},
                "verbs": sorted(sub.verbs),
            }
            for sub in resource.subresources
        ]
    return entry


def _aggregated(catalog: Catalog, core: bool) -> Json:
    items = []
    for group, versions in _groups(catalog).items():
        if (group == "") != core:
            continue
        version_entries = []
        for version in versions:
            resources = [
                _aggregated_resource(r)
                for r in all_resources(catalog)
                if r.group == group and r.version == version
            ]
            version_entries.append(
                {"version": version, "resources": resources, "freshness": "Current"}
            )
        items.append(
            {"metadata": {"name": group, "creationTimestamp": None}, "versions": version_entries}
        )
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }


def _resource_list(catalog: Catalog, group: str, version: str) -> Json | None:
    resources = [r for r in all_resources(catalog) if r.group == group and r.version == version]
    if not resources:
        return None
    entries: list[Json] = []
    for r in resources:
        entry: Json = {
            "name": r.resource,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": sorted(r.verbs),
        }
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        entries.append(entry)
        for sub in r.subresources:
            sub_entry: Json = {
                "name": f"{r.resource}/{sub.name}",
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": sub.kind,
                "verbs": sorted(sub.verbs),
            }
            if sub.group != r.group or sub.version != r.version:
                sub_entry["group"], sub_entry["version"] = sub.group, sub.version
            entries.append(sub_entry)
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": entries}


def _version(config: Config) -> Json:
    major, minor = config.git_version.lstrip("v").split(".")[:2]
    return {
        "major": major,
        "minor": minor,
        "gitVersion": config.git_version,
        "gitCommit": "kubeoracle",
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "python",
        "compiler": "kubeoracle",
        "platform": "linux/amd64",
    }


def _gv_path(resource: Resource) -> str:
    return (
        f"api/{resource.version}"
        if not resource.group
        else f"apis/{resource.group}/{resource.version}"
    )


def _openapi_v3_index(catalog: Catalog, config: Config) -> Json:
    paths: Json = {}
    for resource in all_resources(catalog):
        path = _gv_path(resource)
        if path not in paths:
            document = encode(_openapi_v3_document(catalog, config, path))
            digest = hashlib.sha256(document).hexdigest()[:32].upper()
            paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": paths}


_PATCH_PARAMETERS: Final = [
    {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
    {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
    {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
    {"name": "force", "in": "query", "schema": {"type": "boolean", "uniqueItems": True}},
]


def _item_path(resource: Resource) -> str:
    base = (
        f"/api/{resource.version}"
        if not resource.group
        else f"/apis/{resource.group}/{resource.version}"
    )
    if resource.namespaced:
        return f"{base}/namespaces/{{namespace}}/{resource.resource}/{{name}}"
    return f"{base}/{resource.resource}/{{name}}"


def _openapi_v3_document(catalog: Catalog, config: Config, gv_path: str) -> Json:
    resources = [r for r in all_resources(catalog) if _gv_path(r) == gv_path]
    paths: Json = {}
    schemas: Json = {}
    for resource in resources:
        custom = custom_for(catalog, resource) if resource.custom else None
        schema_set = custom.schemas if custom is not None else config.schemas
        root = schema_set.roots.get(resource.kind)
        if root is None:
            continue
        gvk = {"group": resource.group, "version": resource.version, "kind": resource.kind}
        ref = {"$ref": f"#/components/schemas/{root}"}
        operation = {
            "x-kubernetes-group-version-kind": gvk,
            "x-kubernetes-action": "patch",
            "parameters": _PATCH_PARAMETERS,
            "responses": {"200": {"content": {"application/json": {"schema": ref}}}},
        }
        get = {
            "x-kubernetes-group-version-kind": gvk,
            "x-kubernetes-action": "get",
            "responses": {"200": {"content": {"application/json": {"schema": ref}}}},
        }
        paths[_item_path(resource)] = {"get": get, "patch": operation}
        for name in schema_set.components:
            schemas[name] = _described_refs(thaw_json(schema_set.components[name]))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": config.git_version},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _described_refs(schema: object) -> object:
    """OpenAPI 3.0 ignores the siblings of a ``$ref``: a property that refers to another
    schema and has its own description is published as ``allOf: [{$ref}]`` beside it, as
    kube-apiserver does, so that ``kubectl explain`` shows the field's description."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if isinstance(properties, dict):
        for field, value in properties.items():
            if isinstance(value, dict) and "$ref" in value and "description" in value:
                rest = {k: v for k, v in value.items() if k != "$ref"}
                properties[field] = {"allOf": [{"$ref": value["$ref"]}], **rest}
    return schema


def _openapi_v2(config: Config) -> Json:
    definitions: Json = {}
    for name in config.schemas.components:
        text = encode(thaw_json(config.schemas.components[name])).replace(
            b"#/components/schemas/", b"#/definitions/"
        )
        definitions[name] = decode(text)
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": config.git_version},
        "paths": {},
        "definitions": definitions,
    }


def non_resource_response(
    config: Config, cache: WatchCache, catalog: Catalog, request: ApiRequest, info: RequestInfo
) -> ApiResponse:
    path = "/" + request.path.strip("/")
    if request.method.upper() not in ("GET", "HEAD"):
        return status_response(
            failure(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            )
        )
    aggregated = "as=APIGroupDiscoveryList" in request.accept and "v=v2" in request.accept
    if path in ("/healthz", "/livez"):
        return _text(200, "ok")
    if path == "/readyz":
        return (
            _text(200, "ok")
            if cache.loaded
            else _text(500, "[-]informer-sync failed: reason withheld\nreadyz check failed")
        )
    if path == "/version":
        return json_response(200, encode(_version(config)))
    if path == "/api":
        if aggregated:
            return ApiResponse(
                status=200,
                content_type=AGGREGATED_TYPE,
                body=encode(_aggregated(catalog, core=True)),
            )
        return json_response(
            200,
            encode(
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": ""}
                    ],
                }
            ),
        )
    if path == "/apis":
        if aggregated:
            return ApiResponse(
                status=200,
                content_type=AGGREGATED_TYPE,
                body=encode(_aggregated(catalog, core=False)),
            )
        groups = []
        for group, versions in _groups(catalog).items():
            if not group:
                continue
            entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
            groups.append({"name": group, "versions": entries, "preferredVersion": entries[0]})
        return json_response(
            200, encode({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        )
    if path == "/openapi/v3":
        return json_response(200, encode(_openapi_v3_index(catalog, config)))
    if path.startswith("/openapi/v3/"):
        gv_path = path[len("/openapi/v3/") :]
        if not any(_gv_path(r) == gv_path for r in all_resources(catalog)):
            return _not_found()
        return json_response(200, encode(_openapi_v3_document(catalog, config, gv_path)))
    if path == "/openapi/v2":
        if "json" not in request.accept and request.accept not in ("", "*/*"):
            return _not_found()
        return json_response(200, encode(_openapi_v2(config)))
    if info.version and not info.resource:
        resource_list = _resource_list(catalog, info.group, info.version)
        if resource_list is not None:
            return json_response(200, encode(resource_list))
    if path.startswith("/apis/") and path.count("/") == 2:
        group = path.split("/")[2]
        versions = _groups(catalog).get(group) or []
        if versions:
            entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
            return json_response(
                200,
                encode(
                    {
                        "kind": "APIGroup",
                        "apiVersion": "v1",
                        "name": group,
                        "versions": entries,
                        "preferredVersion": entries[0],
                    }
                ),
            )
    return _not_found()
