"""Writing and reading trace files of any world (JSON Lines, ``docs/trace-format.md``).

The writer keeps encoded lines in memory so that a run can decide at its end whether to write
them. The reader checks the whole file before anything runs, through the strict input
discipline (``models.strict_input``: streamed, gzip or not, bounded lines, int64 integers except
the seed; ``docs/limits.md``): the first line must be a header of this format and version naming
a known world; then every line must be one record, with the world's setup and action types,
step indices must count up from 1, and the last line must be the result. Anything else is an
:class:`~runner.errors.InputError` naming the file, the line, the field and the reason (exit
code 2).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, final

import msgspec

from models.strict_input import LIMITS, InputError, decode_json, numbered_lines
from models.trace import (
    TRACE_FORMAT,
    TRACE_VERSION,
    TraceHeader,
    TracePhase,
    TraceResult,
    TraceSnapshot,
    TraceStep,
)
from runner.input_files import read_lines
from runner.sim.world import WorldKind
from runner.version import version_text

TRACE_LINES_MAX: Final = LIMITS.lines
"""A trace longer than this is refused (``docs/limits.md``)."""

Worlds = Mapping[str, WorldKind[Any, Any, Any, Any]]
"""The worlds a reader knows, by name."""

_ENCODER: Final = msgspec.json.Encoder(order="sorted")
_WIDE_INTEGERS: Final = frozenset({"seed"})
"""A seed may be a git commit hash read as a 160-bit number; every other integer is int64."""


class _HeaderProbe(msgspec.Struct, frozen=True, kw_only=True):
    """What the first line must say before the world's types can decode it."""

    record: str = ""
    format: Any = None
    version: Any = None
    world: Any = None


_PROBE: Final = msgspec.json.Decoder(_HeaderProbe)


def encode_record(record: object) -> bytes:
    """One trace line (without the newline): deterministic JSON of the record."""
    return _ENCODER.encode(record)


@final
class TraceWriter:
    """Collects a run's trace lines; :meth:`write_to` puts them in a file."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def add(self, record: object) -> None:
        """Append one record."""
        assert len(self.lines) < TRACE_LINES_MAX, "trace too long"
        self.lines.append(encode_record(record))

    def content(self) -> bytes:
        """The whole trace file."""
        return b"".join(line + b"\n" for line in self.lines)

    def write_to(self, path: Path) -> None:
        """Write the trace file (replacing any file at ``path``)."""
        path.write_bytes(self.content())


@final
@dataclass(frozen=True, slots=True)
class ParsedTrace:
    """A trace that passed the structural checks; ``records`` carries each record's line."""

    source: str
    kind: WorldKind[Any, Any, Any, Any]
    header: TraceHeader[Any]
    records: tuple[tuple[int, TraceStep[Any] | TraceSnapshot | TracePhase], ...]
    result: TraceResult
    result_line: int

    @property
    def steps(self) -> tuple[tuple[int, TraceStep[Any]], ...]:
        """The step records with their line numbers."""
        return tuple((line, r) for line, r in self.records if isinstance(r, TraceStep))


def record_decoder(kind: WorldKind[Any, Any, Any, Any]) -> msgspec.json.Decoder[Any]:
    """A decoder of any line of a trace of ``kind``."""
    record = (
        TraceHeader[kind.setup_type]  # type: ignore[name-defined]
        | TraceStep[kind.action_type]  # type: ignore[name-defined]
        | TraceSnapshot
        | TracePhase
        | TraceResult
    )
    return msgspec.json.Decoder(record)


def _decode_line(decoder: msgspec.json.Decoder[Any], text: bytes, source: str, line: int) -> Any:
    try:
        return decode_json(decoder, text, source, line=line, wide_integers=_WIDE_INTEGERS)
    except InputError as error:
        # A tag msgspec does not know is an unknown action or record kind: say so.
        unknown = re.match(r"Invalid value '(?P<value>.*)'$", error.reason)
        kind = error.field.split(".")[-1]
        if unknown is None or kind not in {"action", "record"}:
            raise
        reason = f"unknown {kind} {unknown.group('value')!r}"
        raise InputError(reason, source=source, line=line, field=error.field) from None


def _probe_header(text: bytes, source: str, worlds: Worlds) -> WorldKind[Any, Any, Any, Any]:
    """Check the first line's format, version and world before decoding it with the world's
    types, so an old or foreign trace gets a clear reason rather than a field error."""
    try:
        probe = decode_json(_PROBE, text, source, line=1, wide_integers=_WIDE_INTEGERS)
    except InputError as error:
        if "Expected `object`" not in error.reason:
            raise
        probe = _HeaderProbe(record="non-object")
    if probe.record != "header":
        reason = f"missing header: the first line is a {probe.record or 'non-record'} record"
        raise InputError(reason, source=source, line=1, field="record")
    if probe.format != TRACE_FORMAT:
        reason = f"not a kubeoracle trace: format {probe.format!r}, expected {TRACE_FORMAT!r}"
        raise InputError(reason, source=source, line=1, field="format")
    if probe.version != TRACE_VERSION:
        older = isinstance(probe.version, int) and probe.version < TRACE_VERSION
        reason = (
            f"trace format version {probe.version} was written by an older kubeoracle; this "
            f"build reads version {TRACE_VERSION} only: record the run again with this build"
            if older
            else f"unsupported trace version {probe.version!r} (this build reads {TRACE_VERSION})"
        )
        raise InputError(reason, source=source, line=1, field="version")
    kind = worlds.get(probe.world) if isinstance(probe.world, str) else None
    if kind is None:
        known = ", ".join(sorted(worlds))
        reason = f"unknown world {probe.world!r} (this build simulates: {known})"
        raise InputError(reason, source=source, line=1, field="world")
    return kind


def parse_trace(content: bytes, source: str, worlds: Worlds) -> ParsedTrace:
    """Check and decode a whole trace file's content; raise :class:`InputError` on the first
    problem, naming ``source`` and the line."""
    pieces = content.split(b"\n")
    if pieces and pieces[-1] == b"":
        pieces.pop()
    numbered = numbered_lines((piece + b"\n" for piece in pieces), source)
    return parse_trace_lines(numbered, source, worlds)


def parse_trace_lines(
    lines: Iterable[tuple[int, bytes]], source: str, worlds: Worlds
) -> ParsedTrace:
    """Check and decode a trace from its numbered lines (newlines removed), as
    :func:`runner.input_files.read_lines` streams them."""
    numbered = iter(lines)
    first = next(numbered, None)
    if first is None:
        raise InputError("empty trace: no header line", source=source, line=1)
    kind = _probe_header(first[1], source, worlds)
    decoder = record_decoder(kind)
    header = _decode_line(decoder, first[1], source, 1)
    assert isinstance(header, TraceHeader)
    records: list[tuple[int, TraceStep[Any] | TraceSnapshot | TracePhase]] = []
    steps = last = 0
    phase_line = 0
    for number, text in numbered:
        last = number
        if not text.strip():
            raise InputError("empty line", source=source, line=number)
        record = _decode_line(decoder, text, source, number)
        if isinstance(record, TraceHeader):
            raise InputError("a second header", source=source, line=number, field="record")
        if isinstance(record, TracePhase):
            if phase_line:
                reason = f"a second liveness phase record (the first is on line {phase_line})"
                raise InputError(reason, source=source, line=number, field="record")
            phase_line = number
        if isinstance(record, TraceResult):
            if next(numbered, None) is not None:
                reason = "the result line is followed by more lines"
                raise InputError(reason, source=source, line=number + 1)
            if record.steps != steps:
                reason = f"the result counts {record.steps} steps but the trace holds {steps}"
                raise InputError(reason, source=source, line=number, field="steps")
            return ParsedTrace(source, kind, header, tuple(records), record, number)
        expected = steps + 1 if isinstance(record, TraceStep) else steps
        if record.index != expected:
            kind_name = type(record).__name__
            reason = f"{kind_name} index {record.index}, expected {expected} (after step {steps})"
            raise InputError(reason, source=source, line=number, field="index")
        steps = expected
        records.append((number, record))
    last = max(last, 1)
    raise InputError(f"truncated: no result line after line {last}", source=source, line=last)


def read_trace(path: Path, worlds: Worlds) -> ParsedTrace:
    """Read and check a trace file (streamed, gzip or not; ``docs/limits.md``)."""
    return parse_trace_lines(read_lines(path), str(path), worlds)


def code_version() -> str:
    """The package version and, inside a git checkout, the commit (``0.1.0+g1a2b3c4``)."""
    version = version_text()
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return version
    commit = completed.stdout.strip()
    return f"{version}+g{commit}" if completed.returncode == 0 and commit else version
