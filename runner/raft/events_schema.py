"""The JSON Schema of kubeoracle's Raft event format (``docs/raft-events.schema.json``).

Regenerate the committed file with ``kubeoracle schema raft-events > docs/raft-events.schema.json``.
"""

from __future__ import annotations

import json

from models.raft_events import line_schema


def schema_text() -> str:
    """The schema as deterministic JSON text (sorted keys, two-space indent, final newline)."""
    return json.dumps(line_schema(), sort_keys=True, indent=2) + "\n"
