"""The strict input discipline every reader of user input shares (``docs/limits.md``).

Pure: bytes or text in, decoded values out, or an :class:`InputError` naming the source, line,
document, field and, when a limit was hit, the limit. Opening files (and gzip) is the runner's
part (``runner.input_files``); the command line turns an ``InputError`` into exit code 2 and one
line ``kubeoracle: FILE:LINE: field F: reason``.

What every reader gets from here:

- :class:`Limits`: the documented bounds on size, lines, documents, nesting depth and YAML
  nodes (``LIMITS`` holds the defaults); integers must fit Go's int64.
- :func:`decode_json`: one JSON value (a line of a JSON Lines file, or a whole document) through
  a typed msgspec decoder whose structs forbid unknown fields; every failure (malformed JSON,
  non-UTF-8 bytes, an unknown or misspelled field, a wrong type, an integer beyond int64,
  nesting deeper than ``depth``) becomes an ``InputError`` with the field path.
- :func:`numbered_lines`: the lines of a stream, numbered from 1, with the line, count and byte
  limits enforced as they go by (so memory stays bounded by what the caller keeps).
- :func:`utf8_text`: text from bytes, refusing invalid UTF-8 with the line and column.
- :func:`loose_structs`: the struct types reachable from a type that would silently drop
  unknown fields (tests use it to keep every reader strict).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any, Final, TypeVar

import msgspec

T = TypeVar("T")

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
LIMITS_DOC: Final = "docs/limits.md"


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    """Bounds on one input. Each is refused with exit code 2 naming it (``docs/limits.md``)."""

    file_bytes: int = 64 * 2**20
    """A file read whole (manifests, scheduler configs, cluster files): 64 MiB."""
    stream_bytes: int = 4 * 2**30
    """A file read line by line (traces, event logs, histories), after gzip: 4 GiB."""
    line_bytes: int = 64 * 2**20
    """One line of a line-based file: 64 MiB (a cluster trace's snapshot of etcd's whole
    history)."""
    lines: int = 10_000_000
    """Lines of a line-based file."""
    documents: int = 100_000
    """Documents of one YAML file (``---`` separated, empty ones included)."""
    depth: int = 100
    """Nesting of arrays and objects (JSON) or sequences and mappings (YAML)."""
    yaml_nodes: int = 5_000_000
    """Nodes of one YAML document after its aliases are expanded (a billion-laughs document
    is refused here, as kubectl refuses it for "excessive aliasing")."""


LIMITS: Final = Limits()


class InputError(Exception):
    """Input that cannot be used: where (source, line, document, field), why, and the limit
    it broke (``limit`` is a :class:`Limits` field name, or empty)."""

    def __init__(
        self,
        reason: str,
        *,
        source: str = "",
        line: int = 0,
        field: str = "",
        document: int = 0,
        limit: str = "",
    ) -> None:
        self.reason = reason
        self.source = source
        self.line = line
        self.field = field
        self.document = document
        self.limit = limit
        super().__init__(self.describe())

    def describe(self) -> str:
        """``FILE:LINE: document D: field F: reason``, leaving out the parts not known."""
        place = self.source
        if self.line:
            place = f"{place}:{self.line}" if place else f"line {self.line}"
        parts = [place] if place else []
        if self.document:
            parts.append(f"document {self.document}")
        if self.field:
            parts.append(f"field {self.field}")
        return ": ".join([*parts, self.reason])


def limit_error(
    limit: str, value: int | str, limits: Limits, *, source: str = "", line: int = 0
) -> InputError:
    """The error for an input that goes past ``limits.<limit>``."""
    bound = getattr(limits, limit)
    reason = f"{value} exceeds the limit {limit} = {bound} (see {LIMITS_DOC})"
    return InputError(reason, source=source, line=line, limit=limit)


# Text ----------------------------------------------------------------------------------------


def utf8_text(data: bytes, source: str, *, first_line: int = 1) -> str:
    """``data`` as text; invalid UTF-8 is refused naming its line and column."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _utf8_error(data, error, source, first_line) from None


def _utf8_error(data: bytes, error: UnicodeDecodeError, source: str, first_line: int) -> InputError:
    line = first_line + data.count(b"\n", 0, error.start)
    column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
    byte = data[error.start : error.start + 1].hex()
    return InputError(f"not UTF-8: byte 0x{byte} at column {column}", source=source, line=line)


def numbered_lines(
    lines: Iterable[bytes], source: str, limits: Limits = LIMITS
) -> Iterator[tuple[int, bytes]]:
    """``(number, line)`` from 1, newline removed, for lines read with at most
    ``limits.line_bytes + 1`` bytes each: a longer line, more than ``limits.lines`` lines or
    more than ``limits.stream_bytes`` bytes in all are refused when reached."""
    total = 0
    number = 0
    for number, raw in enumerate(lines, start=1):
        if number > limits.lines:
            raise limit_error("lines", f"more than {limits.lines} lines", limits, source=source)
        total += len(raw)
        if total > limits.stream_bytes:
            raise limit_error("stream_bytes", f"{total} bytes", limits, source=source, line=number)
        text = raw.removesuffix(b"\n").removesuffix(b"\r")
        if len(text) > limits.line_bytes:
            value = f"a line of more than {limits.line_bytes} bytes"
            raise limit_error("line_bytes", value, limits, source=source, line=number)
        yield number, text


# JSON ----------------------------------------------------------------------------------------

_STRING: Final = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_LONG_INTEGER: Final = re.compile(rb"\d{19}")
_AT_PATH: Final = re.compile(r"^(?P<reason>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_AT_BYTE: Final = re.compile(r"\(byte (\d+)\)")
_UNKNOWN_FIELD: Final = re.compile(r"^Object contains unknown field `(?P<name>[^`]*)`$")


def json_depth(data: bytes) -> tuple[int, int]:
    """How deeply arrays and objects nest in JSON ``data`` (brackets inside strings ignored),
    and the byte offset where that depth is first reached."""
    blanked = _STRING.sub(lambda found: b" " * len(found.group()), data)
    depth = deepest = where = 0
    for bracket in _BRACKET.finditer(blanked):
        depth += 1 if bracket.group() in (b"[", b"{") else -1
        if depth > deepest:
            deepest, where = depth, bracket.start()
    return deepest, where


_BRACKET: Final = re.compile(rb"[\[\]{}]")


def _check_depth(data: bytes, source: str, line: int, limits: Limits) -> None:
    # Counting opening brackets is cheap; only a line with many of them is scanned properly.
    if data.count(b"[") + data.count(b"{") <= limits.depth:
        return
    depth, where = json_depth(data)
    if depth > limits.depth:
        line = line or data.count(b"\n", 0, where) + 1
        raise limit_error("depth", f"nesting depth {depth}", limits, source=source, line=line)


def _malformed(error: msgspec.DecodeError, data: bytes, source: str, line: int) -> InputError:
    where = line or _line_of_byte(data, str(error))
    return InputError(f"invalid JSON: {error}", source=source, line=where)


def _line_of_byte(data: bytes, message: str) -> int:
    """The 1-based line of the ``(byte N)`` msgspec names in an error about a whole document."""
    found = _AT_BYTE.search(message)
    return data.count(b"\n", 0, int(found.group(1))) + 1 if found is not None else 0


def _out_of_range(value: object, wide: frozenset[str]) -> tuple[str, int] | None:
    """The first integer outside int64 in decoded JSON data (not at a path in ``wide``), with
    its path."""
    pending: list[tuple[object, str]] = [(value, "")]
    while pending:
        item, where = pending.pop()
        if isinstance(item, bool) or where in wide:
            continue
        if isinstance(item, int) and not INT64_MIN <= item <= INT64_MAX:
            return where, item
        if isinstance(item, dict):
            pending.extend((v, f"{where}.{k}" if where else str(k)) for k, v in item.items())
        elif isinstance(item, list):
            pending.extend((v, f"{where}[{i}]") for i, v in enumerate(item))
    return None


def _check_integers(data: bytes, source: str, line: int, wide: frozenset[str] | None) -> None:
    if wide is None or _LONG_INTEGER.search(data) is None:
        return
    try:
        plain = msgspec.json.decode(data)
    except msgspec.DecodeError as error:
        # A typed decoder may stop at a wrong type before the text stops being JSON.
        raise _malformed(error, data, source, line) from None
    found = _out_of_range(plain, wide)
    if found is not None:
        where, value = found
        reason = f"integer {value} is outside int64 [{INT64_MIN}, {INT64_MAX}]"
        raise InputError(reason, source=source, line=line, field=where)


def validation_error(
    error: msgspec.ValidationError, source: str, line: int, *, prefix: str = ""
) -> InputError:
    """msgspec's ``<reason> - at `$.a.b[0]``` as an ``InputError`` with field ``a.b[0]``; an
    unknown field is named in full (``unknown field "a.b.x"``)."""
    reason, path = split_validation_error(error)
    path = f"{prefix}{path}" if not prefix or not path else f"{prefix}.{path}"
    unknown = _UNKNOWN_FIELD.match(reason)
    if unknown is not None:
        path = f"{path}.{unknown.group('name')}" if path else unknown.group("name")
        reason = f'unknown field "{path}"'
    return InputError(reason, source=source, line=line, field=path)


def split_validation_error(error: msgspec.ValidationError) -> tuple[str, str]:
    """(reason, field path without ``$.``) of a msgspec validation error."""
    match = _AT_PATH.match(str(error))
    assert match is not None, "the pattern matches every text"
    return match.group("reason"), (match.group("path") or "").removeprefix(".")


def decode_json(
    decoder: msgspec.json.Decoder[T],
    data: bytes,
    source: str,
    *,
    line: int = 0,
    limits: Limits = LIMITS,
    wide_integers: frozenset[str] | None = frozenset(),
) -> T:
    """One JSON value through ``decoder``, every failure an :class:`InputError` naming
    ``source``, ``line`` and the field. Integers must fit int64, except at the field paths in
    ``wide_integers`` (a trace's ``seed`` may be a 160-bit commit hash); ``None`` leaves every
    integer's range to the decoder's types (Kubernetes objects: ``Int32``, ``Int64`` fields,
    and quantities, which take any number)."""
    _check_depth(data, source, line, limits)
    if not data.isascii():
        # msgspec checks the strings it decodes, not the inside of a Raw field: check it all.
        utf8_text(data, source, first_line=line or 1)
    try:
        value = decoder.decode(data)
    except msgspec.ValidationError as error:
        try:
            msgspec.json.decode(data)
        except msgspec.DecodeError as malformed:
            # A typed decoder may stop at a wrong type before the text stops being JSON.
            raise _malformed(malformed, data, source, line) from None
        _check_integers(data, source, line, wide_integers)
        raise validation_error(error, source, line) from None
    except msgspec.DecodeError as error:
        raise _malformed(error, data, source, line) from None
    except RecursionError:
        value_text = "nesting deeper than the decoder can follow"
        raise limit_error("depth", value_text, limits, source=source, line=line) from None
    _check_integers(data, source, line, wide_integers)
    return value


# Strictness of record types ------------------------------------------------------------------


_COLLECTIONS: Final = (
    msgspec.inspect.ListType,
    msgspec.inspect.SetType,
    msgspec.inspect.FrozenSetType,
    msgspec.inspect.VarTupleType,
)


def loose_structs(root: Any) -> list[str]:
    """Names of the struct types reachable from ``root`` that accept unknown fields."""
    loose: list[str] = []
    seen: set[object] = set()
    pending: list[msgspec.inspect.Type] = [msgspec.inspect.type_info(root)]
    while pending:
        info = pending.pop()
        if isinstance(info, msgspec.inspect.StructType):
            if info.cls in seen:
                continue
            seen.add(info.cls)
            if not info.forbid_unknown_fields:
                loose.append(info.cls.__qualname__)
            pending.extend(field.type for field in info.fields)
        elif isinstance(info, msgspec.inspect.UnionType):
            pending.extend(info.types)
        elif isinstance(info, msgspec.inspect.TupleType):
            pending.extend(info.item_types)
        elif isinstance(info, _COLLECTIONS):
            pending.append(info.item_type)
        elif isinstance(info, msgspec.inspect.DictType):
            pending.extend((info.key_type, info.value_type))
        elif isinstance(info, msgspec.inspect.Metadata):
            pending.append(info.type)
    return sorted(loose)
