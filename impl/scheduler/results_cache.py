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

from typing import Final, final

import immutables
import msgspec

from impl.scheduler.framework import Status

RAW_ONLY_NORMALIZE: Final = frozenset({"TaintToleration", "NodeAffinity"})
"""Plugins whose NormalizeScore reads nothing but the raw scores (DefaultNormalizeScore)."""
DEFAULT_LIMIT: Final = 500_000

FilterTable = immutables.Map[str, tuple[int, Status]]
"""Node name -> (NodeInfo generation, Filter status)."""
ScoreTable = immutables.Map[str, tuple[int, tuple[int, ...]]]
"""Node name -> (NodeInfo generation, raw scores of the cacheable Score plugins)."""


@final
class ResultsCache(msgspec.Struct, frozen=True, kw_only=True):
    """Tables of node-local results by (profile, pod shape, plugin keys)."""

    filters: immutables.Map[object, FilterTable] = immutables.Map()
    scores: immutables.Map[object, ScoreTable] = immutables.Map()
    normalized: immutables.Map[object, tuple[int, ...]] = immutables.Map()
    entries: int = 0
    limit: int = DEFAULT_LIMIT

    def filter_table(self, key: object) -> FilterTable:
        """The filter results of one key (empty when unknown)."""
        return self.filters.get(key, _EMPTY_FILTERS)

    def score_table(self, key: object) -> ScoreTable:
        """The raw scores of one key (empty when unknown)."""
        return self.scores.get(key, _EMPTY_SCORES)

    def with_filters(self, key: object, results: list[tuple[str, int, Status]]) -> ResultsCache:
        """The cache with ``(node, generation, status)`` entries added to one filter table."""
        if not results:
            return self
        with self.filter_table(key).mutate() as table:
            for name, generation, status in results:
                table[name] = (generation, status)
            updated = table.finish()
        return self._bounded(
            msgspec.structs.replace(
                self, filters=self.filters.set(key, updated), entries=self.entries + len(results)
            )
        )

    def with_scores(
        self, key: object, results: list[tuple[str, int, tuple[int, ...]]]
    ) -> ResultsCache:
        """The cache with ``(node, generation, raw scores)`` entries added to one score table."""
        if not results:
            return self
        with self.score_table(key).mutate() as table:
            for name, generation, row in results:
                table[name] = (generation, row)
            updated = table.finish()
        return self._bounded(
            msgspec.structs.replace(
                self, scores=self.scores.set(key, updated), entries=self.entries + len(results)
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


_EMPTY_FILTERS: Final[FilterTable] = immutables.Map()
_EMPTY_SCORES: Final[ScoreTable] = immutables.Map()
