"""One seed of a world's simulation as a unit of work an engine can run anywhere.

A world is explorable when it says (:class:`Explorable`) which kernel world kind it is, which
deliberately broken variants (mutants) it has, and how a run's setup is drawn for a mutant.
Worlds implement the protocol without importing it (``runner.raft.simulator.RaftExploration``);
``runner/cli/worlds.py`` lists them by name. A :class:`SeedTask` carries the explorable
itself, so a worker needs no registry: it only has to import the same kubeoracle.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol, TypeAlias, TypeVar, final

from models.trace import SwarmOptions
from runner.sim.simulate import RunOptions, SimulationResult, simulate
from runner.sim.world import WorldKind

SetupT = TypeVar("SetupT")
SetupT_co = TypeVar("SetupT_co", covariant=True)

CORRECT: Final = "none"
"""The mutant name of the correct implementation."""
MESSAGE_CHARS_MAX: Final = 500

Status: TypeAlias = Literal["pass", "violation", "liveness_failure", "error"]


class Explorable(Protocol[SetupT_co]):
    """What ``explore`` needs of a world beyond its kernel kind (picklable: it travels)."""

    @property
    def kind(self) -> WorldKind[Any, Any, Any, Any]: ...

    @property
    def mutants(self) -> Mapping[str, str]:
        """Each deliberately broken variant by name, with what it breaks (not ``none``)."""
        ...

    def setup_drawer(self, mutant: str) -> Callable[[random.Random, SwarmOptions], SetupT_co]:
        """How a run of ``mutant`` (``none``: the correct code) draws its setup from the seed."""
        ...

    @property
    def safety_steps(self) -> int:
        """The safety steps of a run when the user does not choose (``--steps``): long enough
        for the world's deepest known bug, short enough for many seeds."""
        ...


@final
@dataclass(frozen=True, slots=True)
class RunChoices:
    """What the user chose for every run of an exploration."""

    safety_steps: int
    liveness_steps: int
    faults: tuple[str, ...] | None
    code_version: str

    def run_options(self, seed: int) -> RunOptions:
        return RunOptions(
            seed=seed,
            safety_steps=self.safety_steps,
            liveness_steps=self.liveness_steps,
            faults=self.faults,
        )


@final
@dataclass(frozen=True, slots=True)
class SeedTask:
    """Run seed ``seed`` of ``mutant``."""

    target: Explorable[Any]
    mutant: str
    seed: int
    choices: RunChoices


@final
@dataclass(frozen=True, slots=True)
class SeedOutcome:
    """How one seed's run ended. ``property`` names what broke (for ``error``: the exception
    type the world raised); ``steps`` is how many steps the run took."""

    mutant: str
    seed: int
    status: Status
    steps: int
    property: str | None = None
    message: str | None = None

    def group(self) -> str | None:
        """The failure group: the first violated property, or ``None`` for a pass."""
        if self.status == "pass":
            return None
        return f"{self.status}: {self.property}"


def simulate_seed(task: SeedTask, record: bool = True) -> SimulationResult[Any]:
    """The full run of a seed: with its trace, or (``record=False``) only its result."""
    drawer = task.target.setup_drawer(task.mutant)
    options = task.choices.run_options(task.seed)
    return simulate(task.target.kind, options, drawer, task.choices.code_version, record)


def run_seed(task: SeedTask) -> SeedOutcome:
    """Run one seed, without recording it (the trace of a seed worth keeping is recorded again
    by :func:`simulate_seed`); a world that raises is reported as an ``error`` outcome (a
    finding), not as a lost item."""
    try:
        result = simulate_seed(task, record=False).result
    except Exception as error:  # the world crashed: that is what this seed found
        return SeedOutcome(
            mutant=task.mutant,
            seed=task.seed,
            status="error",
            steps=0,
            property=type(error).__name__,
            message=str(error)[:MESSAGE_CHARS_MAX],
        )
    status: Status = result.status
    return SeedOutcome(
        mutant=task.mutant,
        seed=task.seed,
        status=status,
        steps=result.steps,
        property=result.property,
        message=result.message or None,
    )
