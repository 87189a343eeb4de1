"""Trace records: what a simulation run of any world writes and what ``kubeoracle replay`` reads.

A trace is JSON Lines (``docs/trace-format.md``). The first line is a :class:`TraceHeader`
(format, version, the world's name, seed, the swarm options and the world's setup, the code
version); then one :class:`TraceStep` per action, each with the fingerprint of the world state
the action produced and the fields it changed; :class:`TraceSnapshot` lines with the full state
at checkpoints and on failure; a :class:`TracePhase` line where the liveness phase starts; and a
final :class:`TraceResult`. Records are a tagged union on the ``record`` field.

The header's ``setup`` and each step's ``action`` belong to the world (``models.raft_world``
for Raft): the records are generic in them, and a reader decodes a trace with the types of the
world its header names. Every source of nondeterminism in a run is an action, so re-applying
the actions of a trace reproduces the run exactly.
"""

from __future__ import annotations

from typing import Annotated, Generic, Literal, TypeAlias, TypeVar

import msgspec

TRACE_FORMAT = "kubeoracle-trace"
TRACE_VERSION = 2
"""Version 2: any world (``world`` names it), swarm options as fault kinds plus one weight per
action kind, and replay checks every recorded delta. Version 1 traces (Raft only) are refused."""

STEPS_MAX = 1_000_000
"""The most steps one run may take (safety and liveness phases together)."""
# Ranges a header's numbers must lie in; a trace outside them is refused naming the field.
Weight: TypeAlias = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
Positive: TypeAlias = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
Steps: TypeAlias = Annotated[int, msgspec.Meta(ge=0, le=STEPS_MAX)]

SetupT = TypeVar("SetupT")
ActionT = TypeVar("ActionT")


class SwarmOptions(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The fault mix of a run, drawn from its seed (swarm testing) unless given.

    ``weights`` maps each action kind of the world to its weight: the scheduler picks the next
    kind with probability proportional to its weight among the kinds enabled at that moment.
    A kind that injects a fault the run does not use has weight 0.
    """

    faults: tuple[str, ...]
    """The fault kinds this run may inject, sorted (the world names them)."""
    weights: dict[str, Weight]


class TraceHeader(
    msgspec.Struct,
    Generic[SetupT],
    frozen=True,
    kw_only=True,
    forbid_unknown_fields=True,
    tag_field="record",
    tag="header",
):
    """The first line of a trace."""

    format: str
    version: int
    world: str
    """Which world ran (``raft``, ``etcd``, ...): the types of ``setup`` and the actions."""
    seed: int
    code_version: str
    swarm: SwarmOptions
    setup: SetupT
    safety_steps: Steps
    liveness_steps: Steps
    """The bound on the liveness phase: progress within this many steps once faults stop."""
    checkpoint_interval_steps: Steps
    """A snapshot line follows every step whose index is a multiple of this (0: none)."""

    def __post_init__(self) -> None:
        # Checked when a trace is read (msgspec reports the record), and when one is built.
        if self.safety_steps + self.liveness_steps > STEPS_MAX:
            raise ValueError(f"safety_steps + liveness_steps must be at most {STEPS_MAX}")


class FieldChange(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One field a step changed: its path in the world state (``nodes.2.state.term``,
    ``in_flight.7``), the digest of its new value, and the value itself when it is small."""

    path: str
    digest: str
    """Hex digest of the new value; empty when the path no longer exists."""
    value: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    """The new value's JSON; absent when it is long."""


class TraceStep(
    msgspec.Struct,
    Generic[ActionT],
    frozen=True,
    kw_only=True,
    forbid_unknown_fields=True,
    tag_field="record",
    tag="step",
):
    """One action and the state it produced."""

    index: int
    """Steps count from 1 without gaps."""
    action: ActionT
    fingerprint: str
    """blake2b digest of the resulting world state (``docs/trace-format.md``)."""
    delta: tuple[FieldChange, ...] | None = None
    """The fields the step changed; replay requires exactly these when present."""


SnapshotReason: TypeAlias = Literal["initial", "checkpoint", "failure", "final"]


class TraceSnapshot(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    forbid_unknown_fields=True,
    tag_field="record",
    tag="snapshot",
):
    """The full world state after step ``index`` (0: the initial state)."""

    index: int
    reason: SnapshotReason
    fingerprint: str
    state: msgspec.Raw


class TracePhase(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    forbid_unknown_fields=True,
    tag_field="record",
    tag="phase",
):
    """The liveness phase starts after step ``index``: faults stop and heal, and progress is
    required within the header's ``liveness_steps`` steps."""

    index: int
    phase: Literal["liveness"]


ResultStatus: TypeAlias = Literal["pass", "violation", "liveness_failure"]


class TraceResult(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    forbid_unknown_fields=True,
    tag_field="record",
    tag="result",
):
    """The last line: how the run ended."""

    status: ResultStatus
    steps: int
    """How many steps the trace holds."""
    property: str | None = None
    """The violated invariant (or the liveness property that was not reached)."""
    index: int | None = None
    """The step after which the violation was seen."""
    nodes: tuple[int, ...] = ()
    """The nodes the violation involves."""
    message: str = ""


TraceRecord: TypeAlias = (
    TraceHeader[msgspec.Raw] | TraceStep[msgspec.Raw] | TraceSnapshot | TracePhase | TraceResult
)
"""A trace line whose world-specific parts are left undecoded (``msgspec.Raw``)."""
