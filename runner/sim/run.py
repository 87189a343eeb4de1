"""The execution of one run of any world, shared by the simulator and by replay.

:class:`Run` owns the world's state and, for every action it is given, applies it
(``World.apply``), fingerprints the new state (with the delta: the fields that changed), hands
the step to every checker the world registered, counts it in the world's statistics and, in
the liveness phase, watches for progress. The simulator chooses the actions; replay reads them
from a trace. Because both drive this one class, a replay re-executes exactly what the run did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar, final

from models.trace import FieldChange, TraceResult
from runner.sim.fingerprint import Fingerprinter
from runner.sim.world import Applied, NotEnabled, Violation, World

StateT = TypeVar("StateT")
ActionT = TypeVar("ActionT")
OutputT = TypeVar("OutputT")


@final
@dataclass(frozen=True, slots=True)
class StepOutcome(Generic[OutputT]):
    """What one action did: the new fingerprint, the delta, any broken property, and the
    machines' outputs."""

    fingerprint: str
    delta: tuple[FieldChange, ...]
    violations: tuple[Violation, ...]
    outputs: tuple[OutputT, ...]

    @property
    def commands(self) -> tuple[OutputT, ...]:
        """The outputs (for a world of machines: ``(node, command)`` pairs)."""
        return self.outputs


@final
class Run(Generic[StateT, ActionT, OutputT]):
    """A world being run: apply actions one by one, fingerprint and check each state."""

    def __init__(self, world: World[StateT, ActionT, OutputT], fingerprints: bool = True) -> None:
        """``fingerprints=False``: skip fingerprinting (every fingerprint is ``""``, every delta
        empty) for a run whose verdict alone matters; nothing else changes."""
        self.world = world
        initial = world.initial()
        self.state: StateT = initial.state
        self.last: Applied[StateT, OutputT] = initial
        self.steps = 0
        self.checkers = world.checkers()
        self.statistics = world.statistics()
        self.progress = world.progress()
        self.fingerprinter = Fingerprinter() if fingerprints else None
        self.fingerprint = ""
        if self.fingerprinter is not None:
            self.fingerprint, _ = self.fingerprinter.update(self.state)
        self.initial_violations: tuple[Violation, ...] = tuple(
            violation for checker in self.checkers for violation in checker.start(self.state)
        )
        self.liveness_started_at: int | None = None
        self.liveness_reached_at: int | None = None

    def step(self, action: ActionT) -> StepOutcome[OutputT] | NotEnabled:
        """Apply ``action``; on success the run moves one step on."""
        applied = self.world.apply(self.state, action)
        if isinstance(applied, NotEnabled):
            return applied
        before = self.state
        self.steps += 1
        self.state = applied.state
        self.last = applied
        self.statistics.count(action, applied.outputs)
        watching = self.liveness_started_at is not None and self.liveness_reached_at is None
        if watching and self.progress.observe(self.state, applied.outputs):
            self.liveness_reached_at = self.steps
        delta: tuple[FieldChange, ...] = ()
        if self.fingerprinter is not None:
            self.fingerprint, delta = self.fingerprinter.update(self.state)
        violations: tuple[Violation, ...] = ()
        for checker in self.checkers:
            found = checker.step(self.steps, action, before, self.state, applied.outputs)
            if found:
                violations = (*violations, *found)
        return StepOutcome(self.fingerprint, delta, violations, applied.outputs)

    def start_liveness(self) -> None:
        """From now on, progress is required."""
        assert self.liveness_started_at is None
        self.liveness_started_at = self.steps

    def finish(self) -> tuple[Violation, ...]:
        """The properties of the run as a whole that are broken (checked once, at its end)."""
        return tuple(
            violation
            for checker in self.checkers
            for violation in checker.finish(self.state, self.steps)
        )

    def coverage(self) -> dict[str, int | None]:
        """Each ``sometimes`` property and the first step it held at, by name."""
        merged: dict[str, int | None] = {}
        for checker in self.checkers:
            merged.update(checker.coverage())
        return dict(sorted(merged.items()))

    def liveness_failure(self, bound: int) -> TraceResult:
        """The result line for a liveness phase that ran out of steps."""
        return TraceResult(
            status="liveness_failure",
            steps=self.steps,
            property=self.progress.name,
            index=self.steps,
            message=self.progress.failure(bound),
        )


def violation_result(violation: Violation, steps: int) -> TraceResult:
    """The result line for a property broken after step ``steps``."""
    return TraceResult(
        status="violation",
        steps=steps,
        property=violation.property_name,
        index=steps,
        nodes=violation.nodes,
        message=violation.reason,
    )


AnyRun = Run[Any, Any, Any]
