"""The building blocks of the Kubernetes object model.

- ``ApiStruct``: the base of every API struct (frozen, keyword-only, camelCase JSON names,
  absent fields left out when encoding, unknown fields rejected with their path).
- ``FrozenMap``: ``immutables.Map``, used for every JSON object keyed by user data (labels,
  annotations, resource lists). Its iteration order is not stable across processes: iterate
  ``sorted(...)`` wherever order matters.
- ``Opaque``: a JSON subtree the control plane does not interpret (volumes, env,
  securityContext, ...), kept frozen so that it survives a round trip unchanged.
- ``decode_hook``/``encode_hook``: the msgspec hooks for Quantity, FrozenMap and Opaque.

Optional fields default to ``None`` and are left out when ``None``, so an absent field and an
empty one (``{}``, ``[]``, ``0``, ``false``) stay distinct, as Go's pointers and omitempty make
them. An explicit JSON ``null`` on an optional field reads as absent.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any, Final, TypeAlias, final

import immutables
import msgspec
from returns.pipeline import is_successful

from models.quantity import Quantity, quantity_from_json

FrozenMap = immutables.Map

JsonFrozen: TypeAlias = (
    "bool | int | float | str | tuple[JsonFrozen, ...] | immutables.Map[str, JsonFrozen] | None"
)


class ApiStruct(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    omit_defaults=True,
    forbid_unknown_fields=True,
    rename="camel",
):
    """Base of every Kubernetes API struct."""


def freeze_json(value: object) -> JsonFrozen:
    """A plain JSON value (dicts, lists, scalars) as nested ``FrozenMap`` and tuples."""
    if isinstance(value, float):
        return float(value)  # drop a JsonNumber's text: opaque numbers compare by value
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Mapping):
        return immutables.Map({str(key): freeze_json(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze_json(item) for item in value)
    raise ValueError(f"not a JSON value: {type(value).__name__}")


def thaw_json(value: JsonFrozen) -> object:
    """The inverse of ``freeze_json``; object keys come out sorted."""
    if isinstance(value, immutables.Map):
        return {key: thaw_json(value[key]) for key in sorted(value.keys())}
    if isinstance(value, tuple):
        return [thaw_json(item) for item in value]
    return value


@final
class Opaque:
    """A JSON value kept as is: equal and hashable by content."""

    __slots__ = ("_value",)

    def __init__(self, value: JsonFrozen) -> None:
        self._value = value

    @classmethod
    def of(cls, plain: object) -> Opaque:
        """From plain JSON data (dicts and lists)."""
        return cls(freeze_json(plain))

    @property
    def value(self) -> JsonFrozen:
        return self._value

    def to_builtins(self) -> object:
        return thaw_json(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Opaque):
            return NotImplemented
        return _same_json(self._value, other._value)

    def __hash__(self) -> int:
        return hash(msgspec.json.encode(self.to_builtins(), order="sorted"))

    def __repr__(self) -> str:
        return f"Opaque({self.to_builtins()!r})"


def _same_json(left: JsonFrozen, right: JsonFrozen) -> bool:
    """JSON equality that keeps ``true`` apart from ``1`` (Python's ``==`` does not)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, immutables.Map) and isinstance(right, immutables.Map):
        return set(left.keys()) == set(right.keys()) and all(
            _same_json(left[key], right[key]) for key in left
        )
    if isinstance(left, tuple) and isinstance(right, tuple):
        return len(left) == len(right) and all(
            _same_json(a, b) for a, b in zip(left, right, strict=True)
        )
    return left == right


_MAP_ORIGINS: Final = (immutables.Map,)


def decode_hook(target: type, raw: object) -> object:
    """msgspec ``dec_hook``: build Quantity, FrozenMap and Opaque values from JSON data."""
    if target is Quantity:
        result = quantity_from_json(raw)
        if not is_successful(result):
            raise ValueError(result.failure().message)
        return result.unwrap()
    if target is Opaque:
        return Opaque(freeze_json(raw))
    if typing.get_origin(target) in _MAP_ORIGINS:
        return _decode_map(target, raw)
    raise NotImplementedError(f"no decoder for {target!r}")


def _decode_map(target: type, raw: object) -> immutables.Map[Any, Any]:
    """A JSON object as a FrozenMap, each value decoded to the map's value type. A bad value
    is reported with its key as `` (at map key <key>)`` so the codec can name the field."""
    if not isinstance(raw, dict):
        raise ValueError(f"Expected `object`, got `{type(raw).__name__}`")
    _, value_type = typing.get_args(target)
    decoded: dict[str, Any] = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            raise ValueError(f"Expected `str` keys, got `{type(key).__name__}`")
        try:
            decoded[key] = msgspec.convert(value, value_type, dec_hook=decode_hook)
        except (msgspec.ValidationError, ValueError) as error:
            raise ValueError(f"{error} (at map key {key})") from None
    return immutables.Map(decoded)


def encode_hook(value: object) -> object:
    """msgspec ``enc_hook``: Quantity as its JSON value, maps with sorted keys, Opaque as is."""
    if isinstance(value, Quantity):
        return value.json_value()
    if isinstance(value, immutables.Map):
        return {key: value[key] for key in sorted(value.keys())}
    if isinstance(value, Opaque):
        return value.to_builtins()
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


def canonical_encode_hook(value: object) -> object:
    """Like ``encode_hook`` but every Quantity as Kubernetes prints it (``String()``), as the
    API server would store it, whatever spelling it was decoded from."""
    if isinstance(value, Quantity):
        return value.string()
    return encode_hook(value)
