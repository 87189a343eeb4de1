"""Writing and reading trace files of any world (JSON Lines, ``docs/trace-format.md``).

The writer keeps encoded lines in memory so that a run can decide at its end whether to write
them (always with ``--trace``; on a violation otherwise). The reader checks the whole file
before anything runs: the first line must be a header of this format and version naming a
known world; then every line must be one record, with the world's setup and action types,
step indices must count up from 1, and the last line must be the result. Anything else is an
:class:`~runner.errors.InputError` naming the file, the line, the field and the reason (exit
code 2).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, final

import msgspec

from models.trace import (
    TRACE_FORMAT,
    TRACE_VERSION,
    TraceHeader,
    TracePhase,
    TraceResult,
    TraceSnapshot,
    TraceStep,
)
from runner.errors import InputError
from runner.sim.world import WorldKind
from runner.version import version_text

TRACE_LINES_MAX: Final = 10_000_000
"""A trace longer than this is refused rather than read into memory."""
HEADER_BYTES_MAX: Final = 1_000_000
"""A header line longer than this is refused before it is decoded."""

Worlds = Mapping[str, WorldKind[Any, Any, Any, Any]]
"""The worlds a reader knows, by name."""

_ENCODER: Final = msgspec.json.Encoder(order="sorted")
_ERROR_PATH = re.compile(r"^(?P<reason>.*?)(?: - at `\$\.?(?P<field>[^`]*)`)?$", re.DOTALL)


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


def _decode_error(error: msgspec.ValidationError, source: str, line: int) -> InputError:
    match = _ERROR_PATH.match(str(error))
    assert match is not None
    field = match.group("field") or ""
    reason = match.group("reason")
    unknown = re.match(r"Invalid value '(?P<value>.*)'$", reason)
    if unknown is not None and field.split(".")[-1] in {"action", "record"}:
        reason = f"unknown {field.split('.')[-1]} {unknown.group('value')!r}"
    return InputError(reason, source=source, line=line, field=field)


def _decode_line(decoder: msgspec.json.Decoder[Any], text: bytes, source: str, line: int) -> Any:
    try:
        return decoder.decode(text)
    except msgspec.ValidationError as error:
        try:
            msgspec.json.decode(text)
        except msgspec.DecodeError as malformed:
            raise InputError(f"invalid JSON: {malformed}", source=source, line=line) from None
        raise _decode_error(error, source, line) from None
    except msgspec.DecodeError as error:
        raise InputError(f"invalid JSON: {error}", source=source, line=line) from None


def _probe_header(text: bytes, source: str, worlds: Worlds) -> WorldKind[Any, Any, Any, Any]:
    """Check the first line's format, version and world before decoding it with the world's
    types, so an old or foreign trace gets a clear reason rather than a field error."""
    if len(text) > HEADER_BYTES_MAX:
        raise InputError(f"header line longer than {HEADER_BYTES_MAX} bytes", source=source, line=1)
    try:
        probe = msgspec.json.decode(text)
    except msgspec.DecodeError as error:
        raise InputError(f"invalid JSON: {error}", source=source, line=1) from None
    if not isinstance(probe, dict) or probe.get("record") != "header":
        kind = probe.get("record") if isinstance(probe, dict) else type(probe).__name__
        reason = f"missing header: the first line is a {kind} record"
        raise InputError(reason, source=source, line=1, field="record")
    if probe.get("format") != TRACE_FORMAT:
        reason = (
            f"not a kubeoracle trace: format {probe.get('format')!r}, expected {TRACE_FORMAT!r}"
        )
        raise InputError(reason, source=source, line=1, field="format")
    version = probe.get("version")
    if version != TRACE_VERSION:
        older = isinstance(version, int) and version < TRACE_VERSION
        reason = (
            f"trace format version {version} was written by an older kubeoracle; this build "
            f"reads version {TRACE_VERSION} only: record the run again with this build"
            if older
            else f"unsupported trace version {version!r} (this build reads {TRACE_VERSION})"
        )
        raise InputError(reason, source=source, line=1, field="version")
    name = probe.get("world")
    kind = worlds.get(name) if isinstance(name, str) else None
    if kind is None:
        known = ", ".join(sorted(worlds))
        reason = f"unknown world {name!r} (this build simulates: {known})"
        raise InputError(reason, source=source, line=1, field="world")
    return kind


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


def parse_trace(content: bytes, source: str, worlds: Worlds) -> ParsedTrace:
    """Check and decode a whole trace file's content; raise :class:`InputError` on the first
    problem, naming ``source`` and the line."""
    lines = content.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if not lines:
        raise InputError("empty trace: no header line", source=source, line=1)
    if len(lines) > TRACE_LINES_MAX:
        raise InputError(f"trace longer than {TRACE_LINES_MAX} lines", source=source)
    kind = _probe_header(lines[0], source, worlds)
    decoder = record_decoder(kind)
    header = _decode_line(decoder, lines[0], source, 1)
    assert isinstance(header, TraceHeader)
    records: list[tuple[int, TraceStep[Any] | TraceSnapshot | TracePhase]] = []
    steps = 0
    for number, text in enumerate(lines[1:], start=2):
        if not text.strip():
            raise InputError("empty line", source=source, line=number)
        record = _decode_line(decoder, text, source, number)
        if isinstance(record, TraceHeader):
            raise InputError("a second header", source=source, line=number, field="record")
        if isinstance(record, TraceResult):
            if number != len(lines):
                reason = f"the result line is followed by {len(lines) - number} more lines"
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
    reason = f"truncated: no result line after line {len(lines)}"
    raise InputError(reason, source=source, line=len(lines))


def read_trace(path: Path, worlds: Worlds) -> ParsedTrace:
    """Read and check a trace file."""
    try:
        content = path.read_bytes()
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror}", source=str(path)) from None
    return parse_trace(content, str(path), worlds)


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
