"""Walking an object against its structural schema: pruning, types, value constraints.

``prune`` is kube's decoding step: fields the schema does not name are dropped and reported
(``unknown field "spec.foo"``, which ``fieldValidation=Strict`` refuses and ``Warn`` returns as
warnings), JSON nulls on fields read as absent, CRD ``default`` values fill absent fields, and
values of the wrong JSON type are reported. ``validate_values`` applies the CRD value
constraints (enum, required, minimum/maximum, lengths, item counts, pattern) with kube's
wording (``spec.replicas in body should be greater than or equal to 1``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import msgspec

from models.apiserver.schemas import Schema, SchemaSet
from models.field_errors import FieldError, FieldErrorType, invalid, required
from models.k8s.base import thaw_json

_JSON_TYPES: Final = {
    "object": "object",
    "array": "array",
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
}


class TypeMismatch(msgspec.Struct, frozen=True, kw_only=True):
    """A value of JSON type ``found`` where the schema wants ``expected``."""

    field: str
    expected: str
    found: str


class PruneResult(msgspec.Struct, frozen=True, kw_only=True):
    value: Any
    unknown_fields: tuple[str, ...]
    type_errors: tuple[FieldError, ...]
    mismatches: tuple[TypeMismatch, ...] = ()


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _field(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Pruner:
    """One prune run's findings (local to the call)."""

    def __init__(self, schemas: SchemaSet, apply_defaults: bool) -> None:
        self.schemas = schemas
        self.apply_defaults = apply_defaults
        self.unknown: list[str] = []
        self.errors: list[FieldError] = []
        self.mismatches: list[TypeMismatch] = []

    def walk(self, value: Any, schema: Schema, path: str) -> Any:
        schema = self.schemas.resolve(schema)
        if schema.get("x-kubernetes-int-or-string"):
            if not isinstance(value, int | str) or isinstance(value, bool):
                self._type_error(value, "integer or string", path)
            return value
        declared = schema.get("type")
        if declared is None and schema.get("x-kubernetes-preserve-unknown-fields"):
            return value
        actual = _json_type(value)
        if declared == "number" and actual == "integer":
            return value
        if declared is not None and _JSON_TYPES.get(str(declared)) != actual:
            self._type_error(value, str(declared), path)
            return value
        if isinstance(value, dict):
            return self._object(value, schema, path)
        if isinstance(value, list):
            items = schema.get("items")
            if items is None:
                return value
            return [self.walk(item, items, f"{path}[{index}]") for index, item in enumerate(value)]
        return value

    def _object(self, value: dict[str, Any], schema: Schema, path: str) -> dict[str, Any]:
        properties: Mapping[str, Any] | None = schema.get("properties")
        additional = schema.get("additionalProperties")
        preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        out: dict[str, Any] = {}
        for key, item in value.items():
            child: Schema | None = None
            if properties is not None and key in properties:
                child = properties[key]
            elif isinstance(additional, Mapping):
                child = additional
            elif additional is True or preserve or (properties is None and additional is None):
                out[key] = item
                continue
            if child is None:
                self.unknown.append(_field(path, key))
                continue
            if item is None and not self.schemas.resolve(child).get("nullable"):
                continue
            out[key] = self.walk(item, child, _field(path, key))
        if self.apply_defaults and properties is not None:
            for key in sorted(properties):
                default = self.schemas.resolve(properties[key]).get("default")
                if key not in out and default is not None:
                    out[key] = thaw_json(default)
        return out

    def _type_error(self, value: object, expected: str, path: str) -> None:
        shown = value if isinstance(value, str | int | bool) else _json_type(value)
        self.mismatches.append(TypeMismatch(field=path, expected=expected, found=_json_type(value)))
        self.errors.append(
            invalid(
                path, shown, f'{path} in body must be of type {expected}: "{_json_type(value)}"'
            )
        )


def prune(
    value: Any, schema: Schema, schemas: SchemaSet, *, apply_defaults: bool = False
) -> PruneResult:
    """``value`` with unknown fields and nulls dropped (and CRD defaults applied)."""
    pruner = _Pruner(schemas, apply_defaults)
    pruned = pruner.walk(value, schema, "")
    return PruneResult(
        value=pruned,
        unknown_fields=tuple(pruner.unknown),
        type_errors=tuple(pruner.errors),
        mismatches=tuple(pruner.mismatches),
    )


def validate_values(
    value: Any, schema: Schema, schemas: SchemaSet, path: str = ""
) -> list[FieldError]:
    """The CRD value constraints of ``schema`` that ``value`` breaks."""
    schema = schemas.resolve(schema)
    errors = _scalar_constraints(value, schema, path)
    if isinstance(value, dict):
        for key in schema.get("required", ()):
            if key not in value:
                errors.append(required(_field(path, str(key)), ""))
        properties: Mapping[str, Any] = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key in sorted(value):
            child = properties.get(key, additional if isinstance(additional, Mapping) else None)
            if child is not None:
                errors.extend(validate_values(value[key], child, schemas, _field(path, key)))
    elif isinstance(value, list):
        items = schema.get("items")
        for index, item in enumerate(value):
            if items is not None:
                errors.extend(validate_values(item, items, schemas, f"{path}[{index}]"))
    return errors


def _shown(value: Any) -> str | int | bool | None:
    return value if isinstance(value, str | int | bool) else None


def _scalar_constraints(value: Any, schema: Schema, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    enum = schema.get("enum")
    if enum is not None:
        allowed_values = thaw_json(enum)
        assert isinstance(allowed_values, list)
        if value not in allowed_values:
            allowed = ", ".join(msgspec.json.encode(item).decode() for item in allowed_values)
            errors.append(
                FieldError(
                    type=FieldErrorType.NOT_SUPPORTED,
                    field=path,
                    detail=f"supported values: {allowed}",
                    bad_value=_shown(value),
                    shows_value=True,
                )
            )
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if number is not None:
        minimum, maximum = schema.get("minimum"), schema.get("maximum")
        if minimum is not None and number < minimum:
            errors.append(
                invalid(
                    path,
                    _shown(value),
                    f"{path} in body should be greater than or equal to {minimum}",
                )
            )
        if maximum is not None and number > maximum:
            errors.append(
                invalid(
                    path, _shown(value), f"{path} in body should be less than or equal to {maximum}"
                )
            )
    if isinstance(value, str):
        errors.extend(_string_constraints(value, schema, path))
    if isinstance(value, list):
        low, high = schema.get("minItems"), schema.get("maxItems")
        if low is not None and len(value) < low:
            errors.append(
                invalid(path, len(value), f"{path} in body should have at least {low} items")
            )
        if high is not None and len(value) > high:
            errors.append(
                invalid(path, len(value), f"{path} in body should have at most {high} items")
            )
    return errors


def _string_constraints(value: str, schema: Schema, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    low, high = schema.get("minLength"), schema.get("maxLength")
    if low is not None and len(value) < low:
        errors.append(invalid(path, value, f"{path} in body should be at least {low} chars long"))
    if high is not None and len(value) > high:
        errors.append(invalid(path, value, f"{path} in body should be at most {high} chars long"))
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            matched = re.search(pattern, value) is not None
        except re.error:
            matched = True
        if not matched:
            errors.append(invalid(path, value, f"{path} in body should match '{pattern}'"))
    return errors
