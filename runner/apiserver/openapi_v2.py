"""``/openapi/v2`` as protobuf: the machine's Swagger 2.0 JSON document in gnostic's OpenAPIv2
message, the encoding kubectl asks for.

kubectl fetches ``/openapi/v2`` with ``Accept: application/com.github.proto-openapi.spec.v2@
v1.0+protobuf`` whenever it validates an object the OpenAPI v3 documents do not describe (a
``v1 List`` from ``kubectl get -o yaml``, for one) and fails the whole command when the answer
is not that message. The machine speaks JSON only, so the runner asks it for the JSON document
and encodes it here with the ``protobuf`` library and the vendored ``OpenAPIv2.proto``
(``runner/apiserver/openapiv2pb``). The schema keywords the document uses are mapped field by
field; vendor extensions (``x-kubernetes-*``) travel as YAML text, as gnostic stores them.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from models.apiserver.messages import ApiRequest, ApiResponse
from runner.apiserver.openapiv2pb import OpenAPIv2_pb2 as pb

# What kubectl asks for, and the form kube-apiserver answers with: "@" is not valid in a media
# type, and Go's mime parser (which client-go runs on the answer) refuses it.
ACCEPTED: Final = (
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
)
MEDIA_TYPE: Final = ACCEPTED[1]
PATH: Final = "/openapi/v2"

Json = dict[str, Any]

# JSON Schema keyword -> the Schema message's scalar field it fills.
_SCALARS: Final = {
    "$ref": "_ref",
    "format": "format",
    "title": "title",
    "description": "description",
    "pattern": "pattern",
    "discriminator": "discriminator",
    "readOnly": "read_only",
    "uniqueItems": "unique_items",
    "multipleOf": "multiple_of",
    "maximum": "maximum",
    "exclusiveMaximum": "exclusive_maximum",
    "minimum": "minimum",
    "exclusiveMinimum": "exclusive_minimum",
    "maxLength": "max_length",
    "minLength": "min_length",
    "maxItems": "max_items",
    "minItems": "min_items",
    "maxProperties": "max_properties",
    "minProperties": "min_properties",
}


def wants_protobuf(request: ApiRequest) -> bool:
    """Whether this is a GET of ``/openapi/v2`` asking for the protobuf encoding."""
    return (
        request.method.upper() in ("GET", "HEAD")
        and "/" + request.path.strip("/") == PATH
        and any(media_type in request.accept for media_type in ACCEPTED)
    )


def as_json_request(request: ApiRequest) -> ApiRequest:
    """The same request, asking the machine for the JSON document."""
    return msgspec.structs.replace(request, accept="application/json")


def as_protobuf(answer: ApiResponse) -> ApiResponse:
    """The machine's JSON answer re-encoded; any other answer (an error Status) unchanged."""
    if answer.status != 200:
        return answer
    document = msgspec.json.decode(answer.body)
    return msgspec.structs.replace(
        answer, content_type=MEDIA_TYPE, body=encode_document(document).SerializeToString()
    )


def _yaml(value: object) -> pb.Any:
    # JSON is YAML, and gnostic keeps an extension's value as its YAML text.
    return pb.Any(yaml=msgspec.json.encode(value).decode())


def _extensions(node: Json) -> list[pb.NamedAny]:
    return [
        pb.NamedAny(name=key, value=_yaml(value))
        for key, value in sorted(node.items())
        if key.startswith("x-")
    ]


def encode_schema(node: Json) -> pb.Schema:
    """One JSON Schema object (Swagger 2.0's subset) as gnostic's Schema message."""
    schema = pb.Schema()
    for key, field in _SCALARS.items():
        if key in node:
            setattr(schema, field, node[key])
    kind = node.get("type")
    if kind is not None:
        schema.type.value.extend(kind if isinstance(kind, list) else [kind])
    if "required" in node:
        schema.required.extend(node["required"])
    if "enum" in node:
        schema.enum.extend(_yaml(value) for value in node["enum"])
    if "default" in node:
        schema.default.CopyFrom(_yaml(node["default"]))
    if "example" in node:
        schema.example.CopyFrom(_yaml(node["example"]))
    items = node.get("items")
    if items is not None:
        listed = items if isinstance(items, list) else [items]
        schema.items.schema.extend(encode_schema(item) for item in listed)
    if "allOf" in node:
        schema.all_of.extend(encode_schema(part) for part in node["allOf"])
    properties = node.get("properties")
    if properties is not None:
        schema.properties.additional_properties.extend(
            pb.NamedSchema(name=name, value=encode_schema(value))
            for name, value in properties.items()
        )
    additional = node.get("additionalProperties")
    if isinstance(additional, bool):
        schema.additional_properties.boolean = additional
    elif isinstance(additional, dict):
        schema.additional_properties.schema.CopyFrom(encode_schema(additional))
    schema.vendor_extension.extend(_extensions(node))
    return schema


def encode_document(document: Json) -> pb.Document:
    """The Swagger 2.0 document (``swagger``, ``info``, ``definitions``; the machine lists no
    paths) as gnostic's Document message."""
    info = document.get("info") or {}
    message = pb.Document(
        swagger=str(document.get("swagger", "2.0")),
        info=pb.Info(title=str(info.get("title", "")), version=str(info.get("version", ""))),
    )
    message.paths.SetInParent()
    message.definitions.additional_properties.extend(
        pb.NamedSchema(name=name, value=encode_schema(schema))
        for name, schema in (document.get("definitions") or {}).items()
    )
    message.vendor_extension.extend(_extensions(document))
    return message
