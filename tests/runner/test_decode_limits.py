"""``decode manifest`` on hostile input (issue 10): refused with exit 2 and the limit named."""

from pathlib import Path

import pytest

from runner.cli.main import main
from runner.exit_codes import ExitCode

POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n"


def decode(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["decode", "manifest", str(path)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def billion_laughs() -> str:
    """The classic alias bomb: nine levels of nine aliases, 10^9 nodes once expanded."""
    levels = ['  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"  {name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\ndata:\n" + "\n".join(levels)


def test_a_yaml_alias_bomb_is_refused_before_it_is_expanded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(billion_laughs() + "\n")
    assert len(bomb.read_bytes()) < 700
    code, out, err = decode(bomb, capsys)
    assert (code, out) == (ExitCode.USAGE, "")
    assert err.startswith(f"kubeoracle: {bomb}:1: document 1: ")
    assert "exceeds the limit yaml_nodes = 5000000" in err


def test_an_alias_cycle_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cycle = tmp_path / "cycle.yaml"
    cycle.write_text(POD + "  labels: &l\n    a: *l\n")
    code, _, err = decode(cycle, capsys)
    assert code == ExitCode.USAGE
    assert "would be infinite" in err


def test_deep_json_exits_2_naming_the_depth_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text(
        '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":'
        + "[" * 10_000
        + "]" * 10_000
        + "}}"
    )
    code, _, err = decode(deep, capsys)
    assert code == ExitCode.USAGE
    assert f"{deep}:1: document 1: nesting depth 10002 exceeds the limit depth = 100" in err


def test_deep_yaml_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deep = tmp_path / "deep.yaml"
    nested = "".join(f"{'  ' * level}l{level}:\n" for level in range(150))
    deep.write_text(POD + "spec:\n" + "\n".join("  " + line for line in nested.splitlines()))
    code, _, err = decode(deep, capsys)
    assert code == ExitCode.USAGE
    assert "exceeds the limit depth = 100" in err


def test_more_documents_than_the_limit_are_refused_not_dropped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    many = tmp_path / "many.yaml"
    many.write_text("---\n" * 100_005)
    code, out, err = decode(many, capsys)
    assert (code, out) == (ExitCode.USAGE, "")
    assert "document 100001: more than 100000 documents exceeds the limit documents" in err


def test_the_limit_itself_is_allowed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    many = tmp_path / "many.yaml"
    many.write_text("---\n" * 99_999 + POD)
    code, out, _ = decode(many, capsys)
    assert code == ExitCode.PASS
    assert out.splitlines()[-1] == "1 objects decoded from 1 file(s)"


def test_a_directory_and_non_utf8_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = decode(tmp_path, capsys)
    assert code == ExitCode.USAGE
    assert "it is a directory" in err
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes(POD.encode() + b"  labels: {a: caf\xe9}\n")
    code, _, err = decode(latin, capsys)
    assert code == ExitCode.USAGE
    assert f"{latin}:5: not UTF-8: byte 0xe9 at column 18" in err
