"""Structural schemas (the OpenAPI v3 subset CRDs use) for every built-in kind.

They are generated from the typed models (``msgspec.json.schema_components``) and normalised:
an optional field's ``anyOf [X, null]`` becomes X, ``IntOrString`` and ``Quantity`` become
``x-kubernetes-int-or-string``, opaque subtrees ``x-kubernetes-preserve-unknown-fields``. The
patch strategies of kube's Go struct tags (``patchStrategy``/``patchMergeKey``,
``listType``/``listMapKeys``) are added from ``PATCH_STRATEGIES``; the opaque lists that have a
merge key get a small item schema from ``OPAQUE_FIELDS``. One ``SchemaSet`` serves pruning,
strict field validation, strategic merge patch, server-side apply, OpenAPI and
``kubectl explain``.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any, Final

import immutables
import msgspec

from models.apiserver.field_docs import describe
from models.k8s.base import FrozenMap, JsonFrozen, Opaque, freeze_json
from models.quantity import Quantity

Schema = Mapping[str, Any]

REF_PREFIX: Final = "#/components/schemas/"

_MERGE_BY_NAME: Final = {
    "x-kubernetes-patch-merge-key": "name",
    "x-kubernetes-patch-strategy": "merge",
}


def _map_list(*keys: str, strategy: str = "merge") -> dict[str, Any]:
    return {
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": list(keys),
        "x-kubernetes-patch-merge-key": keys[0],
        "x-kubernetes-patch-strategy": strategy,
    }


_CONDITIONS: Final = _map_list("type")

PATCH_STRATEGIES: Final[Mapping[tuple[str, str], Mapping[str, Any]]] = immutables.Map(
    {
        ("ObjectMeta", "ownerReferences"): _map_list("uid"),
        ("ObjectMeta", "finalizers"): {
            "x-kubernetes-list-type": "set",
            "x-kubernetes-patch-strategy": "merge",
        },
        ("PodSpec", "containers"): _map_list("name"),
        ("PodSpec", "initContainers"): _map_list("name"),
        ("PodSpec", "volumes"): _map_list("name", strategy="merge,retainKeys"),
        ("PodSpec", "imagePullSecrets"): _map_list("name"),
        ("PodSpec", "schedulingGates"): _map_list("name"),
        ("PodSpec", "topologySpreadConstraints"): {
            **_map_list("topologyKey", "whenUnsatisfiable"),
        },
        ("Container", "ports"): _map_list("containerPort", "protocol"),
        ("Container", "env"): _map_list("name"),
        ("Container", "volumeMounts"): _map_list("mountPath"),
        ("PodStatus", "conditions"): _CONDITIONS,
        ("PodStatus", "podIPs"): _map_list("ip"),
        ("NodeStatus", "conditions"): _CONDITIONS,
        ("NodeStatus", "addresses"): _map_list("type"),
        ("NodeSpec", "podCIDRs"): {
            "x-kubernetes-list-type": "set",
            "x-kubernetes-patch-strategy": "merge",
        },
        ("ServiceSpec", "ports"): _map_list("port", "protocol"),
        ("DeploymentSpec", "strategy"): {"x-kubernetes-patch-strategy": "retainKeys"},
        ("DeploymentStatus", "conditions"): _CONDITIONS,
        ("ReplicaSetStatus", "conditions"): _CONDITIONS,
        ("DaemonSetStatus", "conditions"): _CONDITIONS,
        ("NamespaceStatus", "conditions"): _CONDITIONS,
        ("JobStatus", "conditions"): {
            "x-kubernetes-list-type": "atomic",
            "x-kubernetes-patch-merge-key": "type",
            "x-kubernetes-patch-strategy": "merge",
        },
        ("HorizontalPodAutoscalerStatus", "conditions"): _CONDITIONS,
        ("CustomResourceDefinitionSpec", "versions"): {"x-kubernetes-list-type": "atomic"},
    }
)
"""kube's struct tags for the lists and maps whose merging is not the default (atomic lists,
granular maps): ``(struct, field)`` to the schema extensions."""

_OPEN_ITEM: Final = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}

OPAQUE_FIELDS: Final[Mapping[tuple[str, str], Mapping[str, Any]]] = immutables.Map(
    {
        ("PodSpec", "volumes"): {"type": "array", "items": _OPEN_ITEM},
        ("PodSpec", "imagePullSecrets"): {"type": "array", "items": _OPEN_ITEM},
        ("Container", "env"): {"type": "array", "items": _OPEN_ITEM},
        ("Container", "volumeMounts"): {"type": "array", "items": _OPEN_ITEM},
    }
)
"""Item schemas for opaque lists that strategic merge patch must merge by key."""


class SchemaSet(msgspec.Struct, frozen=True, kw_only=True):
    """Named schemas (``components``) and each kind's root schema name."""

    components: immutables.Map[str, JsonFrozen]
    roots: immutables.Map[str, str]

    def root(self, kind: str) -> Schema | None:
        name = self.roots.get(kind)
        if name is None:
            return None
        return typing.cast(Schema, self.components[name])

    def resolve(self, schema: Schema) -> Schema:
        """The schema a ``$ref`` points to (itself when it is none)."""
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF_PREFIX):
            return typing.cast(Schema, self.components[ref[len(REF_PREFIX) :]])
        return schema


def _schema_hook(target: type) -> dict[str, Any]:
    if target is Opaque:
        return {"x-kubernetes-preserve-unknown-fields": True}
    if target is Quantity:
        return {"x-kubernetes-int-or-string": True}
    if target is FrozenMap or typing.get_origin(target) is FrozenMap:
        args = typing.get_args(target)
        value_type = args[1] if len(args) == 2 else str
        (value,), extra = msgspec.json.schema_components((value_type,), schema_hook=_schema_hook)
        if extra:
            raise NotImplementedError("maps of structs are not used by the models")
        return {"type": "object", "additionalProperties": value}
    raise NotImplementedError(f"no schema for {target!r}")


def _normalise(node: Any) -> Any:
    """msgspec's JSON Schema as a structural schema."""
    if isinstance(node, list):
        return [_normalise(item) for item in node]
    if not isinstance(node, dict):
        return node
    any_of = node.get("anyOf")
    if isinstance(any_of, list):
        branches = [branch for branch in any_of if branch.get("type") != "null"]
        types = sorted(str(branch.get("type")) for branch in branches)
        rest = {key: value for key, value in node.items() if key not in ("anyOf", "default")}
        if types == ["integer", "string"]:
            return {**rest, "x-kubernetes-int-or-string": True}
        if len(branches) == 1:
            return {**_normalise(branches[0]), **_normalise(rest)}
        return {**rest, "x-kubernetes-preserve-unknown-fields": True}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("default", "title", "minimum", "maximum") and not isinstance(value, dict):
            continue
        if key == "pattern":
            out["format"] = "date-time"
            continue
        if key == "enum" and isinstance(value, list) and len(value) == 1:
            out["type"] = "string"  # apiVersion and kind literals: checked by the registry
            continue
        if key == "additionalProperties" and value is False:
            continue  # structural schemas prune what they do not name
        if key == "required" and not value:
            continue
        out[key] = _normalise(value)
    if "$ref" in out:
        out["$ref"] = out["$ref"].replace("#/$defs/", REF_PREFIX)
    return out


def _decorate(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return schema
    for field in sorted(properties):
        opaque = OPAQUE_FIELDS.get((name, field))
        if opaque is not None:
            properties[field] = {**properties[field], **opaque}
            properties[field].pop("x-kubernetes-preserve-unknown-fields", None)
        strategy = PATCH_STRATEGIES.get((name, field))
        if strategy is not None:
            properties[field] = {**properties[field], **strategy}
        text = describe(name, field)
        if text and "description" not in properties[field]:
            properties[field] = {**properties[field], "description": text}
    return schema


def _description(text: object) -> str:
    return str(text).replace("``", "") if text else ""


def builtin_schemas(
    models: Mapping[str, type[Any]], group_versions: Mapping[str, str]
) -> SchemaSet:
    """The schemas of ``models`` (kind to typed model); ``group_versions`` gives each kind's
    ``group/version`` for its ``x-kubernetes-group-version-kind``."""
    kinds = sorted(models)
    roots, components = msgspec.json.schema_components(
        [models[kind] for kind in kinds],
        schema_hook=_schema_hook,
        ref_template=REF_PREFIX + "{name}",
    )
    normalised: dict[str, Any] = {}
    for name in sorted(components):
        schema = _decorate(name, _normalise(components[name]))
        if "description" in schema:
            schema["description"] = _description(schema["description"])
        normalised[name] = schema
    root_names: dict[str, str] = {}
    for kind, root in zip(kinds, roots, strict=True):
        name = str(root["$ref"])[len(REF_PREFIX) :]
        group_version = group_versions[kind]
        group, _, version = group_version.rpartition("/")
        gvk = [{"group": group, "version": version, "kind": kind}]
        normalised[name] = {**normalised[name], "x-kubernetes-group-version-kind": gvk}
        root_names[kind] = name
    frozen = {name: freeze_json(value) for name, value in normalised.items()}
    return SchemaSet(components=immutables.Map(frozen), roots=immutables.Map(root_names))
