"""``batch``: one command over many files on the explore engines; each file's result is what
the command alone reports, in the order given, whatever the engine; the worst exit code wins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runner.cli.batch_files import batch_exit_code, command_arguments
from runner.cli.main import main
from runner.exit_codes import ExitCode

VALIDATE = Path(__file__).resolve().parents[1] / "validate"
BROKEN = VALIDATE / "traces" / "double_vote.jsonl"
PASSING = VALIDATE / "corpus" / "etcd-raft" / "example.ndjson.gz"


def run(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, dict[str, Any]]:
    code = main(list(arguments))
    return code, json.loads(capsys.readouterr().out)


def test_each_file_gets_what_the_command_alone_reports(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = str(tmp_path / "missing.jsonl")
    files = [str(BROKEN), str(PASSING), missing]
    code, report = run(capsys, "batch", "validate raft", *files, "--workers", "1", "-o", "json")
    # Two votes in one term break Election Safety's one vote per term; the etcd-raft example
    # is a run of real etcd raft; a missing file is refused (exit 2).
    assert [result["exit_code"] for result in report["results"]] == [1, 0, 2]
    assert [result["file"] for result in report["results"]] == files
    assert (code, report["verdict"]) == (ExitCode.VIOLATION, "violation")
    assert report["counts"] == {"pass": 1, "violation": 1, "usage": 1}
    assert "missing.jsonl" in report["results"][2]["error"]
    for path, result in zip(files[:2], report["results"], strict=False):
        alone_code, alone = run(capsys, "validate", "raft", path, "-o", "json")
        assert (alone_code, alone) == (result["exit_code"], result["report"])


@pytest.mark.slow
def test_the_results_do_not_depend_on_the_engine(capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(BROKEN), str(PASSING), str(BROKEN)]
    results = []
    for engine in (["--workers", "1"], ["--workers", "2"], ["--engine", "dask", "--workers", "2"]):
        _, report = run(capsys, "batch", "validate raft {}", *files, *engine, "-o", "json")
        results.append(report["results"])
    assert results[0] == results[1] == results[2]


def test_the_command_template() -> None:
    assert command_arguments(("validate", "raft"), "a") == ("validate", "raft", "a", "-o", "json")
    assert command_arguments(("schedule", "--cluster", "{}", "--pod", "p"), "c") == (
        "schedule", "--cluster", "c", "--pod", "p", "-o", "json",
    )  # fmt: skip
    # The engine runs files side by side: a history check searches in one process.
    assert command_arguments(("check", "history", "{}"), "h") == (
        "check", "history", "--workers", "1", "h", "-o", "json",
    )  # fmt: skip
    assert command_arguments(("check", "history", "--workers", "2"), "h")[2:4] == ("--workers", "2")


def test_the_worst_exit_code_wins() -> None:
    assert batch_exit_code([0, 3, 2, 1, 0]) == ExitCode.VIOLATION
    assert batch_exit_code([0, 3, 2]) == ExitCode.USAGE
    assert batch_exit_code([0, 3]) == ExitCode.INCONCLUSIVE
    assert batch_exit_code([0, 0]) == ExitCode.PASS
    assert batch_exit_code([0, 7]) == ExitCode.USAGE


@pytest.mark.parametrize(
    "command",
    ["serve etcd", "", "validate raft -o text", "check history --bogus", "validate 'raft"],
)
def test_a_bad_command_is_refused_once_with_exit_2(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["batch", command, str(BROKEN), "--workers", "1"]) == ExitCode.USAGE
    assert "COMMAND" in capsys.readouterr().err
