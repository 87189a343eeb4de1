"""Shrinking a failing run: delta debugging over its trace's actions, down to a short trace.

A failing seed's run is recorded again (the seed reproduces it) and its actions are read back
from the trace (:func:`runner.sim.trace.parse_trace`). Zeller's ddmin then removes chunks of
actions, halving the chunk size when no chunk can go, until no single action can be removed:
each candidate is re-run from the world's initial state (:func:`probe`), skipping actions the
shortened history no longer enables (a message that was never sent, a node that is not down),
and it still fails when the **same property** is the first one broken. A candidate that fails
is replaced by the actions it actually applied up to the violation, so every accepted step
shrinks the list. The result is 1-minimal when the budget of re-runs allows; the report says
whether it got there.

The shrunk actions are then run once more by the kernel's simulator
(:class:`runner.sim.simulate.Simulation`, driven action by action) to write a complete trace
(fingerprints, deltas, snapshots, result) that ``kubeoracle replay`` reproduces. Its header is
the original's with ``safety_steps`` set to the shrunk length: the trace has no liveness phase.

Only safety violations shrink this way; a liveness failure depends on the whole fair schedule
of its liveness phase and is kept as its seed recorded it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar, final

import msgspec

from models.trace import TraceHeader
from runner.explore.simulation import SeedTask, simulate_seed
from runner.sim.simulate import Simulation
from runner.sim.trace import parse_trace
from runner.sim.world import NotEnabled, Violation, WorldKind

ActionT = TypeVar("ActionT")
Probe: TypeAlias = Callable[[list[ActionT]], list[ActionT] | None]


@final
@dataclass(frozen=True, slots=True)
class ShrinkTask:
    """Shrink the failing run of ``seed_task`` with at most ``budget`` re-runs."""

    seed_task: SeedTask
    budget: int


@final
@dataclass(frozen=True, slots=True)
class Shrunk:
    """A failing run made short: ``steps`` of ``original_steps`` remain after ``runs`` re-runs
    (``minimal``: no single action can be removed). ``trace`` replays to the same violation."""

    status: str
    property: str | None
    original_steps: int
    steps: int
    runs: int
    minimal: bool
    trace: bytes


def _first(violations: Sequence[Violation]) -> str | None:
    return violations[0].property_name if violations else None


def probe(
    kind: WorldKind[Any, Any, Any, Any], header: TraceHeader[Any], actions: list[Any], target: str
) -> list[Any] | None:
    """Run ``actions`` from the initial state (skipping those not enabled): the actions
    applied up to the first violation if it breaks ``target`` first, else ``None``."""
    world = kind.build(header.setup, header.swarm)
    state = world.initial().state
    checkers = world.checkers()
    at_start = [found for checker in checkers for found in checker.start(state)]
    if at_start:
        return [] if _first(at_start) == target else None
    applied_actions: list[Any] = []
    for action in actions:
        applied = world.apply(state, action)
        if isinstance(applied, NotEnabled):
            continue
        before, state = state, applied.state
        applied_actions.append(action)
        index = len(applied_actions)
        found = [
            violation
            for checker in checkers
            for violation in checker.step(index, action, before, state, applied.outputs)
        ]
        if found:
            return applied_actions if _first(found) == target else None
    at_end = [
        found for checker in checkers for found in checker.finish(state, len(applied_actions))
    ]
    return applied_actions if _first(at_end) == target else None


def ddmin(
    actions: list[ActionT], still_fails: Probe[ActionT], budget: int
) -> tuple[list[ActionT], int, bool]:
    """Zeller's ddmin (complements only): the shortest list found, the re-runs made, and
    whether it is 1-minimal (``False`` when the budget ran out first)."""
    runs = 0
    granularity = 2
    while len(actions) >= 2:
        chunk = math.ceil(len(actions) / granularity)
        reduced = False
        for start in range(0, len(actions), chunk):
            if runs >= budget:
                return actions, runs, False
            runs += 1
            found = still_fails(actions[:start] + actions[start + chunk :])
            if found is not None:
                actions = found
                granularity = max(granularity - 1, 2)
                reduced = True
                break
        if not reduced:
            if granularity >= len(actions):
                break
            granularity = min(granularity * 2, len(actions))
    return actions, runs, True


def write_trace(
    kind: WorldKind[Any, Any, Any, Any], header: TraceHeader[Any], actions: list[Any]
) -> tuple[bytes, str, str | None]:
    """The trace of ``actions`` run by the simulator, its status and property."""
    short = msgspec.structs.replace(header, safety_steps=len(actions))
    simulation = Simulation(kind, short, random.Random(header.seed))
    violations = simulation.run.initial_violations
    for action in () if violations else actions:
        violations = simulation.advance(action).violations
        if violations:
            break
    result = simulation.violation(violations) if violations else simulation.passed()
    return result.trace.content(), result.result.status, result.result.property


def shrink(task: ShrinkTask) -> Shrunk:
    """Record the seed's failing run again and shrink it (see the module docstring)."""
    recorded = simulate_seed(task.seed_task)
    outcome = recorded.result
    content = recorded.trace.content()
    if outcome.status != "violation" or outcome.property is None:
        steps = outcome.steps
        return Shrunk(outcome.status, outcome.property, steps, steps, 0, False, content)
    kind = task.seed_task.target.kind
    parsed = parse_trace(content, f"seed {task.seed_task.seed}", {kind.name: kind})
    actions = [record.action for _, record in parsed.steps]
    target = outcome.property

    def still_fails(candidate: list[Any]) -> list[Any] | None:
        return probe(kind, parsed.header, candidate, target)

    replayed = still_fails(actions)
    if replayed is None:  # not reproducible outside its phases: keep the run as recorded
        return Shrunk(outcome.status, target, outcome.steps, outcome.steps, 1, False, content)
    shortest, runs, minimal = ddmin(replayed, still_fails, task.budget - 1)
    runs += 1
    trace, status, broken = write_trace(kind, parsed.header, shortest)
    assert (status, broken) == ("violation", target), (status, broken, target)
    return Shrunk(status, target, outcome.steps, len(shortest), runs, minimal, trace)
