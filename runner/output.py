"""Printing a command's report: a human summary, or deterministic JSON with ``-o json``."""

import json
import sys
from collections.abc import Callable, Mapping
from typing import Any, Literal, TextIO

OutputFormat = Literal["text", "json"]


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
