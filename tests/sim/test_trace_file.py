"""Trace files: the reader accepts a well-formed trace and refuses each kind of damage with
the file, the line, the field and the reason (exit code 2 from ``kubeoracle replay``)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from models.environment import Tick
from models.trace import TracePhase, TraceResult, TraceStep
from runner.cli.main import main
from runner.cli.worlds import WORLDS
from runner.errors import InputError
from runner.exit_codes import ExitCode
from runner.raft.simulator import SimulationOptions, make_header
from runner.sim.trace import encode_record, parse_trace, read_trace
from runner.sim.trace_schema import schema_text

ROOT = Path(__file__).resolve().parents[2]


def well_formed_lines() -> list[bytes]:
    header = make_header(SimulationOptions(seed=7, nodes=3), random.Random(7), "test")
    steps = [TraceStep(index=index, action=Tick(node=1), fingerprint="00" * 16) for index in (1, 2)]
    result = TraceResult(status="pass", steps=2)
    records: list[object] = [header, *steps, result]
    return [encode_record(record) for record in records]


def parse(lines: list[bytes]) -> InputError:
    with pytest.raises(InputError) as caught:
        parse_trace(b"\n".join(lines) + b"\n", "t.jsonl", WORLDS)
    return caught.value


def test_a_well_formed_trace_parses() -> None:
    parsed = parse_trace(b"\n".join(well_formed_lines()) + b"\n", "t.jsonl", WORLDS)
    assert parsed.header.seed == 7
    assert [step.index for _, step in parsed.steps] == [1, 2]
    assert [line for line, _ in parsed.steps] == [2, 3]
    assert parsed.result_line == 4


def test_bad_json_names_the_line() -> None:
    lines = well_formed_lines()
    lines[2] = lines[2][:-5]
    error = parse(lines)
    assert (error.source, error.line) == ("t.jsonl", 3)
    assert error.reason.startswith("invalid JSON")


def test_a_missing_header_is_refused_at_line_1() -> None:
    error = parse(well_formed_lines()[1:])
    assert error.line == 1
    assert "missing header" in error.reason


def test_a_truncated_trace_has_no_result_line() -> None:
    error = parse(well_formed_lines()[:-1])
    assert error.line == 3
    assert error.reason == "truncated: no result line after line 3"


def test_an_unknown_action_names_the_field() -> None:
    lines = well_formed_lines()
    lines[1] = lines[1].replace(b'"action":"tick"', b'"action":"teleport"')
    error = parse(lines)
    assert (error.line, error.field) == (2, "action.action")
    assert error.reason == "unknown action 'teleport'"


def test_a_wrong_field_type_names_the_field() -> None:
    lines = well_formed_lines()
    lines[2] = lines[2].replace(b'"node":1', b'"node":"one"')
    error = parse(lines)
    assert (error.line, error.field) == (3, "action.node")
    assert error.reason == "Expected `int`, got `str`"


def test_a_gap_in_step_indices_is_refused() -> None:
    lines = well_formed_lines()
    lines[2] = lines[2].replace(b'"index":2', b'"index":3')
    error = parse(lines)
    assert (error.line, error.field) == (3, "index")


def test_lines_after_the_result_are_refused() -> None:
    lines = well_formed_lines()
    error = parse([*lines, lines[1]])
    assert error.line == 5


def test_a_second_liveness_phase_record_is_refused() -> None:
    # The liveness phase starts once; a duplicated phase line (a fuzzer found one) is a
    # corrupt trace, not a crash of the replay.
    lines = well_formed_lines()
    phase = encode_record(TracePhase(index=1, phase="liveness"))
    error = parse([lines[0], lines[1], phase, phase, *lines[2:]])
    assert (error.line, error.field) == (4, "record")
    assert error.reason == "a second liveness phase record (the first is on line 3)"
    parsed = parse_trace(b"\n".join([lines[0], lines[1], phase, *lines[2:]]) + b"\n", "t", WORLDS)
    assert [line for line, _ in parsed.records] == [2, 3, 4]  # one phase record is fine


def test_replay_exits_2_naming_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.jsonl"
    lines = well_formed_lines()
    path.write_bytes(b"\n".join([lines[0], b"{not json", *lines[2:]]) + b"\n")
    assert main(["replay", str(path)]) == ExitCode.USAGE
    assert f"{path}:2: invalid JSON" in capsys.readouterr().err


def test_replay_of_a_missing_file_exits_2(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        read_trace(tmp_path / "absent.jsonl", WORLDS)
    assert main(["replay", str(tmp_path / "absent.jsonl")]) == ExitCode.USAGE


def test_the_committed_schema_is_the_generated_one() -> None:
    committed = (ROOT / "docs" / "trace.schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(WORLDS)
