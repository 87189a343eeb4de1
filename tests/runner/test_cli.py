"""The CLI skeleton: help, version and exit codes, run as a user runs them."""

import subprocess
import sys

from runner.cli.main import main
from runner.errors import InputError
from runner.exit_codes import ExitCode


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner", *args], capture_output=True, text=True, check=False
    )


def test_help_lists_exit_codes() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert "usage: kubeoracle" in result.stdout
    assert "3  inconclusive" in result.stdout


def test_version_names_the_distribution() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("kubeoracle ")


def test_no_verb_is_a_usage_error() -> None:
    assert main([]) == ExitCode.USAGE


def test_unknown_verb_is_a_usage_error() -> None:
    result = run("no-such-verb")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_exit_codes_match_design() -> None:
    assert [int(code) for code in ExitCode] == [0, 1, 2, 3]


def test_input_error_names_file_line_and_field() -> None:
    error = InputError("expected an integer", source="t.jsonl", line=7, field="step")
    assert error.describe() == "t.jsonl:7: field step: expected an integer"
