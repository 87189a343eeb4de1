"""Printing a command's report (a human summary, or deterministic JSON with ``-o json``) and the
``-o`` option every verb shares."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TextIO, TypeAlias

OutputFormat = Literal["text", "json"]
if TYPE_CHECKING:
    VerbParsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


def add_output_option(parser: argparse.ArgumentParser) -> None:
    """The ``-o text|json`` option every command shares."""
    parser.add_argument(
        "-o",
        "--output",
        choices=("text", "json"),
        default="text",
        help="text: a summary for people (default); json: a machine-readable report",
    )


def emit(
    report: Mapping[str, Any],
    output: OutputFormat,
    render_text: Callable[[Mapping[str, Any]], str],
    stream: TextIO | None = None,
) -> None:
    """Write ``report`` as sorted-key JSON, or as the text ``render_text`` makes of it."""
    target = stream if stream is not None else sys.stdout
    if output == "json":
        target.write(json.dumps(report, sort_keys=True, indent=2) + "\n")
    else:
        text = render_text(report)
        target.write(text if text.endswith("\n") else text + "\n")
    target.flush()
