"""The seeded simulator of any world: one PRNG decides everything, every checker runs each step.

Theory of operation (after TigerBeetle's VOPR). The seed makes one ``random.Random``. It first
draws the run's swarm options (:func:`runner.sim.swarm.draw_swarm`: the fault mix and the
weight of every action kind) and then, through the world's own ``draw_setup``, whatever else
the world leaves to chance (Raft: timing, PreVote, CheckQuorum). Then, step by step, the kernel
picks the next action among those the world says are enabled (:func:`runner.sim.swarm.choose`).
Nothing else is random, so the seed (or the trace header plus its actions) reproduces the run.

A run has two phases:

- **safety**: ``safety_steps`` actions with the drawn faults; after every step every checker
  the world registered judges it, and the first violation ends the run;
- **liveness**: faults stop and the world's driver heals and schedules fairly; the world's
  progress property must be seen within ``liveness_steps`` steps, otherwise the run fails with
  ``liveness_failure``. Checkers still run. At the end, checkers judge the run as a whole.

Everything goes to a trace (``docs/trace-format.md``): a header with the seed and every drawn
option, a line per step, snapshots at checkpoints and on failure, a result line.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar, final

import msgspec

from models.trace import (
    STEPS_MAX,
    TRACE_FORMAT,
    TRACE_VERSION,
    SnapshotReason,
    SwarmOptions,
    TraceHeader,
    TracePhase,
    TraceResult,
    TraceSnapshot,
    TraceStep,
)
from runner.sim.fingerprint import encode
from runner.sim.run import Run, StepOutcome, violation_result
from runner.sim.swarm import choose, draw_swarm
from runner.sim.trace import TraceWriter
from runner.sim.world import Violation, WorldKind

SetupT = TypeVar("SetupT")
StateT = TypeVar("StateT")
ActionT = TypeVar("ActionT")
OutputT = TypeVar("OutputT")

DEFAULT_CHECKPOINT_INTERVAL_STEPS: Final = 500


@final
@dataclass(frozen=True, slots=True)
class RunOptions:
    """What the user chose for any world; everything else is drawn from ``seed``."""

    seed: int
    safety_steps: int = 2500
    liveness_steps: int = 10000
    faults: tuple[str, ...] | None = None
    """``None``: the seed picks the fault mix (swarm testing)."""
    checkpoint_interval_steps: int = DEFAULT_CHECKPOINT_INTERVAL_STEPS


@final
@dataclass(frozen=True, slots=True)
class SimulationResult(Generic[SetupT]):
    """The outcome of a run: its trace's result, statistics and coverage."""

    header: TraceHeader[SetupT]
    result: TraceResult
    statistics: dict[str, object]
    coverage: dict[str, int | None]
    trace: TraceWriter
    liveness_steps_used: int | None


def make_header(
    kind: WorldKind[SetupT, Any, Any, Any],
    options: RunOptions,
    prng: random.Random,
    draw_setup: Callable[[random.Random, SwarmOptions], SetupT],
    code_version: str,
) -> TraceHeader[SetupT]:
    """Draw the run's swarm options and the world's setup from the PRNG into a header."""
    assert 0 < options.safety_steps + options.liveness_steps <= STEPS_MAX
    swarm = draw_swarm(prng, kind.action_kinds, kind.fault_kinds, options.faults)
    setup = draw_setup(prng, swarm)
    return TraceHeader(
        format=TRACE_FORMAT,
        version=TRACE_VERSION,
        world=kind.name,
        seed=options.seed,
        code_version=code_version,
        swarm=swarm,
        setup=setup,
        safety_steps=options.safety_steps,
        liveness_steps=options.liveness_steps,
        checkpoint_interval_steps=options.checkpoint_interval_steps,
    )


@final
class Simulation(Generic[SetupT, StateT, ActionT, OutputT]):
    """One run: header, safety phase, liveness phase, result; everything into the trace."""

    def __init__(
        self,
        kind: WorldKind[SetupT, StateT, ActionT, OutputT],
        header: TraceHeader[SetupT],
        prng: random.Random,
        record: bool = True,
    ) -> None:
        """``prng``: the run's PRNG after the header was drawn from it (a directed schedule
        that chooses every action through :meth:`advance` may pass any). ``record=False``:
        neither fingerprints nor trace lines (the trace stays empty), for a caller that needs
        only the result; the run itself, and so its result, is the same."""
        self.kind = kind
        self.header = header
        self.prng = prng
        self.record = record
        self.world = kind.build(header.setup, header.swarm)
        self.run: Run[StateT, ActionT, OutputT] = Run(self.world, fingerprints=record)
        self.trace = TraceWriter()
        if record:
            self.trace.add(header)
        self._snapshot("initial")

    def _snapshot(self, reason: SnapshotReason) -> None:
        if not self.record:
            return
        snapshot = TraceSnapshot(
            index=self.run.steps,
            reason=reason,
            fingerprint=self.run.fingerprint,
            state=msgspec.Raw(encode(self.run.state)),
        )
        self.trace.add(snapshot)

    def advance(self, action: ActionT) -> StepOutcome[OutputT]:
        """Apply an enabled action, run every checker, and write its step line."""
        outcome = self.run.step(action)
        assert isinstance(outcome, StepOutcome), f"the simulator chose a disabled action: {outcome}"
        if not self.record:
            return outcome
        step = TraceStep(
            index=self.run.steps,
            action=action,
            fingerprint=outcome.fingerprint,
            delta=outcome.delta,
        )
        self.trace.add(step)
        interval = self.header.checkpoint_interval_steps
        if interval and self.run.steps % interval == 0 and not outcome.violations:
            self._snapshot("checkpoint")
        return outcome

    def finish(self, result: TraceResult) -> SimulationResult[SetupT]:
        """Write the last snapshot and the result line."""
        self._snapshot("failure" if result.status != "pass" else "final")
        if self.record:
            self.trace.add(result)
        started = self.run.liveness_started_at
        reached = self.run.liveness_reached_at
        used = None if started is None or reached is None else reached - started
        return SimulationResult(
            header=self.header,
            result=result,
            statistics=self.run.statistics.summary(),
            coverage=self.run.coverage(),
            trace=self.trace,
            liveness_steps_used=used,
        )

    def violation(self, violations: Sequence[Violation]) -> SimulationResult[SetupT]:
        """End the run at the first violation."""
        return self.finish(violation_result(violations[0], self.run.steps))

    def passed(self) -> SimulationResult[SetupT]:
        """End the run: the checkers judge it as a whole, then it passes or not."""
        violations = self.run.finish()
        if violations:
            return self.violation(violations)
        return self.finish(TraceResult(status="pass", steps=self.run.steps))

    def execute(self) -> SimulationResult[SetupT]:
        """Run both phases to the end or to the first violation."""
        if self.run.initial_violations:
            return self.violation(self.run.initial_violations)
        swarm = self.header.swarm
        for _ in range(self.header.safety_steps):
            action = choose(self.prng, swarm, self.world.choices(self.run.state, self.run.last))
            outcome = self.advance(action)
            if outcome.violations:
                return self.violation(outcome.violations)
        self.run.start_liveness()
        if self.record:
            self.trace.add(TracePhase(index=self.run.steps, phase="liveness"))
        driver = self.world.driver(self.prng)
        for _ in range(self.header.liveness_steps):
            outcome = self.advance(driver.next_action(self.run.state, self.run.steps))
            if outcome.violations:
                return self.violation(outcome.violations)
            if self.run.liveness_reached_at is not None:
                return self.passed()
            driver.observe(self.run.steps, self.run.last)
        return self.finish(self.run.liveness_failure(self.header.liveness_steps))


def simulate(
    kind: WorldKind[SetupT, Any, Any, Any],
    options: RunOptions,
    draw_setup: Callable[[random.Random, SwarmOptions], SetupT],
    code_version: str = "unknown",
    record: bool = True,
) -> SimulationResult[SetupT]:
    """Run one simulation of ``kind`` with the options the user chose (``record=False``: no
    fingerprints and an empty trace, the same result)."""
    prng = random.Random(options.seed)
    header = make_header(kind, options, prng, draw_setup, code_version)
    return Simulation(kind, header, prng, record).execute()
