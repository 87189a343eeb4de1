"""Node-local plugin results kept across scheduling cycles, as immutable data in the
scheduler's state.

A plugin says what its Filter or Score reads beyond the pod and the node
(``filter_memo_key``/``score_memo_key``). A result computed for a pod shape (spec, namespace,
labels), those keys and a node at a given ``NodeInfo`` generation stays right while the node
keeps that generation, so later cycles reuse it. Normalizations that read nothing but the raw
scores (DefaultNormalizeScore) are kept by raw scores. The cache only saves work: a run with an
empty cache gives the same results. Past ``limit`` entries it starts empty again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, final

import immutables
import msgspec

from impl.scheduler.framework import Status

RAW_ONLY_NORMALIZE: Final = frozenset({"TaintToleration", "NodeAffinity"})
"""Plugins whose NormalizeScore reads nothing but the raw scores (DefaultNormalizeScore)."""
DEFAULT_LIMIT: Final = 500_000

NodeTable = immutables.Map[str, tuple[int, object]]
"""Node name -> (NodeInfo generation, result)."""


@final
class ResultsCache(msgspec.Struct, frozen=True, kw_only=True):
    """Tables of node-local results by (what, profile, pod shape, plugin keys)."""

    tables: immutables.Map[object, NodeTable] = immutables.Map()
    normalized: immutables.Map[object, tuple[int, ...]] = immutables.Map()
    entries: int = 0
    limit: int = DEFAULT_LIMIT

    def table(self, key: object) -> NodeTable:
        """The table of one key (empty when unknown)."""
        return self.tables.get(key, _EMPTY_TABLE)

    def with_results(self, key: object, results: Iterable[tuple[str, int, object]]) -> ResultsCache:
        """The cache with ``(node, generation, result)`` entries added to one table."""
        added = 0
        with self.table(key).mutate() as table:
            for name, generation, result in results:
                table[name] = (generation, result)
                added += 1
            updated = table.finish()
        if not added:
            return self
        return self._bounded(
            msgspec.structs.replace(
                self, tables=self.tables.set(key, updated), entries=self.entries + added
            )
        )

    def with_normalized(self, key: object, scores: tuple[int, ...]) -> ResultsCache:
        """The cache with one normalization added."""
        return self._bounded(
            msgspec.structs.replace(
                self, normalized=self.normalized.set(key, scores), entries=self.entries + 1
            )
        )

    def _bounded(self, cache: ResultsCache) -> ResultsCache:
        if cache.entries <= cache.limit:
            return cache
        return ResultsCache(limit=cache.limit)


_EMPTY_TABLE: Final[NodeTable] = immutables.Map()


def lookup(table: NodeTable, name: str, generation: int) -> object | None:
    """A cached result for a node at this generation, or None."""
    found = table.get(name)
    if found is None or found[0] != generation:
        return None
    return found[1]


def as_status(result: object) -> Status:
    """A cached filter result."""
    assert isinstance(result, Status)
    return result
