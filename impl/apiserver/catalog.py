"""Which resources are served: the built-in ones and those CRDs define.

A CRD in the cache serves each of its ``served`` versions at ``/apis/<group>/<version>/<plural>``
with its ``openAPIV3Schema`` as the structural schema. Objects of every served version are
stored under ``/registry/<group>/<plural>/`` (one storage version: no conversion is done, so
versions must share a schema, as with ``conversion: None``).
"""

from __future__ import annotations

from typing import Any, Final

import immutables
import msgspec

from impl.apiserver.objects import decode
from models.apiserver.resources import (
    BUILTIN_RESOURCES,
    Resource,
    Subresource,
    custom_resource_prefix,
)
from models.apiserver.schemas import SchemaSet
from models.k8s.base import freeze_json

CRD_PREFIX = "/registry/apiextensions.k8s.io/customresourcedefinitions/"


class PrinterColumn(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    type: str
    json_path: str
    format: str = ""
    description: str = ""
    priority: int = 0


class CustomResource(msgspec.Struct, frozen=True, kw_only=True):
    resource: Resource
    schemas: SchemaSet
    columns: tuple[PrinterColumn, ...] = ()
    scale_spec_path: str = ""
    scale_status_path: str = ""
    scale_selector_path: str = ""


class Catalog(msgspec.Struct, frozen=True, kw_only=True):
    """Custom resources by ``group/version/plural``."""

    custom: immutables.Map[str, CustomResource] = msgspec.field(default_factory=immutables.Map)


_BUILTIN_INDEX: Final = {(r.group, r.version, r.resource): r for r in BUILTIN_RESOURCES}


def find(catalog: Catalog, group: str, version: str, resource: str) -> Resource | None:
    builtin = _BUILTIN_INDEX.get((group, version, resource))
    if builtin is not None:
        return builtin
    custom = catalog.custom.get(f"{group}/{version}/{resource}")
    return custom.resource if custom is not None else None


def custom_for(catalog: Catalog, resource: Resource) -> CustomResource | None:
    return catalog.custom.get(f"{resource.group}/{resource.version}/{resource.resource}")


def all_resources(catalog: Catalog) -> list[Resource]:
    custom = [catalog.custom[key].resource for key in sorted(catalog.custom.keys())]
    return [*BUILTIN_RESOURCES, *custom]


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _established(crd: dict[str, Any]) -> bool:
    return not _dict(crd.get("metadata")).get("deletionTimestamp")


def custom_resources_of(crd: dict[str, Any]) -> list[tuple[str, CustomResource]]:
    """The resources one CRD serves."""
    spec = _dict(crd.get("spec"))
    names = _dict(spec.get("names"))
    group, plural, kind = (
        str(spec.get("group", "")),
        str(names.get("plural", "")),
        str(names.get("kind", "")),
    )
    if not (group and plural and kind) or not _established(crd):
        return []
    found: list[tuple[str, CustomResource]] = []
    for raw in spec.get("versions") or []:
        version = _dict(raw)
        if not version.get("served") or not version.get("name"):
            continue
        subresources = _dict(version.get("subresources"))
        subs: list[Subresource] = []
        if "status" in subresources:
            subs.append(
                Subresource(
                    name="status",
                    group=group,
                    version=str(version["name"]),
                    kind=kind,
                    verbs=("get", "patch", "update"),
                )
            )
        scale = _dict(subresources.get("scale"))
        if subresources.get("scale") is not None:
            subs.append(
                Subresource(
                    name="scale",
                    group="autoscaling",
                    version="v1",
                    kind="Scale",
                    verbs=("get", "patch", "update"),
                )
            )
        resource = Resource(
            group=group,
            version=str(version["name"]),
            resource=plural,
            kind=kind,
            singular=str(names.get("singular") or kind.lower()),
            namespaced=spec.get("scope") == "Namespaced",
            key_prefix=custom_resource_prefix(group, plural),
            list_kind=str(names.get("listKind") or f"{kind}List"),
            short_names=tuple(str(n) for n in names.get("shortNames") or ()),
            categories=tuple(str(c) for c in names.get("categories") or ()),
            subresources=tuple(subs),
            custom=True,
            unconditional_update=False,
            return_deleted=True,
        )
        schema = _dict(_dict(version.get("schema")).get("openAPIV3Schema"))
        if not schema:
            schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        root = _root_schema(schema, group, str(version["name"]), kind)
        schemas = SchemaSet(
            components=immutables.Map({kind: freeze_json(root)}),
            roots=immutables.Map({kind: kind}),
        )
        columns = tuple(
            PrinterColumn(
                name=str(c.get("name", "")),
                type=str(c.get("type", "string")),
                json_path=str(c.get("jsonPath", "")),
                format=str(c.get("format", "")),
                description=str(c.get("description", "")),
                priority=int(c.get("priority", 0) or 0),
            )
            for c in (_dict(item) for item in version.get("additionalPrinterColumns") or [])
        )
        custom = CustomResource(
            resource=resource,
            schemas=schemas,
            columns=columns,
            scale_spec_path=str(scale.get("specReplicasPath", "")),
            scale_status_path=str(scale.get("statusReplicasPath", "")),
            scale_selector_path=str(scale.get("labelSelectorPath", "")),
        )
        found.append((f"{group}/{resource.version}/{plural}", custom))
    return found


_OBJECT_META: Final = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    },
}


def _root_schema(schema: dict[str, Any], group: str, version: str, kind: str) -> dict[str, Any]:
    """The CRD's schema with apiVersion, kind and metadata added, as kube adds them."""
    properties = {**_OBJECT_META["properties"], **_dict(schema.get("properties"))}  # type: ignore[dict-item]
    properties["metadata"] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    root = {**schema, "properties": properties}
    root["x-kubernetes-group-version-kind"] = [{"group": group, "version": version, "kind": kind}]
    return root


def rebuild(objects: list[tuple[str, bytes]]) -> Catalog:
    """The catalog from every CRD object in the cache."""
    custom: dict[str, CustomResource] = {}
    for _, value in objects:
        crd = decode(value)
        if isinstance(crd, dict):
            for key, entry in custom_resources_of(crd):
                custom[key] = entry
    return Catalog(custom=immutables.Map(custom))
