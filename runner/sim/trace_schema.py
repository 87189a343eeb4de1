"""The JSON Schema of trace records, generated from ``models.trace`` (``docs/trace.schema.json``).

Regenerate the committed file with ``kubeoracle schema trace > docs/trace.schema.json``;
a test checks that the committed file equals what this module generates.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from models.trace import TRACE_FORMAT, TRACE_VERSION, TraceRecord


def trace_schema() -> dict[str, Any]:
    """The schema of one trace line: any of the trace records, tagged on ``record``."""
    schema: dict[str, Any] = msgspec.json.schema(TraceRecord)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"{TRACE_FORMAT} version {TRACE_VERSION}: one line of a trace"
    return schema


def schema_text() -> str:
    """The schema as the committed file holds it: sorted keys, two-space indent."""
    return json.dumps(trace_schema(), sort_keys=True, indent=2) + "\n"
