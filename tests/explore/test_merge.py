"""``explore --merge``: reports of consecutive seed ranges merge into exactly the report of one
exploration of their union (shrunk groups included); mismatched reports are refused (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runner.cli.main import main

COMMON = ["--mutant", "none,vote_twice,skip_up_to_date_check", "--steps", "300", "--workers", "1"]
SHRINK = ["--shrink-budget", "40"]


def explore(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, dict[str, Any]]:
    code = main(["explore", "raft", *arguments, "-o", "json"])
    return code, json.loads(capsys.readouterr().out)


def written(tmp_path: Path, name: str, report: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(report))
    return str(path)


def test_merged_slices_equal_one_exploration(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, whole = explore(capsys, "--seeds", "1..5", *COMMON, *SHRINK)
    paths = []
    for seeds in ("4..5", "1..1", "2..3"):  # in any order
        _, part = explore(capsys, "--seeds", seeds, *COMMON, *SHRINK)
        paths.append(written(tmp_path, f"{seeds}.json", part))
    merged_code, merged = explore(capsys, "--merge", *paths)
    assert merged_code == code
    assert merged["run"]["merged"] == ["1..1", "2..3", "4..5"]
    assert {key: value for key, value in merged.items() if key != "run"} == {
        key: value for key, value in whole.items() if key != "run"
    }


@pytest.mark.parametrize(
    ("second_seeds", "second_steps", "reason"),
    [
        ("4..5", "300", "leaves a gap"),
        ("2..4", "300", "overlaps"),
        ("3..3", "200", "options"),
    ],
)
def test_reports_that_do_not_follow_one_another_are_refused(
    second_seeds: str,
    second_steps: str,
    reason: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    options = ["--mutant", "none", "--workers", "1", "--shrink-budget", "0"]
    _, first = explore(capsys, "--seeds", "1..2", "--steps", "300", *options)
    _, second = explore(capsys, "--seeds", second_seeds, "--steps", second_steps, *options)
    paths = [written(tmp_path, "a.json", first), written(tmp_path, "b.json", second)]
    assert main(["explore", "raft", "--merge", *paths]) == 2
    error = capsys.readouterr().err
    assert reason in error
    assert "b.json" in error


def test_a_file_that_is_not_a_report_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = written(tmp_path, "bad.json", {"world": "raft", "seeds": "1..2"})
    assert main(["explore", "raft", "--merge", path]) == 2
    assert "bad.json" in capsys.readouterr().err
