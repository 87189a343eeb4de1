"""Hypothesis strategies that turn a valid input file into a malformed one.

Each strategy starts from a seed file's bytes and applies a few edits of one family:

- bytes: flip, delete, insert, truncate (non-UTF-8 bytes, NUL, stray brackets and quotes);
- lines: delete, duplicate, swap, blank, garbage, keep a prefix;
- JSON (for JSON Lines files): pick a line and a path into it, then rename a key (a typo),
  drop a key, add an unknown key, or replace a value with a hostile one (int64 overflow,
  negatives, huge numbers, deep nesting, wrong types);
- YAML: misspell a key, add an unknown key, insert an alias bomb, an alias cycle, a Python tag,
  a duplicate key, deep nesting, or replace a scalar with a hostile one;
- packing: gzip (whole or truncated), a byte-order mark, CRLF line ends, no final newline.
"""

from __future__ import annotations

import gzip
import json
import re
from typing import Any

from hypothesis import strategies as st

HOSTILE_SCALARS: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    2**31,
    -(2**31) - 1,
    2**63 - 1,
    2**63,
    -(2**63) - 1,
    2**64,
    10**30,
    10**9,
    1e308,
    -0.0,
    0.5,
    "",
    "x" * 300,
    "\u0000",
    "é\u2028",
    "1",
    "-5",
    "none",
    "leader",
]


def nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


def hostile_values() -> st.SearchStrategy[Any]:
    plain = st.sampled_from(HOSTILE_SCALARS)
    numbers = st.integers(min_value=-(2**70), max_value=2**70)
    containers = st.sampled_from([[], {}, [[[]]], {"a": {"b": 1}}, [1, "a", None]])
    deep = st.integers(min_value=90, max_value=400).map(nested)
    return st.one_of(plain, numbers, st.text(max_size=12), containers, deep)


def typo(name: str, draw: st.DrawFn) -> str:
    """A misspelling: a letter dropped, doubled or changed, or a letter appended."""
    if not name:
        return "x"
    position = draw(st.integers(min_value=0, max_value=len(name) - 1))
    kind = draw(st.sampled_from(["drop", "double", "change", "append"]))
    if kind == "drop" and len(name) > 1:
        return name[:position] + name[position + 1 :]
    if kind == "double":
        return name[:position] + name[position] * 2 + name[position + 1 :]
    if kind == "change":
        letter = draw(st.sampled_from("aesz_"))
        changed = name[:position] + letter + name[position + 1 :]
        return changed if changed != name else name + "z"
    return name + "z"


@st.composite
def byte_edits(draw: st.DrawFn, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        position = draw(st.integers(min_value=0, max_value=len(data)))
        kind = draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        if kind == "flip" and position < len(data):
            data[position] = draw(st.sampled_from(b'\xff\xc3\x00\n{}[]":,\\0-9 '))
        elif kind == "delete":
            del data[position : position + draw(st.integers(min_value=1, max_value=40))]
        elif kind == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[position:]
    return bytes(data)


@st.composite
def line_edits(draw: st.DrawFn, seed: bytes) -> bytes:
    lines = seed.split(b"\n")
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        index = draw(st.integers(min_value=0, max_value=max(len(lines) - 1, 0)))
        kind = draw(st.sampled_from(["delete", "duplicate", "swap", "blank", "garbage", "keep"]))
        if kind == "delete" and lines:
            del lines[index]
        elif kind == "duplicate" and lines:
            lines.insert(index, lines[index])
        elif kind == "swap" and len(lines) > 1:
            other = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            lines[index], lines[other] = lines[other], lines[index]
        elif kind == "blank":
            lines.insert(index, draw(st.sampled_from([b"", b"   ", b"\t"])))
        elif kind == "garbage":
            lines.insert(index, draw(st.sampled_from([b"{", b"null", b"[]", b"42", b"\xff\xfe"])))
        else:
            lines = lines[:index]
    return b"\n".join(lines)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside decoded JSON (the root included)."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_paths(item, (*prefix, index)))
    return found


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def _edit_json(draw: st.DrawFn, document: Any) -> Any:
    path = draw(st.sampled_from(_paths(document)))
    if not path:
        return draw(hostile_values())
    parent = _at(document, path[:-1])
    key = path[-1]
    kind = draw(st.sampled_from(["replace", "rename", "drop", "add"]))
    if isinstance(parent, dict):
        if kind == "rename":
            parent[typo(str(key), draw)] = parent.pop(key)
        elif kind == "drop":
            del parent[key]
        elif kind == "add":
            parent[draw(st.sampled_from(["extra", "stat", "nodez", "x"]))] = draw(hostile_values())
        else:
            parent[key] = draw(hostile_values())
    elif kind == "drop":
        del parent[key]
    else:
        parent[key] = draw(hostile_values())
    return document


@st.composite
def json_edits(draw: st.DrawFn, seed: bytes) -> bytes:
    lines = seed.split(b"\n")
    candidates = [index for index, line in enumerate(lines) if line.strip().startswith(b"{")]
    if not candidates:
        return draw(byte_edits(seed))
    for _ in range(draw(st.integers(min_value=1, max_value=2))):
        index = draw(st.sampled_from(candidates))
        document = json.loads(lines[index])
        edited = _edit_json(draw, document)
        lines[index] = json.dumps(edited).encode()
    return b"\n".join(lines)


_YAML_KEY = re.compile(rb"^(\s*(?:- )?)([A-Za-z][\w.-]*):", re.MULTILINE)
YAML_INSERTS = [
    b'lol: &a ["l","l","l","l","l","l","l","l","l"]\nl2: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n'
    b"l3: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nl4: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    b"l5: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nl6: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    b"l7: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nl8: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n",
    b"cycle: &c [*c]\n",
    b"tool: !!python/object/apply:os.system [echo]\n",
    b"kind: Pod\nkind: Node\n",
    b"deep: " + b"[" * 150 + b"]" * 150 + b"\n",
    b"when: 2001-12-14t21:59:43.10-05:00\n",
    b"big: 99999999999999999999999999\n",
    b"---\n",
    b"--- !!binary aGVsbG8=\n",
    b"\t\tbad: indent\n",
]


@st.composite
def yaml_edits(draw: st.DrawFn, seed: bytes) -> bytes:
    data = seed
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        keys = list(_YAML_KEY.finditer(data))
        kind = draw(st.sampled_from(["typo", "insert", "scalar", "unknown"]))
        if kind in ("typo", "unknown", "scalar") and keys:
            found = draw(st.sampled_from(keys))
            name = found.group(2).decode()
            if kind == "typo":
                replacement = typo(name, draw).encode()
                data = data[: found.start(2)] + replacement + data[found.end(2) :]
            elif kind == "unknown":
                extra = found.group(1) + b"unknownField: 1\n"
                line_start = data.rfind(b"\n", 0, found.start()) + 1
                data = data[:line_start] + extra.lstrip(b"\n") + data[line_start:]
            else:
                end = data.find(b"\n", found.end())
                end = len(data) if end < 0 else end
                value = json.dumps(draw(hostile_values())).encode()
                data = data[: found.end()] + b" " + value + data[end:]
        else:
            lines = data.split(b"\n")
            index = draw(st.integers(min_value=0, max_value=len(lines)))
            lines.insert(index, draw(st.sampled_from(YAML_INSERTS)).rstrip(b"\n"))
            data = b"\n".join(lines)
    return data


@st.composite
def packed(draw: st.DrawFn, data: bytes) -> bytes:
    kind = draw(st.sampled_from(["gzip", "cut-gzip", "bom", "crlf", "no-newline", "empty"]))
    if kind == "gzip":
        return gzip.compress(data, mtime=0)
    if kind == "cut-gzip":
        whole = gzip.compress(data, mtime=0)
        return whole[: draw(st.integers(min_value=0, max_value=len(whole) - 1))]
    if kind == "bom":
        return b"\xef\xbb\xbf" + data
    if kind == "crlf":
        return data.replace(b"\n", b"\r\n")
    if kind == "no-newline":
        return data.rstrip(b"\n")
    return draw(st.sampled_from([b"", b"\n\n\n", gzip.compress(b"\n\n", mtime=0)]))


def malformed(seed: bytes, *, structured: str) -> st.SearchStrategy[bytes]:
    """Edits of ``seed``; ``structured`` is ``json`` or ``yaml`` (which edits understand it),
    sometimes packed afterwards (gzip, BOM, CRLF)."""
    edits = json_edits(seed) if structured == "json" else yaml_edits(seed)
    edited = st.one_of(edits, edits, byte_edits(seed), line_edits(seed))
    return st.one_of(edited, edited, edited, edited.flatmap(packed))
