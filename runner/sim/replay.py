"""Replay: re-execute a trace of any world and find the first step where the run departs from it.

The header names the world and gives its setup; each step's action is applied with the same
code the simulator uses (:class:`runner.sim.run.Run`), and the resulting fingerprint must equal
the recorded one, and so must the recorded delta (every changed field, with its digest and
value) when the step has one: a trace whose deltas were altered does not replay. Snapshot
lines must match the state in full; the result line must be reproduced (the same property
broken after the same step, or the liveness phase ending the same way).

At the first divergence the report says which step, which action, and which fields differ:
the recorded delta holds the expected new values of the fields the step changed (or their
digests, for long values), the replay holds the values it got, and a field the step changed on
one side only keeps its previous value on the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, final

import msgspec

from models.trace import FieldChange, TracePhase, TraceResult, TraceSnapshot, TraceStep
from runner.sim.fingerprint import REMOVED_DIGEST, encode, to_builtins, value_at
from runner.sim.run import AnyRun, Run, StepOutcome, violation_result
from runner.sim.trace import ParsedTrace
from runner.sim.world import NotEnabled, Violation

DIFFERENCES_MAX: Final = 40
"""A divergence report lists at most this many differing fields."""


@final
@dataclass(frozen=True, slots=True)
class Difference:
    """One field that differs: where, what the trace says, what the replay got."""

    path: str
    expected: Any
    got: Any

    def describe(self) -> str:
        """``node 2: state.persisted.term: expected 3, got 4``."""
        parts = self.path.split(".")
        if len(parts) >= 2 and parts[0] == "nodes":
            place = f"node {parts[1]}: {'.'.join(parts[2:]) or '(whole node)'}"
        else:
            place = self.path
        return f"{place}: expected {_show(self.expected)}, got {_show(self.got)}"


def _show(value: Any) -> str:
    text = msgspec.json.encode(value).decode()
    return text if len(text) <= 200 else text[:197] + "..."


@final
@dataclass(frozen=True, slots=True)
class Divergence:
    """The first place the replay departs from the trace."""

    step: int
    line: int
    reason: str
    action: Any = None
    differences: tuple[Difference, ...] = ()


@final
@dataclass(frozen=True, slots=True)
class ReplayReport:
    """The outcome of a replay."""

    steps_replayed: int
    """Steps re-executed and matched (before the divergence, if any)."""
    recorded: TraceResult
    divergence: Divergence | None

    @property
    def reproduced(self) -> bool:
        return self.divergence is None


def _expected_value(change: FieldChange) -> Any:
    if change.digest == REMOVED_DIGEST:
        return "(absent)"
    if isinstance(change.value, msgspec.Raw):
        return msgspec.json.decode(change.value)
    return f"(value with digest {change.digest})"


def _state_value(state: object, path: str) -> Any:
    found, value = value_at(state, path)
    return to_builtins(value) if found else "(absent)"


def _same_change(expected: FieldChange, got: FieldChange) -> bool:
    """Whether a recorded change says exactly what the replay computed: the digest, and the
    value when either side carries one."""
    if expected.digest != got.digest:
        return False
    if isinstance(expected.value, msgspec.Raw) or isinstance(got.value, msgspec.Raw):
        expected_bytes = bytes(expected.value) if isinstance(expected.value, msgspec.Raw) else None
        got_bytes = bytes(got.value) if isinstance(got.value, msgspec.Raw) else None
        return expected_bytes == got_bytes
    return True


def diff_step(
    recorded: tuple[FieldChange, ...] | None,
    got: tuple[FieldChange, ...],
    before: object,
    after: object,
) -> tuple[Difference, ...]:
    """The fields whose values after the step differ between the trace and the replay (with
    no recorded delta, only the fields the replay changed can be named)."""
    expected_changes = {change.path: change for change in recorded or ()}
    got_changes = {change.path: change for change in got}
    differences: list[Difference] = []
    for path in sorted(set(expected_changes) | set(got_changes)):
        expected = expected_changes.get(path)
        actual = got_changes.get(path)
        if expected is not None and actual is not None and _same_change(expected, actual):
            continue
        if expected is None and recorded is None:
            continue
        expected_value = (
            _expected_value(expected) if expected is not None else _state_value(before, path)
        )
        got_value = _state_value(after, path)
        differences.append(Difference(path, expected_value, got_value))
        if len(differences) >= DIFFERENCES_MAX:
            break
    return tuple(differences)


def _check_step(
    run: AnyRun, line: int, record: TraceStep[Any]
) -> tuple[Divergence | None, tuple[Violation, ...]]:
    """Apply one recorded step: a divergence, or the properties the new state breaks."""
    before = run.state
    outcome = run.step(record.action)
    action = to_builtins(record.action)
    if isinstance(outcome, NotEnabled):
        reason = f"the action cannot happen here: {outcome.reason}"
        return Divergence(record.index, line, reason, action), ()
    assert isinstance(outcome, StepOutcome)
    if outcome.fingerprint != record.fingerprint:
        differences = diff_step(record.delta, outcome.delta, before, run.state)
        reason = f"fingerprint {outcome.fingerprint}, the trace says {record.fingerprint}"
        if not differences:
            reason += (
                ", yet every field the trace records matches: the recorded fingerprint was "
                "altered or the trace has no delta for this step"
            )
        return Divergence(record.index, line, reason, action, differences), ()
    if record.delta is not None and record.delta != outcome.delta:
        differences = diff_step(record.delta, outcome.delta, before, run.state)
        reason = (
            "the state matches the recorded fingerprint but the recorded delta is false: "
            f"it does not list exactly the {len(outcome.delta)} field(s) the step changed"
        )
        return Divergence(record.index, line, reason, action, differences), ()
    return None, outcome.violations


def _check_result(
    run: AnyRun, parsed: ParsedTrace, broken: TraceResult | None
) -> Divergence | None:
    recorded = parsed.result
    if broken is not None:
        got = broken
    elif run.liveness_started_at is not None and run.liveness_reached_at is None:
        got = run.liveness_failure(parsed.header.liveness_steps)
    else:
        at_end = run.finish()
        got = (
            violation_result(at_end[0], run.steps)
            if at_end
            else TraceResult(status="pass", steps=run.steps)
        )
    same = (got.status, got.property, got.index) == (
        recorded.status,
        recorded.property,
        recorded.index,
    )
    if same:
        return None
    expected = f"{recorded.status} {recorded.property or ''} at step {recorded.index}"
    reason = f"the run ends with {got.status} {got.property or ''} at step {got.index}; "
    return Divergence(run.steps, parsed.result_line, reason + f"the trace says {expected}")


def replay(parsed: ParsedTrace) -> ReplayReport:
    """Re-execute ``parsed`` and compare every step, snapshot and the result."""
    run: AnyRun = Run(parsed.kind.build(parsed.header.setup, parsed.header.swarm))
    broken: TraceResult | None = None
    if run.initial_violations:
        broken = violation_result(run.initial_violations[0], 0)
    for line, record in parsed.records:
        if isinstance(record, TraceStep):
            if broken is not None:
                reason = f"the run already broke {broken.property} at step {broken.index}"
                return ReplayReport(
                    run.steps, parsed.result, Divergence(record.index, line, reason)
                )
            divergence, violations = _check_step(run, line, record)
            if divergence is not None:
                return ReplayReport(record.index - 1, parsed.result, divergence)
            if violations:
                broken = violation_result(violations[0], run.steps)
        elif isinstance(record, TraceSnapshot):
            divergence = _check_snapshot(run, line, record)
            if divergence is not None:
                return ReplayReport(run.steps, parsed.result, divergence)
        elif isinstance(record, TracePhase):
            run.start_liveness()
    divergence = _check_result(run, parsed, broken)
    return ReplayReport(run.steps, parsed.result, divergence)


def _check_snapshot(run: AnyRun, line: int, record: TraceSnapshot) -> Divergence | None:
    if record.fingerprint != run.fingerprint:
        reason = f"snapshot fingerprint {record.fingerprint}, the replay has {run.fingerprint}"
        return Divergence(record.index, line, reason)
    if bytes(record.state) != encode(run.state):
        reason = "the snapshot's state differs from the replayed state"
        return Divergence(record.index, line, reason)
    return None
