"""Traces and histories the ``view`` tests render, made by the real simulator and corpus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from runner.cli.main import main


def simulate(world: str, directory: Path, *options: str) -> Path:
    """Run ``kubeoracle simulate WORLD`` with a trace; the trace's path."""
    trace = directory / f"{world}.jsonl"
    code = main(["simulate", world, *options, "--trace", str(trace), "-o", "json"])
    assert code in (0, 1), code
    return trace


def trace_lines(trace: Path) -> list[dict[str, Any]]:
    """Every record of a trace, as JSON."""
    return [json.loads(line) for line in trace.read_text().splitlines()]


def steps(trace: Path) -> list[dict[str, Any]]:
    """The step records of a trace."""
    return [record for record in trace_lines(trace) if record["record"] == "step"]


def result(trace: Path) -> dict[str, Any]:
    """The result line of a trace."""
    last = trace_lines(trace)[-1]
    assert last["record"] == "result"
    return last
