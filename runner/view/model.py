"""What the ``kubeoracle view`` page shows, as data: lanes, rows, arrows, spans and marks.

A page is a timeline read top to bottom: one **row** per step of a trace (or per call and
return of a history), one **lane** (column) per component, each row placed in the lane of the
component that acted. **Arrows** are messages, from the row and lane that sent them to the
row and lane that received (or lost) them. **Spans** are bars over several rows of one lane
(a history's operations, from call to return). Each row carries its details: the action, and
the state diff of the step (path, value before, value after). **Marks** say where a property
broke. :func:`json_diff` computes the fine-grained diff of two JSON values.

The page (``runner.view.page``) embeds :class:`ViewData` as JSON; nothing here does I/O.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

VALUE_CHARS_MAX: Final = 400
"""A value in a diff is cut to this many characters of JSON (with ``…`` after)."""
DIFF_ENTRIES_MAX: Final = 60
"""A row lists at most this many changed paths (then says how many more)."""
ABSENT: Final = "(absent)"
"""What a diff shows for a path that does not exist on one side."""


class Row(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """One step: its number, its lane (index into the lanes), a one-line label, the details
    (action JSON), the diff as ``[path, before, after]`` triples, and a style class
    (``""``, ``"violation"``, ``"phase"``, ``"fault"``)."""

    n: int
    lane: int
    label: str
    detail: str
    diff: tuple[tuple[str, str, str], ...]
    style: str = ""


class Arrow(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """A message: sent at row ``start`` in lane ``source``, received (or lost, ``lost``) at row
    ``end`` in lane ``target`` (row positions, not step numbers)."""

    start: int
    end: int
    source: int
    target: int
    label: str
    lost: bool = False


class Span(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """A bar in lane ``lane`` from row ``start`` to row ``end`` (a history operation)."""

    lane: int
    start: int
    end: int
    label: str
    style: str = ""


class Mark(msgspec.Struct, frozen=True, kw_only=True):
    """A broken property: at row position ``row``, involving ``lanes``."""

    row: int
    property: str
    message: str
    lanes: tuple[int, ...] = ()


class ViewData(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the page shows."""

    title: str
    kind: str
    """``trace`` or ``history``."""
    summary: tuple[str, ...]
    """Lines shown above the timeline (world, seed, result)."""
    lanes: tuple[str, ...]
    rows: tuple[Row, ...]
    arrows: tuple[Arrow, ...] = ()
    spans: tuple[Span, ...] = ()
    marks: tuple[Mark, ...] = ()
    legend: tuple[tuple[str, str], ...] = ()
    """``(style class, meaning)`` pairs for the legend."""


def show(value: Any) -> str:
    """Compact JSON of ``value``, cut to :data:`VALUE_CHARS_MAX` characters."""
    if isinstance(value, str) and value == ABSENT:
        return value
    text = msgspec.json.encode(value).decode()
    return text if len(text) <= VALUE_CHARS_MAX else text[: VALUE_CHARS_MAX - 1] + "…"


def json_diff(path: str, before: Any, after: Any, out: list[tuple[str, str, str]]) -> None:
    """Append to ``out`` the leaves that differ between two JSON values under ``path``:
    objects are compared key by key, arrays of equal length item by item; anything else
    that differs is one entry with both values."""
    if len(out) > DIFF_ENTRIES_MAX:
        return
    if before == after and type(before) is type(after):
        return
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after), key=str):
            json_diff(
                f"{path}.{key}" if path else str(key),
                before.get(key, ABSENT),
                after.get(key, ABSENT),
                out,
            )
        return
    both_lists = isinstance(before, list) and isinstance(after, list)
    if both_lists and len(before) == len(after) and before:
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            json_diff(f"{path}[{index}]", old, new, out)
        return
    out.append((path, show(before), show(after)))


def cap_diff(entries: list[tuple[str, str, str]]) -> tuple[tuple[str, str, str], ...]:
    """The entries a row shows: at most :data:`DIFF_ENTRIES_MAX`, then a count of the rest."""
    if len(entries) <= DIFF_ENTRIES_MAX:
        return tuple(entries)
    more = f"{len(entries) - DIFF_ENTRIES_MAX}+ more changes"
    return (*entries[:DIFF_ENTRIES_MAX], ("…", more, ""))
