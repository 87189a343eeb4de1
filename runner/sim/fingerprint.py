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
that touches one node re-hashes only what changed. A long tuple leaf (a Raft log) that grows
by appending to the same element objects is hashed on from where its previous digest stopped:
only the new elements are encoded (the digest is the same; a log of a few MB is not encoded
again on every append). What changed is the step's delta: one
:class:`~models.trace.FieldChange` per changed leaf, per new or removed subtree (reported whole,
not field by field), with the value when its JSON is short.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from itertools import compress
from operator import is_, is_not
from typing import Any, Final, final

import immutables
import msgspec

from models.trace import FieldChange

DIGEST_BYTES: Final = 16
DELTA_VALUE_BYTES_MAX: Final = 240
"""A changed value goes into the delta when its JSON is at most this long."""
REMOVED_DIGEST: Final = ""
"""The digest a delta gives a path that no longer exists."""
APPEND_TUPLE_MIN: Final = 32
"""A tuple leaf at least this long keeps the hash state of its JSON up to its last element, so
that a longer tuple starting with the same element objects hashes only what was appended."""


def _encode_hook(value: object) -> object:
    if isinstance(value, immutables.Map):
        return {str(key): item for key, item in value.items()}
    to_builtins = getattr(value, "to_builtins", None)
    if callable(to_builtins):  # models.k8s.base.Opaque: JSON kept as is
        return to_builtins()
    json_value = getattr(value, "json_value", None)
    if callable(json_value):  # models.quantity.Quantity: its JSON text
        return json_value()
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
    """What the cache remembers at one path: the object and its digest; for a struct, its field
    values, their entries and the byte parts its digest is made of; for a map, its keys in
    sorted order with their values, entries and digest parts; inside a map, the bytes naming
    it in its parent's digest."""

    __slots__ = (
        "digest", "fields", "key_set", "keys", "kids", "label", "opened", "parts", "size",
        "value", "values",
    )  # fmt: skip

    # Set only where they apply (a leaf has none): an entry is made for every changed value.
    fields: tuple[Any, ...]
    keys: list[Any]
    values: list[Any]
    key_set: set[Any]
    kids: list[_Entry]
    parts: list[bytes]

    def __init__(self, value: object, digest: bytes) -> None:
        self.value = value
        self.digest = digest
        self.label = b""
        self.opened: Any = None
        """For a long tuple leaf: blake2b fed its JSON without the closing ``]``."""
        self.size = 0
        """For a long tuple leaf: the length of its JSON."""


def _label(name: str) -> bytes:
    """How a child is named inside its parent's digest: a zero byte, the name, ``=``."""
    return b"\x00" + name.encode() + b"="


@final
class Fingerprinter:
    """Digests a sequence of states, re-hashing only what changed since the previous one.

    ``update(state)`` returns the fingerprint and the delta. Paths are child names joined by
    dots (``nodes.2.current_term``); the root is ``$``. The digests are exactly those of
    :func:`digest_of`; only the work differs: a child that is the same object as before keeps
    its digest without a call, and each struct type's field labels are built once.
    """

    def __init__(self) -> None:
        self._root: _Entry | None = None
        self._changes: list[FieldChange] = []
        self._layouts: dict[type, tuple[bytes, tuple[str, ...], tuple[bytes, ...]]] = {}

    def update(self, state: object) -> tuple[str, tuple[FieldChange, ...]]:
        """Fingerprint ``state``; the delta lists what changed since the previous call (all of
        it, as one change at ``$``, on the first call)."""
        self._changes = []
        self._root = self._node(self._root, "", state, report=True)
        changes = tuple(self._changes)
        self._changes = []
        return self._root.digest.hex(), changes

    def _record(self, path: str, digest: bytes, encoded: bytes | None) -> None:
        path = path or "$"
        if encoded is not None and len(encoded) <= DELTA_VALUE_BYTES_MAX:
            change = FieldChange(path=path, digest=digest.hex(), value=msgspec.Raw(encoded))
        else:
            change = FieldChange(path=path, digest=digest.hex())
        self._changes.append(change)

    def _layout(self, kind: type) -> tuple[bytes, tuple[str, ...], tuple[bytes, ...]]:
        layout = self._layouts.get(kind)
        if layout is None:
            names: tuple[str, ...] = kind.__struct_fields__  # type: ignore[attr-defined]
            layout = (kind.__name__.encode(), names, tuple(_label(name) for name in names))
            self._layouts[kind] = layout
        return layout

    def _node(self, entry: _Entry | None, path: str, value: object, *, report: bool) -> _Entry:
        """The entry for ``value`` at ``path`` (``entry``: what was there before)."""
        if entry is not None and entry.value is value:
            return entry
        if isinstance(value, msgspec.Struct):
            same = entry is not None and type(entry.value) is type(value)
            built = self._struct(entry if same else None, path, value, report=report and same)
        elif isinstance(value, immutables.Map):
            same = entry is not None and isinstance(entry.value, immutables.Map)
            built = self._map(entry if same else None, path, value, report=report and same)
        elif isinstance(value, tuple) and len(value) >= APPEND_TUPLE_MIN:
            return self._tuple(entry, path, value, report=report)
        else:
            encoded = encode(value)
            digest = _leaf_digest(encoded)
            if report and (entry is None or entry.digest != digest):
                self._record(path, digest, encoded)
            return _Entry(value, digest)
        if report and not same:
            self._record(path, built.digest, encode(value))
        return built

    def _tuple(
        self, entry: _Entry | None, path: str, value: tuple[Any, ...], *, report: bool
    ) -> _Entry:
        """A long tuple leaf. Its JSON is ``[`` and its elements' JSON joined by ``,`` and ``]``
        (msgspec writes no spaces), so when the previous value at ``path`` is a prefix of it
        (the same element objects), the hash goes on from the previous state with the new
        elements only; otherwise the whole tuple is encoded once, as for any leaf."""
        old = None if entry is None else entry.value
        encoded: bytes | None = None
        if (
            entry is not None
            and entry.opened is not None
            and isinstance(old, tuple)
            and len(old) <= len(value)
            and all(map(is_, value, old))
        ):
            opened = entry.opened.copy()
            size = entry.size - 1  # without the closing bracket
            for element in value[len(old) :]:
                piece = b"," + encode(element)
                opened.update(piece)
                size += len(piece)
            size += 1
        else:
            encoded = encode(value)
            opened = hashlib.blake2b(memoryview(encoded)[:-1], digest_size=DIGEST_BYTES)
            size = len(encoded)
        closed = opened.copy()
        closed.update(b"]")
        digest = closed.digest()
        if report and (entry is None or entry.digest != digest):
            if encoded is None and size <= DELTA_VALUE_BYTES_MAX:
                encoded = encode(value)
            self._record(path, digest, encoded)
        built = _Entry(value, digest)
        built.opened, built.size = opened, size
        return built

    def _struct(
        self, entry: _Entry | None, path: str, value: msgspec.Struct, *, report: bool
    ) -> _Entry:
        """Only the fields that are not the same objects as before are visited: which ones is
        found in C (``map(is_not, ...)`` over the field tuples)."""
        type_name, names, labels = self._layout(type(value))
        values = msgspec.structs.astuple(value)
        built = _Entry(value, b"")
        built.fields = values
        if entry is None:
            kids: list[_Entry] = []
            parts = [type_name]
            for name, label, child_value in zip(names, labels, values, strict=True):
                child_path = f"{path}.{name}" if path else name
                child = self._node(None, child_path, child_value, report=report)
                kids.append(child)
                parts.append(label)
                parts.append(child.digest)
        else:
            kids, parts = entry.kids, entry.parts
            changed = compress(range(len(values)), map(is_not, values, entry.fields))
            for position in changed:
                name = names[position]
                child_path = f"{path}.{name}" if path else name
                child = self._node(kids[position], child_path, values[position], report=report)
                kids[position] = child
                parts[2 + 2 * position] = child.digest
        built.kids, built.parts = kids, parts
        built.digest = hashlib.blake2b(b"".join(parts), digest_size=DIGEST_BYTES).digest()
        return built

    def _map(
        self, entry: _Entry | None, path: str, value: immutables.Map[Any, Any], *, report: bool
    ) -> _Entry:
        """Entries are kept in sorted key order with the parts of the digest; a new map is
        compared with the previous one by key sets (removed, added) and by identity of the
        values under the remaining keys, each found in C, so a step that adds or removes a few
        messages costs little however many are in flight."""
        prefix = f"{path}." if path else ""
        if entry is None:
            keys: list[Any] = []
            values: list[Any] = []
            kids: list[_Entry] = []
            parts = [b"Map"]
            key_set: set[Any] = set()
        else:
            keys, values, kids, parts, key_set = (
                entry.keys,
                entry.values,
                entry.kids,
                entry.parts,
                entry.key_set,
            )
        present = set(value.keys())
        if present != key_set:
            for name, key in sorted((str(key), key) for key in key_set - present):
                position = bisect_left(keys, key)
                del keys[position], values[position], kids[position]
                del parts[1 + 2 * position : 3 + 2 * position]
                if report:
                    self._changes.append(FieldChange(path=prefix + name, digest=REMOVED_DIGEST))
        current = list(map(value.get, keys))
        for position in compress(range(len(keys)), map(is_not, current, values)):
            old = kids[position]
            child = self._node(old, prefix + str(keys[position]), current[position], report=report)
            child.label = old.label
            kids[position] = child
            values[position] = current[position]
            parts[2 + 2 * position] = child.digest
        for key in sorted(present - key_set):
            position = bisect_left(keys, key)
            name = str(key)
            child = self._node(None, prefix + name, value[key], report=report)
            child.label = _label(name)
            keys.insert(position, key)
            values.insert(position, value[key])
            kids.insert(position, child)
            parts[1 + 2 * position : 1 + 2 * position] = [child.label, child.digest]
        result = _Entry(value, hashlib.blake2b(b"".join(parts), digest_size=DIGEST_BYTES).digest())
        result.keys, result.values, result.kids, result.parts = keys, values, kids, parts
        result.key_set = present
        return result
