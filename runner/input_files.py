"""Opening the files users pass: whole or line by line, gzip or not, within ``Limits``.

The I/O half of the input discipline (the pure half, decoding and limits, is
:mod:`models.strict_input`; ``docs/limits.md`` lists the limits). Every failure is an
:class:`~models.strict_input.InputError` naming the file: a missing file, a directory, no
permission, a truncated or corrupt gzip stream, a file or line over its limit, invalid UTF-8.
A file is read as gzip when it starts with gzip's magic bytes, whatever its name.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Final, cast

from models.strict_input import LIMITS, InputError, Limits, limit_error, numbered_lines, utf8_text

GZIP_MAGIC: Final = b"\x1f\x8b"
_CORRUPT_GZIP: Final = (EOFError, gzip.BadGzipFile, zlib.error)


def _cannot_read(path: Path, error: OSError) -> InputError:
    if isinstance(error, IsADirectoryError):
        return InputError("cannot read: it is a directory, not a file", source=str(path))
    return InputError(f"cannot read: {error.strerror or error}", source=str(path))


@contextmanager
def _opened(path: Path) -> Iterator[IO[bytes]]:
    """The file's bytes, decompressed when it is gzip."""
    try:
        raw = path.open("rb")
    except OSError as error:
        raise _cannot_read(path, error) from None
    with raw:
        try:
            compressed = raw.read(2) == GZIP_MAGIC
            raw.seek(0)
        except OSError as error:
            raise _cannot_read(path, error) from None
        if not compressed:
            yield raw
            return
        with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
            yield cast(IO[bytes], unzipped)


def read_bytes(path: Path, limits: Limits = LIMITS) -> bytes:
    """The whole content of a file of at most ``limits.file_bytes`` bytes (after gzip)."""
    source = str(path)
    with _opened(path) as stream:
        try:
            data = stream.read(limits.file_bytes + 1)
        except OSError as error:
            raise _cannot_read(path, error) from None
        except _CORRUPT_GZIP as error:
            raise InputError(f"corrupt gzip data: {error}", source=source) from None
    if len(data) > limits.file_bytes:
        value = f"a file of more than {limits.file_bytes} bytes"
        raise limit_error("file_bytes", value, limits, source=source)
    return data


def read_text(path: Path, limits: Limits = LIMITS) -> str:
    """:func:`read_bytes` as UTF-8 text (invalid UTF-8 refused with its line and column)."""
    return utf8_text(read_bytes(path, limits), str(path))


def read_lines(path: Path, limits: Limits = LIMITS) -> Iterator[tuple[int, bytes]]:
    """``(line number, line)`` of a file, streamed: memory holds one line at a time.

    Lines keep their bytes (no UTF-8 check: :func:`models.strict_input.decode_json` checks the
    lines it decodes). A line over ``limits.line_bytes``, more than ``limits.lines`` lines or
    ``limits.stream_bytes`` bytes, and corrupt gzip data are refused naming the line.
    """
    source = str(path)
    with _opened(path) as stream:
        number = 0
        try:
            for number, line in numbered_lines(_raw_lines(stream, limits), source, limits):
                yield number, line
        except OSError as error:
            raise _cannot_read(path, error) from None
        except _CORRUPT_GZIP as error:
            reason = f"corrupt gzip data after line {number}: {error}"
            raise InputError(reason, source=source, line=number + 1) from None


def _raw_lines(stream: IO[bytes], limits: Limits) -> Iterator[bytes]:
    while True:
        line = stream.readline(limits.line_bytes + 2)
        if not line:
            return
        yield line


def check_output_path(path: Path, what: str = "output") -> None:
    """Refuse (exit 2) an output path that cannot be a file: a directory, a missing folder, a
    name the file system refuses."""
    try:
        if path.is_dir():
            raise InputError(f"cannot write the {what}: it is a directory", source=str(path))
        if not path.parent.is_dir():
            reason = f"cannot write the {what}: no folder {path.parent}"
            raise InputError(reason, source=str(path))
    except OSError as error:
        reason = f"cannot write the {what}: {error.strerror or error}"
        raise InputError(reason, source=str(path)) from None


def write_output(path: Path, content: str | bytes, what: str = "output") -> None:
    """Write an output file the user named; failures are usage errors naming it."""
    check_output_path(path, what)
    data = content.encode() if isinstance(content, str) else content
    try:
        path.write_bytes(data)
    except OSError as error:
        reason = f"cannot write the {what}: {error.strerror or error}"
        raise InputError(reason, source=str(path)) from None
