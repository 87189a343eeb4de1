"""``/openapi/v2`` in gnostic's protobuf encoding: the committed generated code is what
scripts/openapi-protos makes from the vendored proto, and the encoder keeps every keyword of the
Swagger document kubectl reads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from runner.apiserver.openapi_v2 import encode_document
from runner.apiserver.openapiv2pb import OpenAPIv2_pb2 as pb

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path("runner/apiserver/openapiv2pb")


def test_generated_code_matches_the_proto(tmp_path: Path) -> None:
    subprocess.run(
        [str(ROOT / "scripts/openapi-protos"), str(tmp_path)],
        check=True,
        env={**os.environ, "PYTHON": sys.executable},
        timeout=120,
        capture_output=True,
    )
    for name in ("OpenAPIv2_pb2.py", "OpenAPIv2_pb2.pyi"):
        assert (tmp_path / PACKAGE / name).read_bytes() == (ROOT / PACKAGE / name).read_bytes()


def test_a_definition_survives_the_encoding() -> None:
    gvk = [{"group": "", "version": "v1", "kind": "ConfigMap"}]
    document = {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": "v1.35.0"},
        "definitions": {
            "ConfigMap": {
                "description": "holds data",
                "type": "object",
                "required": ["metadata"],
                "properties": {
                    "data": {"type": "object", "additionalProperties": {"type": "string"}},
                    "items": {"type": "array", "items": {"$ref": "#/definitions/Item"}},
                    "port": {"x-kubernetes-int-or-string": True, "format": "int-or-string"},
                    "open": {"type": "object", "additionalProperties": True},
                },
                "x-kubernetes-group-version-kind": gvk,
            }
        },
    }
    decoded = pb.Document.FromString(encode_document(document).SerializeToString())
    assert (decoded.swagger, decoded.info.title, decoded.info.version) == (
        "2.0",
        "Kubernetes",
        "v1.35.0",
    )
    (named,) = decoded.definitions.additional_properties
    schema = named.value
    assert named.name == "ConfigMap"
    assert (schema.description, list(schema.type.value), list(schema.required)) == (
        "holds data",
        ["object"],
        ["metadata"],
    )
    properties = {p.name: p.value for p in schema.properties.additional_properties}
    assert list(properties) == ["data", "items", "port", "open"]
    assert list(properties["data"].additional_properties.schema.type.value) == ["string"]
    assert properties["items"].items.schema[0]._ref == "#/definitions/Item"
    assert properties["open"].additional_properties.boolean is True
    assert properties["port"].format == "int-or-string"
    extension = properties["port"].vendor_extension[0]
    assert (extension.name, extension.value.yaml) == ("x-kubernetes-int-or-string", "true")
    (kinds,) = schema.vendor_extension
    assert kinds.name == "x-kubernetes-group-version-kind"
    assert kinds.value.yaml == '[{"group":"","version":"v1","kind":"ConfigMap"}]'
