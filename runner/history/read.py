"""Reading a history file in any of the formats ``check history`` takes, streamed line by line
through the strict input discipline (``runner.input_files.read_lines``, ``docs/limits.md``)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from returns.result import Failure

from models.history import History, parse_history_lines
from models.history_formats import parse_jepsen_lines, parse_porcupine_kv_lines
from models.strict_input import LIMITS, Limits
from runner.input_files import read_lines

PARSERS: Final = {
    "kubeoracle": parse_history_lines,
    "jepsen": parse_jepsen_lines,
    "porcupine-kv": parse_porcupine_kv_lines,
}
FORMATS: Final = tuple(PARSERS)


def read_history(path: Path, input_format: str, limits: Limits = LIMITS) -> History:
    """The history in ``path``; an ``InputError`` (exit 2) names the line and field of any
    problem. Memory holds one line of the file at a time, plus the records read."""
    parsed = PARSERS[input_format](read_lines(path, limits), str(path))
    if isinstance(parsed, Failure):
        raise parsed.failure()
    history: History = parsed.unwrap()
    return history
