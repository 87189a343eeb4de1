"""Merging the reports of explorations of consecutive seed ranges into the report of their union.

A seed's outcome depends on nothing but its world, mutant, seed and run options, so seeds
``1..2000`` explored as twenty slices (one after another, or on twenty clusters) give the same
table as one exploration: the counts add up, the catching seeds join, each group keeps its
first seed and its shortest run (fewest steps, the lower seed on a tie) and the verdict is
judged again. The reports must be of the same world, options and targets, and their seed
ranges must follow one another without gap or overlap. A group's ``shrunk`` is kept when its
shortest run comes from a report that shrank it. ``run`` adds the seconds up and lists the
merged ranges.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from models.strict_input import InputError, decode_json
from runner.explore.exploration import verdict_of
from runner.input_files import read_bytes
from runner.sim.seeds import SeedRange, parse_seed_range


class _Group(msgspec.Struct, frozen=True, kw_only=True):
    group: str
    runs: int
    first_seed: int
    shortest_seed: int
    shortest_steps: int
    message: str | None
    shrunk: dict[str, Any] | None = None


class _Lost(msgspec.Struct, frozen=True, kw_only=True):
    seed: int
    reason: str


class _Target(msgspec.Struct, frozen=True, kw_only=True):
    mutant: str
    description: str
    runs: int
    caught: int
    catching_seeds: list[int]
    groups: list[_Group]
    lost: list[_Lost]


class _Run(msgspec.Struct, frozen=True, kw_only=True):
    engine: str
    workers: int
    seconds: float


class _Report(msgspec.Struct, frozen=True, kw_only=True):
    world: str
    seeds: str
    runs: int
    options: dict[str, Any]
    targets: list[_Target]
    run: _Run


_DECODER = msgspec.json.Decoder(_Report)


def read_report(path: Path) -> tuple[_Report, SeedRange]:
    """One report written by ``explore -o json``, and its seed range."""
    report = decode_json(_DECODER, read_bytes(path), str(path))
    seeds = parse_seed_range(report.seeds)
    if isinstance(seeds, str):
        raise InputError(seeds, source=str(path), field="seeds")
    return report, seeds


def merge_reports(paths: Sequence[Path]) -> dict[str, Any]:
    """The report of the union of the reports at ``paths`` (see the module docstring)."""
    read = sorted(((*read_report(path), path) for path in paths), key=lambda r: r[1].first)
    first, first_seeds, _ = read[0]
    following = first_seeds.first
    for report, seeds, path in read:
        if seeds.first != following:
            gap = "overlaps" if seeds.first < following else "leaves a gap before"
            reason = f"seeds {report.seeds} {gap} seed {following}"
            raise InputError(reason, source=str(path), field="seeds")
        following = seeds.last + 1
        for name, mine, theirs in (
            ("world", report.world, first.world),
            ("options", report.options, first.options),
            ("targets", [t.mutant for t in report.targets], [t.mutant for t in first.targets]),
        ):
            if mine != theirs:
                reason = f"{name} {mine} differ from {theirs} in {read[0][2]}"
                raise InputError(reason, source=str(path), field=name)
    targets = [
        _merge_target([report.targets[index] for report, _, _ in read])
        for index in range(len(first.targets))
    ]
    runs = sum(report.runs for report, _, _ in read)
    seconds = sum(report.run.seconds for report, _, _ in read)
    return {
        "world": first.world,
        "seeds": f"{first_seeds.first}..{following - 1}",
        "runs": runs,
        "options": first.options,
        "targets": targets,
        **verdict_of(targets),
        "run": {
            "engine": first.run.engine,
            "workers": first.run.workers,
            "workers_lost": None,
            "seconds": round(seconds, 3),
            "runs_per_second": round(runs / seconds, 2) if seconds > 0 else None,
            "merged": [report.seeds for report, _, _ in read],
        },
    }


def _merge_target(slices: list[_Target]) -> dict[str, Any]:
    groups: dict[str, dict[str, Any]] = {}
    for target in slices:
        for group in target.groups:
            merged = groups.get(group.group)
            if merged is None:
                groups[group.group] = msgspec.to_builtins(group)
                continue
            merged["runs"] += group.runs
            merged["first_seed"] = min(merged["first_seed"], group.first_seed)
            shortest = (group.shortest_steps, group.shortest_seed)
            if shortest < (merged["shortest_steps"], merged["shortest_seed"]):
                kept = {"runs": merged["runs"], "first_seed": merged["first_seed"]}
                merged.update(msgspec.to_builtins(group), **kept)
    for merged in groups.values():
        if merged.get("shrunk") is None:
            merged.pop("shrunk", None)
    first = slices[0]
    return {
        "mutant": first.mutant,
        "description": first.description,
        "runs": sum(target.runs for target in slices),
        "caught": sum(target.caught for target in slices),
        "catching_seeds": sorted(seed for target in slices for seed in target.catching_seeds),
        "groups": [groups[name] for name in sorted(groups)],
        "lost": [msgspec.to_builtins(lost) for target in slices for lost in target.lost],
    }
