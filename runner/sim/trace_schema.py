"""The JSON Schema of trace lines, generated from ``models.trace`` and the worlds' types
(``docs/trace.schema.json``).

Regenerate the committed file with ``kubeoracle schema trace > docs/trace.schema.json``;
a test checks that the committed file equals what this module generates.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from models.trace import (
    TRACE_FORMAT,
    TRACE_VERSION,
    TraceHeader,
    TracePhase,
    TraceResult,
    TraceSnapshot,
    TraceStep,
)
from runner.sim.trace import Worlds


def _world_schema(name: str, setup_type: Any, action_type: Any) -> tuple[Any, dict[str, Any]]:
    """One world's line schema and its definitions, the generic records renamed after the
    world (``TraceStep_raft``) rather than after every member of its action union."""
    line = (
        TraceHeader[setup_type] | TraceStep[action_type] | TraceSnapshot | TracePhase | TraceResult
    )
    (schema,), components = msgspec.json.schema_components([line], ref_template="#/$defs/{name}")
    renamed: dict[str, str] = {}
    for key in components:
        for record in ("TraceHeader", "TraceStep"):
            if key.startswith(f"{record}_"):
                renamed[key] = f"{record}_{name}"
    text = json.dumps([schema, components])
    for old, new in renamed.items():
        text = text.replace(f'"{old}"', f'"{new}"').replace(f'/{old}"', f'/{new}"')
    schema, components = json.loads(text)
    return schema, components


def trace_schema(worlds: Worlds) -> dict[str, Any]:
    """The schema of one trace line of any of ``worlds``: a record tagged on ``record``, whose
    header's ``setup`` and step's ``action`` are those of the world the header names."""
    schemas = []
    definitions: dict[str, Any] = {}
    for name, kind in sorted(worlds.items()):
        schema, components = _world_schema(name, kind.setup_type, kind.action_type)
        schemas.append(schema)
        definitions.update(components)
    result: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"{TRACE_FORMAT} version {TRACE_VERSION}: one line of a trace",
        "$defs": definitions,
    }
    if len(schemas) == 1:
        result.update(schemas[0])
    else:
        result["anyOf"] = schemas
    return result


def schema_text(worlds: Worlds) -> str:
    """The schema as the committed file holds it: sorted keys, two-space indent."""
    return json.dumps(trace_schema(worlds), sort_keys=True, indent=2) + "\n"
