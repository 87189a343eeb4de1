"""Opening user files: whole or streamed, gzip by its magic bytes, every failure exit 2."""

import gzip
from pathlib import Path

import pytest

from models.strict_input import InputError, Limits
from runner.input_files import check_output_path, read_bytes, read_lines, read_text, write_output


def refused(action: object) -> InputError:
    assert callable(action)
    with pytest.raises(InputError) as caught:
        action()
    return caught.value


def test_gzip_is_read_by_its_magic_bytes_whatever_the_name(tmp_path: Path) -> None:
    packed = tmp_path / "trace.jsonl"
    packed.write_bytes(gzip.compress(b"one\ntwo\n"))
    assert read_bytes(packed) == b"one\ntwo\n"
    assert list(read_lines(packed)) == [(1, b"one"), (2, b"two")]


def test_truncated_gzip_names_the_line_after_the_last_good_one(tmp_path: Path) -> None:
    whole = gzip.compress(b"".join(b"line %d\n" % n for n in range(10_000)))
    broken = tmp_path / "cut.gz"
    broken.write_bytes(whole[: len(whole) // 2])
    error = refused(lambda: list(read_lines(broken)))
    assert error.reason.startswith("corrupt gzip data after line")
    assert error.line > 1
    assert refused(lambda: read_bytes(broken)).reason.startswith("corrupt gzip data")


def test_a_directory_and_a_missing_file_are_named(tmp_path: Path) -> None:
    assert refused(lambda: read_bytes(tmp_path)).reason == (
        "cannot read: it is a directory, not a file"
    )
    missing = refused(lambda: list(read_lines(tmp_path / "nope")))
    assert missing.source == str(tmp_path / "nope")
    assert "No such file" in missing.reason


def test_file_and_line_limits_are_named(tmp_path: Path) -> None:
    path = tmp_path / "big"
    path.write_bytes(b"12345\n" * 4)
    error = refused(lambda: read_bytes(path, Limits(file_bytes=23)))
    assert error.limit == "file_bytes"
    assert read_bytes(path, Limits(file_bytes=24)) == b"12345\n" * 4
    long_line = tmp_path / "long"
    long_line.write_bytes(b"ok\n" + b"x" * 100 + b"\n")
    error = refused(lambda: list(read_lines(long_line, Limits(line_bytes=10))))
    assert (error.line, error.limit) == (2, "line_bytes")


def test_non_utf8_text_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_bytes(b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: \xe9t\xe9\n")
    error = refused(lambda: read_text(path))
    assert error.describe() == f"{path}:4: not UTF-8: byte 0xe9 at column 9"


def test_outputs_that_cannot_be_files_are_usage_errors(tmp_path: Path) -> None:
    assert "is a directory" in refused(lambda: check_output_path(tmp_path)).reason
    assert "no folder" in refused(lambda: write_output(tmp_path / "a" / "b.html", "x")).reason
    write_output(tmp_path / "ok.html", "page")
    assert (tmp_path / "ok.html").read_text() == "page"


def test_a_name_too_long_for_the_file_system_is_a_usage_error(tmp_path: Path) -> None:
    long_name = tmp_path / ("a" * 300)
    assert "too long" in refused(lambda: read_bytes(long_name)).reason
    assert "too long" in refused(lambda: check_output_path(long_name)).reason
