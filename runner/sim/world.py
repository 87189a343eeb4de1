"""What a world gives the simulation kernel: the interface every simulated world implements.

A **world** is a set of component machines plus the network and storage between them, all as
one immutable state value (``runner.sim.machines`` builds such states from component hosts).
The kernel (``runner.sim.run``, ``runner.sim.simulate``, ``runner.sim.replay``) runs any world:
it asks which actions are enabled, lets the seed pick (:mod:`runner.sim.swarm`), applies the
action, fingerprints the state, hands the step to every registered checker, and writes and
replays traces. A world never draws randomness except through the PRNG the kernel passes in.

A world is described twice:

- :class:`WorldKind`, registered by name (``raft``, ``etcd``): the types a trace of it holds
  (setup, action union), its action kinds and fault kinds for swarm testing, and ``build`` to
  make a :class:`World` from a trace header's setup;
- :class:`World`, one run's world: its initial state, ``apply``, the enabled choices in a
  state, its checkers, its liveness progress property and driver, and its statistics.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, final

from models.trace import SwarmOptions
from spec.property import Violation

__all__ = ["Violation"]

StateT = TypeVar("StateT")
ActionT = TypeVar("ActionT")
OutputT = TypeVar("OutputT")
SetupT = TypeVar("SetupT")
StateT_contra = TypeVar("StateT_contra", contravariant=True)
ActionT_contra = TypeVar("ActionT_contra", contravariant=True)
OutputT_contra = TypeVar("OutputT_contra", contravariant=True)
ActionT_co = TypeVar("ActionT_co", covariant=True)
SetupT_contra = TypeVar("SetupT_contra", contravariant=True)


@final
@dataclass(frozen=True, slots=True)
class Applied(Generic[StateT, OutputT]):
    """An action's result: the new state and what the machines produced (their commands, with
    whatever the world adds), in order."""

    state: StateT
    outputs: tuple[OutputT, ...]


@final
@dataclass(frozen=True, slots=True)
class NotEnabled:
    """The action cannot happen in this state, and why."""

    reason: str


@final
@dataclass(frozen=True, slots=True)
class ActionKind:
    """A kind of action the world offers, for swarm testing: its name, the fault kind it
    injects (``None``: part of every run) and the range its weight is drawn from."""

    name: str
    fault: str | None
    weight_low: int
    weight_high: int

    def __post_init__(self) -> None:
        assert 0 <= self.weight_low <= self.weight_high, self


@final
@dataclass(frozen=True, slots=True)
class Choice(Generic[ActionT]):
    """An enabled action of kind ``kind``; ``make`` builds the concrete action from the run's
    PRNG (which message, which node) once the kind is picked."""

    kind: str
    make: Callable[[random.Random], ActionT]


class Checker(Protocol[StateT_contra, ActionT_contra, OutputT_contra]):
    """A property checker registered by a world: it sees every state of a run, in order.

    ``start`` judges the initial state, ``step`` each step (``before`` is the previous state, so
    an incremental checker can look only at what changed), ``finish`` the run as a whole (a
    client history, for example) once no more steps come. Each returns the properties broken,
    empty when all hold. ``coverage`` names each ``sometimes`` property with the first step it
    held at (``None``: never, so the safety property it accompanies was checked vacuously).
    """

    def start(self, state: StateT_contra) -> tuple[Violation, ...]: ...

    def step(
        self,
        index: int,
        action: ActionT_contra,
        before: StateT_contra,
        after: StateT_contra,
        outputs: tuple[OutputT_contra, ...],
    ) -> tuple[Violation, ...]: ...

    def finish(self, state: StateT_contra, index: int) -> tuple[Violation, ...]: ...

    def coverage(self) -> Mapping[str, int | None]: ...


class Progress(Protocol[StateT_contra, OutputT_contra]):
    """The liveness property of a world: once faults stop, progress must be seen within the
    run's liveness bound. ``observe`` is called after every liveness-phase step."""

    name: str

    def observe(self, state: StateT_contra, outputs: tuple[OutputT_contra, ...]) -> bool:
        """True once progress was made."""
        ...

    def failure(self, bound: int) -> str:
        """What was not seen within ``bound`` steps, in words."""
        ...


class Driver(Protocol[StateT, ActionT_co, OutputT]):
    """Chooses the liveness phase's actions: heal, restart, then a fair schedule."""

    def next_action(self, state: StateT, index: int) -> ActionT_co: ...

    def observe(self, index: int, applied: Applied[StateT, OutputT]) -> None: ...


class Statistics(Protocol[ActionT_contra, OutputT_contra]):
    """Counts what a run did, for its report."""

    def count(self, action: ActionT_contra, outputs: tuple[OutputT_contra, ...]) -> None: ...

    def summary(self) -> dict[str, object]: ...


class World(Protocol[StateT, ActionT, OutputT]):
    """One run's world, built from a setup and the swarm options."""

    def initial(self) -> Applied[StateT, OutputT]:
        """The state every node starts in (and what the machines did to get there)."""
        ...

    def apply(self, state: StateT, action: ActionT) -> Applied[StateT, OutputT] | NotEnabled:
        """Apply one action, deterministically."""
        ...

    def choices(self, state: StateT, last: Applied[StateT, OutputT]) -> Sequence[Choice[ActionT]]:
        """The actions enabled in ``state`` during the safety phase, one choice per kind at
        most, in a fixed order (``last`` is the previous step, for targeted scenarios)."""
        ...

    def checkers(self) -> tuple[Checker[StateT, ActionT, OutputT], ...]:
        """Fresh checkers for one run, in the order their violations are reported."""
        ...

    def progress(self) -> Progress[StateT, OutputT]: ...

    def driver(self, prng: random.Random) -> Driver[StateT, ActionT, OutputT]: ...

    def statistics(self) -> Statistics[ActionT, OutputT]: ...


class WorldKind(Protocol[SetupT_contra, StateT, ActionT, OutputT]):
    """A world by name: what its traces hold and how to build it from a header."""

    @property
    def name(self) -> str: ...

    @property
    def setup_type(self) -> Any:
        """The type of the header's ``setup`` (a ``msgspec.Struct``)."""
        ...

    @property
    def action_type(self) -> Any:
        """The union of the world's actions (tagged on ``action``)."""
        ...

    @property
    def action_kinds(self) -> tuple[ActionKind, ...]: ...

    @property
    def fault_kinds(self) -> tuple[str, ...]:
        """The fault kinds swarm testing turns on or off; each action kind's ``fault`` is one."""
        ...

    def build(
        self, setup: SetupT_contra, swarm: SwarmOptions
    ) -> World[StateT, ActionT, OutputT]: ...


def check_world_kind(kind: WorldKind[Any, Any, Any, Any]) -> None:
    """Assert that a world kind's catalogue is consistent (unique names, known faults)."""
    names = [action.name for action in kind.action_kinds]
    assert len(names) == len(set(names)), f"{kind.name}: action kinds repeat"
    for action in kind.action_kinds:
        assert action.fault is None or action.fault in kind.fault_kinds, action
