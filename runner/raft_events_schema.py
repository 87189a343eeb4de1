"""Print the JSON Schema of kubeoracle's Raft event format (``docs/raft-events.schema.json``).

python -m runner.raft_events_schema > docs/raft-events.schema.json
"""

from __future__ import annotations

import json

from models.raft_events import line_schema


def schema_text() -> str:
    """The schema as deterministic JSON text (sorted keys, two-space indent, final newline)."""
    return json.dumps(line_schema(), sort_keys=True, indent=2) + "\n"


if __name__ == "__main__":
    print(schema_text(), end="")
