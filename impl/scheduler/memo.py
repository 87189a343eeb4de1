"""A caller-owned, bounded memo of node-local plugin results across scheduling cycles.

A plugin says what its Filter or Score reads beyond the pod and the node
(``filter_memo_key``/``score_memo_key``); a ``NodeInfo`` is immutable and replaced whenever its
node changes, so a result computed for the same pod shape, the same keys and the same
``NodeInfo`` object is still right. The memo only saves work: a run with and
without it gives the same results. Entries keep their ``NodeInfo`` alive so that the identity
used as a key cannot be reused; the memo empties itself past ``limit`` entries.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from impl.scheduler.nodeinfo import NodeInfo
from models.scheduling import Pod

RAW_ONLY_NORMALIZE: Final = frozenset({"TaintToleration", "NodeAffinity"})
"""Plugins whose NormalizeScore reads nothing but the raw scores (DefaultNormalizeScore)."""

Table = dict[int, tuple[NodeInfo, Any]]


def pod_shape(pod: Pod) -> Pod:
    """The pod without its identity: pods of one shape get the same node-local results."""
    return msgspec.structs.replace(
        pod, name="", uid="", creation_index=0, nominated_node_name="", start_time=""
    )


class Memo:
    """Tables of node-local results keyed by (what, profile, pod shape), then node identity."""

    __slots__ = ("entries", "limit", "normalizations", "tables")

    def __init__(self, limit: int = 500_000) -> None:
        assert limit > 0
        self.limit = limit
        self.entries = 0
        self.tables: dict[tuple[object, ...], Table] = {}
        self.normalizations: dict[str, dict[tuple[int, ...], tuple[int, ...]]] = {}

    def table(self, key: tuple[object, ...]) -> Table:
        """The table for one (what, profile, pod shape); emptied when the memo is full."""
        self._bound()
        table = self.tables.get(key)
        if table is None:
            table = {}
            self.tables[key] = table
        return table

    def note_added(self, count: int) -> None:
        """Count entries added to a table."""
        self.entries += count

    def normalized(self, plugin: str) -> dict[tuple[int, ...], tuple[int, ...]]:
        """Normalized scores by raw scores, for a plugin whose normalization reads only those."""
        self._bound()
        return self.normalizations.setdefault(plugin, {})

    def _bound(self) -> None:
        if self.entries > self.limit:
            self.tables.clear()
            self.normalizations.clear()
            self.entries = 0
