"""Reading a request body: JSON or YAML by content type, size and nesting limits, and the
``fieldValidation`` decoding step (unknown fields pruned, then refused or warned about).

kube-apiserver refuses a body over 3 MiB (413) and a malformed one with 400; with
``fieldValidation=Strict`` unknown fields give 400 ``strict decoding error: unknown field
"spec.foo"``; with ``Warn`` (the default) and ``Ignore`` they are dropped, ``Warn`` returning
one warning per field.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
import yaml

from impl.apiserver.structural import prune
from models.apiserver.schemas import Schema, SchemaSet
from models.apiserver.status import bad_request, too_large, unsupported_media_type
from models.field_errors import FieldError
from models.k8s.meta_ops import Status

MAX_BODY_BYTES: Final = 3 * 1024 * 1024
MAX_DEPTH: Final = 100
FIELD_VALIDATIONS: Final = ("Strict", "Warn", "Ignore")


class Decoded(msgspec.Struct, frozen=True, kw_only=True):
    value: Any
    warnings: tuple[str, ...] = ()
    type_errors: tuple[FieldError, ...] = ()


def _depth(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)
    return True


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def parse_body(body: bytes, content_type: str) -> Any | Status:
    """The body as plain JSON data, or the Status refusing it."""
    if len(body) > MAX_BODY_BYTES:
        return too_large("the request body is too large")
    kind = media_type(content_type)
    try:
        if kind in ("application/yaml", "application/apply-patch+yaml", "text/yaml"):
            value = yaml.safe_load(body.decode("utf-8")) if body else None
        elif kind in (
            "application/json",
            "",
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
            "application/json-patch+json",
            "*/*",
        ):
            value = msgspec.json.decode(body) if body else None
        else:
            return unsupported_media_type(
                "the body of the request was in an unknown format - accepted media types "
                "include: application/json, application/yaml"
            )
    except (msgspec.DecodeError, yaml.YAMLError, UnicodeDecodeError, RecursionError) as error:
        return bad_request(f"error decoding request body: {_first_line(error)}")
    if not _depth(value, MAX_DEPTH):
        return bad_request(f"error decoding request body: exceeded max depth of {MAX_DEPTH}")
    return value


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def field_validation(value: str | None) -> str | Status:
    if value is None or value == "":
        return "Warn"
    if value not in FIELD_VALIDATIONS:
        return bad_request(f"fieldValidation parameter unsupported: {value}")
    return value


def decode_object(
    value: Any,
    schema: Schema | None,
    schemas: SchemaSet,
    mode: str,
    kind: str,
    group_version: str,
    custom: bool,
) -> Decoded | Status:
    """Prune ``value`` against the kind's schema under ``fieldValidation`` ``mode``."""
    if not isinstance(value, dict):
        return bad_request(f"Object '{kind}' is invalid: expected a JSON object")
    if schema is None:
        return Decoded(value=value)
    result = prune(value, schema, schemas, apply_defaults=custom)
    if result.mismatches and not custom:
        # A built-in kind is decoded by Go's encoding/json, which stops at the first mismatch.
        first = result.mismatches[0]
        return bad_request(
            f'{kind} in version "{group_version.rpartition("/")[2]}" cannot be handled as a '
            f"{kind}: json: cannot unmarshal {first.found} into Go struct field "
            f"{kind}.{first.field} of type {first.expected}"
        )
    unknown = tuple(f'unknown field "{path}"' for path in result.unknown_fields)
    if unknown and mode == "Strict":
        return bad_request("strict decoding error: " + ", ".join(unknown))
    warnings = unknown if mode == "Warn" else ()
    return Decoded(value=result.value, warnings=warnings, type_errors=result.type_errors)
