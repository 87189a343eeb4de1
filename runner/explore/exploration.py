"""An exploration: every seed of a range run against the reference and each mutant, on an
engine, and the report that comes of it.

The report depends only on what was explored (world, mutants, seeds, run choices), never on the
engine, its worker count or the order in which outcomes arrived: outcomes are keyed by
(mutant, seed) and everything is sorted. Timing and the engine are kept apart from the table
(``report["run"]``), so two reports of the same exploration compare equal without them.
Then each group of safety violations has its shortest run shrunk (``runner.explore.shrink``,
on the same engine): deterministic as well.

Verdict: a violation when the reference (mutant ``none``) fails any seed; inconclusive when a
run was lost (its worker kept dying, or the world raised outside a run) or a mutant escaped
every seed (the exploration did not show it can catch that bug); otherwise a pass.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias, final

from runner.explore.engine import Engine, Failed, Outcome
from runner.explore.shrink import ShrinkTask, Shrunk, shrink
from runner.explore.simulation import (
    CORRECT,
    Explorable,
    RunChoices,
    SeedOutcome,
    SeedTask,
    run_seed,
)
from runner.sim.seeds import SeedRange

Verdict: TypeAlias = Literal["pass", "violation", "inconclusive"]
Progress: TypeAlias = Callable[[int, int], None]
"""Called as runs finish: how many have finished, of how many."""
REFERENCE_DESCRIPTION: Final = "the reference implementation: must pass every seed"


@final
@dataclass(frozen=True, slots=True)
class Exploration:
    """Seeds ``seeds`` of world ``world`` against each of ``mutants`` (``none``: the
    reference), every run with ``choices``."""

    world: str
    target: Explorable[Any]
    mutants: tuple[str, ...]
    seeds: SeedRange
    choices: RunChoices

    def tasks(self) -> list[SeedTask]:
        return [
            SeedTask(self.target, mutant, seed, self.choices)
            for mutant in self.mutants
            for seed in self.seeds.seeds()
        ]


def explore(
    exploration: Exploration, engine: Engine, progress: Progress | None = None
) -> dict[str, Any]:
    """Run the exploration on ``engine``; the report (see the module docstring)."""
    tasks = exploration.tasks()
    finished = 0

    def observe(_index: int, _outcome: Outcome[Any]) -> None:
        nonlocal finished
        finished += 1
        if progress is not None:
            progress(finished, len(tasks))

    started = time.perf_counter()
    outcomes = engine.run(run_seed, tasks, observe)
    seconds = time.perf_counter() - started
    report = build_report(exploration, tasks, outcomes)
    report["run"] = {
        "engine": engine.name,
        "workers": engine.workers,
        "workers_lost": engine.workers_lost,
        "seconds": round(seconds, 3),
        "runs_per_second": round(len(tasks) / seconds, 2) if seconds > 0 else None,
    }
    return report


def build_report(
    exploration: Exploration, tasks: Sequence[SeedTask], outcomes: Sequence[Outcome[SeedOutcome]]
) -> dict[str, Any]:
    """The engine-independent part of the report."""
    by_mutant: dict[str, list[tuple[SeedTask, Outcome[SeedOutcome]]]] = {}
    for task, outcome in zip(tasks, outcomes, strict=True):
        by_mutant.setdefault(task.mutant, []).append((task, outcome))
    descriptions = exploration.target.mutants
    targets = [
        _target_report(mutant, descriptions, by_mutant.get(mutant, []))
        for mutant in exploration.mutants
    ]
    choices = exploration.choices
    return {
        "world": exploration.world,
        "seeds": f"{exploration.seeds.first}..{exploration.seeds.last}",
        "runs": len(tasks),
        "options": {
            "safety_steps": choices.safety_steps,
            "liveness_steps": choices.liveness_steps,
            "faults": "swarm" if choices.faults is None else list(choices.faults),
        },
        "targets": targets,
        **verdict_of(targets),
    }


def _target_report(
    mutant: str,
    descriptions: Mapping[str, str],
    runs: list[tuple[SeedTask, Outcome[SeedOutcome]]],
) -> dict[str, Any]:
    catching: list[int] = []
    lost: list[dict[str, Any]] = []
    groups: dict[str, dict[str, Any]] = {}
    for task, outcome in sorted(runs, key=lambda run: run[0].seed):
        if isinstance(outcome, Failed):
            lost.append({"seed": task.seed, "reason": outcome.reason})
            continue
        seed_outcome = outcome.value
        group = seed_outcome.group()
        if group is None:
            continue
        catching.append(task.seed)
        _add_to_group(groups.setdefault(group, {}), seed_outcome)
    return {
        "mutant": mutant,
        "description": REFERENCE_DESCRIPTION if mutant == CORRECT else descriptions[mutant],
        "runs": len(runs),
        "caught": len(catching),
        "catching_seeds": catching,
        "groups": [{"group": name, **groups[name]} for name in sorted(groups)],
        "lost": lost,
    }


def _add_to_group(group: dict[str, Any], outcome: SeedOutcome) -> None:
    """Count the failing seed into its group, keeping the first seed and the shortest run
    (fewest steps; the lower seed on a tie)."""
    if not group:
        group.update(runs=0, first_seed=outcome.seed, shortest_seed=outcome.seed)
        group.update(shortest_steps=outcome.steps, message=outcome.message)
    group["runs"] += 1
    if outcome.steps < group["shortest_steps"]:
        group.update(shortest_seed=outcome.seed, shortest_steps=outcome.steps)
        group["message"] = outcome.message


def verdict_of(targets: list[dict[str, Any]]) -> dict[str, Any]:
    """The verdict of the targets' reports, and the reasons for it."""
    reasons: list[str] = []
    verdict: Verdict = "pass"
    for target in targets:
        name = target["mutant"]
        if target["lost"]:
            reasons.append(f"{name}: {len(target['lost'])} runs lost")
            verdict = "inconclusive" if verdict == "pass" else verdict
        if name == CORRECT and target["caught"]:
            reasons.append(f"the reference failed {target['caught']} seeds")
            verdict = "violation"
        elif name != CORRECT and not target["caught"] and not target["lost"]:
            reasons.append(f"{name}: no seed caught it")
            verdict = "inconclusive" if verdict == "pass" else verdict
    return {"verdict": verdict, "reasons": reasons}


def shrink_groups(
    exploration: Exploration, engine: Engine, report: dict[str, Any], budget: int
) -> dict[str, bytes]:
    """Shrink the shortest run of every safety-violation group (on ``engine``, at most
    ``budget`` re-runs each) and add ``shrunk`` to the group: the shrunk steps, the re-runs
    made and whether the result is 1-minimal. The shrunk traces by file name."""
    wanted: list[tuple[dict[str, Any], str]] = []
    for target in report["targets"]:
        for group in target["groups"]:
            if group["group"].startswith("violation: "):
                wanted.append((group, target["mutant"]))
    tasks = [
        ShrinkTask(
            SeedTask(exploration.target, mutant, group["shortest_seed"], exploration.choices),
            budget,
        )
        for group, mutant in wanted
    ]
    traces: dict[str, bytes] = {}
    for (group, mutant), outcome in zip(wanted, engine.run(shrink, tasks), strict=True):
        if isinstance(outcome, Failed):
            group["shrunk"] = {"lost": outcome.reason}
            continue
        shrunk: Shrunk = outcome.value
        broken = re.sub(r"[^A-Za-z0-9_.-]", "_", shrunk.property or "none")
        name = f"{exploration.world}-{mutant}-{broken}-seed{group['shortest_seed']}.jsonl"
        traces[name] = shrunk.trace
        group["shrunk"] = {
            "steps": shrunk.steps,
            "runs": shrunk.runs,
            "minimal": shrunk.minimal,
            "trace": name,
        }
    return traces


def seed_ranges(seeds: Sequence[int]) -> str:
    """Sorted seeds written as ranges: ``1-4, 6, 8-9``."""
    parts: list[str] = []
    start = previous = None
    for seed in seeds:
        if previous is not None and seed == previous + 1:
            previous = seed
            continue
        if start is not None:
            parts.append(_span(start, previous))
        start = previous = seed
    if start is not None:
        parts.append(_span(start, previous))
    return ", ".join(parts)


def _span(first: int, last: int | None) -> str:
    return str(first) if last == first else f"{first}-{last}"


__all__ = [
    "Exploration",
    "build_report",
    "explore",
    "seed_ranges",
    "shrink_groups",
    "verdict_of",
]
