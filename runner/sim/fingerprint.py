"""Fingerprints of states: blake2b digests of deterministic JSON, computed incrementally.

A state is a tree. ``msgspec.Struct`` values and ``immutables.Map`` values are inner nodes (a
Struct has one child per field in field order, a Map one child per key in sorted key order);
everything else (numbers, strings, ``None``, tuples, frozensets) is a leaf.

- a leaf's digest is blake2b-128 of its deterministic JSON (sorted keys, sets sorted);
- an inner node's digest is blake2b-128 of its type name followed, for each child, by a zero
  byte, the child's name, ``=`` and the child's digest.

The root's digest is the fingerprint (hex). It depends only on the state: never on Python's
salted ``hash()`` or on the order states were seen in (:func:`digest_of` is the definition).

Because states are immutable and share structure, :class:`Fingerprinter` keeps a tree of the
objects it saw last and reuses a subtree's digest when the object is the same (``is``): a step
that touches one node re-hashes only what changed. What changed is the step's delta: one
:class:`~models.trace.FieldChange` per changed leaf, per new or removed subtree (reported whole,
not field by field), with the value when its JSON is short.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final, final

import immutables
import msgspec

from models.trace import FieldChange

DIGEST_BYTES: Final = 16
DELTA_VALUE_BYTES_MAX: Final = 240
"""A changed value goes into the delta when its JSON is at most this long."""
REMOVED_DIGEST: Final = ""
"""The digest a delta gives a path that no longer exists."""


def _encode_hook(value: object) -> object:
    if isinstance(value, immutables.Map):
        return {str(key): item for key, item in value.items()}
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


ENCODER: Final = msgspec.json.Encoder(order="sorted", enc_hook=_encode_hook)


def encode(value: object) -> bytes:
    """Deterministic JSON of a state value: object keys and struct fields sorted, maps as objects
    with string keys, sets sorted."""
    return ENCODER.encode(value)


def to_builtins(value: object) -> Any:
    """``value`` as JSON-ready builtins, with the encoding the fingerprints use."""
    return msgspec.json.decode(encode(value))


def _leaf_digest(encoded: bytes) -> bytes:
    return hashlib.blake2b(encoded, digest_size=DIGEST_BYTES).digest()


def _inner_digest(type_name: str, children: list[tuple[str, bytes]]) -> bytes:
    parts = [type_name.encode()]
    for name, digest in children:
        parts.append(b"\x00" + name.encode() + b"=" + digest)
    return hashlib.blake2b(b"".join(parts), digest_size=DIGEST_BYTES).digest()


def _map_keys(value: immutables.Map[Any, Any]) -> list[Any]:
    return sorted(value.keys())


def digest_of(value: object) -> bytes:
    """The digest of ``value`` computed from scratch: the definition the cache reproduces."""
    if isinstance(value, msgspec.Struct):
        fields = [(name, digest_of(getattr(value, name))) for name in value.__struct_fields__]
        return _inner_digest(type(value).__name__, fields)
    if isinstance(value, immutables.Map):
        items = [(str(key), digest_of(value[key])) for key in _map_keys(value)]
        return _inner_digest("Map", items)
    return _leaf_digest(encode(value))


def fingerprint_of(value: object) -> str:
    """The hex fingerprint of ``value`` computed from scratch."""
    return digest_of(value).hex()


def value_at(state: object, path: str) -> tuple[bool, object]:
    """The value at a delta path in ``state``: ``(True, value)``, or ``(False, None)`` when the
    path does not exist there."""
    value: object = state
    if path == "$":
        return True, value
    for name in path.split("."):
        if isinstance(value, msgspec.Struct):
            if name not in value.__struct_fields__:
                return False, None
            value = getattr(value, name)
        elif isinstance(value, immutables.Map):
            matches = [key for key in value if str(key) == name]
            if not matches:
                return False, None
            value = value[matches[0]]
        else:
            return False, None
    return True, value


@final
class _Entry:
    """What the cache remembers at one path: the object, its digest, its children."""

    __slots__ = ("children", "digest", "value")

    def __init__(self, value: object, digest: bytes, children: dict[str, _Entry]) -> None:
        self.value = value
        self.digest = digest
        self.children = children


@final
class Fingerprinter:
    """Digests a sequence of states, re-hashing only what changed since the previous one.

    ``update(state)`` returns the fingerprint and the delta. Paths are child names joined by
    dots (``nodes.2.current_term``); the root is ``$``.
    """

    def __init__(self) -> None:
        self._root: dict[str, _Entry] = {}
        self._changes: list[FieldChange] = []

    def update(self, state: object) -> tuple[str, tuple[FieldChange, ...]]:
        """Fingerprint ``state``; the delta lists what changed since the previous call (all of
        it, as one change at ``$``, on the first call)."""
        self._changes = []
        digest = self._digest(self._root, "$", "", state, report=True)
        changes = tuple(self._changes)
        self._changes = []
        return digest.hex(), changes

    def _record(self, path_or_root: str, digest: bytes, encoded: bytes | None) -> None:
        path = path_or_root or "$"
        if encoded is not None and len(encoded) <= DELTA_VALUE_BYTES_MAX:
            change = FieldChange(path=path, digest=digest.hex(), value=msgspec.Raw(encoded))
        else:
            change = FieldChange(path=path, digest=digest.hex())
        self._changes.append(change)

    def _digest(
        self, parent: dict[str, _Entry], name: str, path: str, value: object, *, report: bool
    ) -> bytes:
        entry = parent.get(name)
        if entry is not None and entry.value is value:
            return entry.digest
        same_shape = entry is not None and (
            type(entry.value) is type(value)
            if isinstance(value, msgspec.Struct)
            else isinstance(value, immutables.Map) and isinstance(entry.value, immutables.Map)
        )
        children: dict[str, _Entry] = entry.children if entry is not None and same_shape else {}
        report_children = report and same_shape
        prefix = f"{path}." if path else ""
        if isinstance(value, msgspec.Struct):
            fields = [
                (
                    field,
                    self._digest(
                        children,
                        field,
                        prefix + field,
                        getattr(value, field),
                        report=report_children,
                    ),
                )
                for field in value.__struct_fields__
            ]
            digest = _inner_digest(type(value).__name__, fields)
        elif isinstance(value, immutables.Map):
            digest = self._map_digest(children, prefix, value, report=report_children)
        else:
            encoded = encode(value)
            digest = _leaf_digest(encoded)
            if report and (entry is None or entry.digest != digest):
                self._record(path, digest, encoded)
            parent[name] = _Entry(value, digest, children)
            return digest
        if report and not same_shape:
            self._record(path, digest, encode(value))
        parent[name] = _Entry(value, digest, children)
        return digest

    def _map_digest(
        self,
        children: dict[str, _Entry],
        prefix: str,
        value: immutables.Map[Any, Any],
        *,
        report: bool,
    ) -> bytes:
        ordered = _map_keys(value)
        keys = [str(key) for key in ordered]
        present = set(keys)
        removed = sorted(name for name in children if name not in present)
        for name in removed:
            del children[name]
            if report:
                self._changes.append(FieldChange(path=prefix + name, digest=REMOVED_DIGEST))
        items: list[tuple[str, bytes]] = []
        for name, key in zip(keys, ordered, strict=True):
            item = value[key]
            entry = children.get(name)
            if entry is not None and entry.value is item:
                items.append((name, entry.digest))
            else:
                items.append(
                    (name, self._digest(children, name, prefix + name, item, report=report))
                )
        return _inner_digest("Map", items)
