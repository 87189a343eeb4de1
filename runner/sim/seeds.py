"""Seed ranges, and how soon a seed catches a bug: the distribution of the first catching seed.

A user runs a range of seeds (``--seeds 1..200``) against a deliberately broken variant. Each
seed either catches it (its run fails) or not. For a run started at seed ``s``, the first
catching seed is the smallest caught seed ``>= s``, and ``f(s) - s + 1`` is how many seeds that
run needs. Over every start ``s`` of the range that has a catch at or after it, these counts
form the distribution reported: its median, 90th and 99th percentiles and maximum. A stated
bound (``caught within B seeds``) holds with margin when the maximum is well below ``B``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, final

SEEDS_MAX: Final = 100_000
"""The most seeds one command runs."""


@final
@dataclass(frozen=True, slots=True)
class SeedRange:
    """Seeds ``first..last``, both included."""

    first: int
    last: int

    def seeds(self) -> range:
        return range(self.first, self.last + 1)

    def __len__(self) -> int:
        return self.last - self.first + 1


def parse_seed_range(text: str) -> SeedRange | str:
    """``A..B`` (``A <= B``): the range; otherwise an error message."""
    match = re.fullmatch(r"([0-9]+)\.\.([0-9]+)", text)
    if match is None:
        return "expected a count or a range FIRST..LAST (for example 1..200)"
    first, last = int(match.group(1)), int(match.group(2))
    if first > last:
        return f"the range {text} is empty: {first} > {last}"
    if last - first + 1 > SEEDS_MAX:
        return f"at most {SEEDS_MAX} seeds"
    return SeedRange(first, last)


def _percentile(ordered: list[int], fraction: float) -> int:
    """The nearest-rank percentile of a sorted, non-empty list."""
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[int(rank) - 1]


@final
@dataclass(frozen=True, slots=True)
class CatchDistribution:
    """Which seeds of a range caught the bug, and the seeds a run from each start needs."""

    seeds: SeedRange
    caught: tuple[int, ...]
    """The catching seeds, ascending."""

    def needed(self) -> list[int]:
        """For every start with a catch at or after it, the seeds up to the first catch."""
        counts: list[int] = []
        upcoming = list(self.caught)
        for start in self.seeds.seeds():
            while upcoming and upcoming[0] < start:
                upcoming.pop(0)
            if upcoming:
                counts.append(upcoming[0] - start + 1)
        return counts

    def report(self) -> dict[str, object]:
        """The distribution as JSON-ready data."""
        counts = sorted(self.needed())
        summary: dict[str, object] = {
            "seeds": f"{self.seeds.first}..{self.seeds.last}",
            "runs": len(self.seeds),
            "caught": len(self.caught),
            "catch_rate": round(len(self.caught) / len(self.seeds), 4),
            "first_catching_seed": self.caught[0] if self.caught else None,
            "catching_seeds": list(self.caught),
            "starts_without_catch": len(self.seeds) - len(counts),
        }
        if counts:
            summary["seeds_needed"] = {
                "median": _percentile(counts, 0.5),
                "p90": _percentile(counts, 0.9),
                "p99": _percentile(counts, 0.99),
                "max": counts[-1],
            }
        return summary
