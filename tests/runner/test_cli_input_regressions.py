"""Issue 10's bad inputs to replay, simulate and check history: exit 2 naming the field, the
option or the file, never a traceback."""

import json
from pathlib import Path

import pytest

from runner.cli.main import main
from runner.exit_codes import ExitCode

HISTORY_LINE = (
    '{"kind":"operation","client_id":1,"call_time":1,"return_time":2,'
    '"operation":{"type":"read"},"result":{"type":"value","value":null},"definite":true}\n'
)


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Exit code and standard error of one in-process run (argparse's exit counts too)."""
    try:
        code = main(args)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    return code, capsys.readouterr().err


@pytest.fixture(scope="module")
def trace_lines(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    path = tmp_path_factory.mktemp("trace") / "t.jsonl"
    assert main(["simulate", "raft", "--steps", "40", "--trace", str(path)]) == ExitCode.PASS
    return path.read_text().splitlines()


def with_setup(lines: list[str], tmp_path: Path, **changes: object) -> Path:
    header = json.loads(lines[0])
    header["setup"].update(changes)
    path = tmp_path / "edited.jsonl"
    path.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    return path


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"nodes": 0}, "setup.nodes", "Expected `int` >= 1"),
        ({"nodes": 10}, "setup.nodes", "Expected `int` <= 9"),
        ({"election_timeout_ticks": 0}, "setup.election_timeout_ticks", "Expected `int` >= 1"),
        ({"election_timeout_ticks": 1}, "setup", "election_timeout_ticks must be greater"),
        ({"mutant": "vote_thrice"}, "setup", "unknown mutant 'vote_thrice'"),
        ({"nodes": 8, "spare_nodes": 2}, "setup", "at most 9 node slots"),
        ({"max_inflight_appends": 0}, "setup.max_inflight_appends", "Expected `int` >= 1"),
        ({"liveness_steps": 2**64}, "setup.liveness_steps", "outside int64"),
    ],
)
def test_replay_refuses_a_header_the_simulator_cannot_run(
    trace_lines: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    changes: dict[str, object],
    field: str,
    reason: str,
) -> None:
    path = with_setup(trace_lines, tmp_path, **changes)
    code, err = run(["replay", str(path)], capsys)
    assert code == ExitCode.USAGE
    assert err.startswith(f"kubeoracle: {path}:1: field {field}: ")
    assert reason in err


def test_replay_reads_a_gzipped_trace(
    trace_lines: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import gzip

    path = tmp_path / "t.jsonl.gz"
    path.write_bytes(gzip.compress(("\n".join(trace_lines) + "\n").encode()))
    assert run(["replay", str(path)], capsys)[0] == ExitCode.PASS


def test_simulate_past_the_step_limit_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(["simulate", "raft", "--steps", "1000000"], capsys)
    assert code == ExitCode.USAGE
    assert "field --steps: --steps 1000000 + --liveness-steps 10000 exceeds the limit" in err


def test_simulate_refuses_a_trace_path_that_is_a_directory_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run(["simulate", "raft", "--trace", str(tmp_path)], capsys)
    assert code == ExitCode.USAGE
    assert err == f"kubeoracle: {tmp_path}: cannot write the trace: it is a directory\n"


def test_check_history_html_into_a_directory_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = tmp_path / "h.jsonl"
    history.write_text(HISTORY_LINE)
    args = ["check", "history", str(history), "--model", "register", "--html", str(tmp_path)]
    code, err = run(args, capsys)
    assert code == ExitCode.USAGE
    assert err == f"kubeoracle: {tmp_path}: cannot write the timeline page: it is a directory\n"


@pytest.mark.parametrize("timeout", ["nan", "inf", "-1", "1e9", "soon"])
def test_check_history_timeout_must_be_a_finite_number_of_seconds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], timeout: str
) -> None:
    history = tmp_path / "h.jsonl"
    history.write_text(HISTORY_LINE)
    args = ["check", "history", str(history), "--model", "register", "--timeout", timeout]
    code, err = run(args, capsys)
    assert code == ExitCode.USAGE
    assert "argument --timeout:" in err
