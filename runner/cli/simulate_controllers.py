"""``kubeoracle simulate controllers``: the controllers' world (``runner.controllers.world``)
with faults, its safety properties every step and eventually stable reconciliation at the end
(options and reports: :mod:`runner.cli.simulate_world`).
"""

from __future__ import annotations

import argparse
from typing import Any, Final

from runner.cli.simulate_world import WorldTarget, add_world_target

MUTANTS: Final = {
    "replicaset-ignores-expectations": "the ReplicaSet controller syncs as if no expectations "
    "were pending",
    "replicaset-counts-terminating-available": "terminating pods count as ready and available "
    "in ReplicaSet status",
    "gc-forgets-orphaning": "the garbage collector deletes dependents of an owner deleted with "
    "propagationPolicy Orphan",
}
SAFETY_STEPS: Final = 300
LIVENESS_STEPS: Final = 3000


def _simulate(seed: int, mutant: str, steps: int, liveness: int, version: str) -> Any:
    from models.controllers.world import ControllersSetup
    from runner.controllers.world_kind import CONTROLLERS
    from runner.sim.simulate import RunOptions, simulate

    options = RunOptions(seed=seed, safety_steps=steps, liveness_steps=liveness)
    return simulate(
        CONTROLLERS,
        options,
        lambda _prng, _swarm: ControllersSetup(seed=seed, mutant=mutant),
        version,
    )


TARGET: Final = WorldTarget(
    name="controllers",
    help="the API server, Deployment/ReplicaSet/garbage-collector controllers and kubelets "
    "with crashes, failovers, broken watches and lost writes",
    description=(
        "Simulate the controllers: a safety phase with the seed's faults and user changes, "
        "spec/controllers safety properties after every step, then a liveness phase in "
        "which every controller must reconcile and stop writing (ESR)."
    ),
    mutants=MUTANTS,
    mutants_title="controller mutants",
    safety_steps=SAFETY_STEPS,
    liveness_steps=LIVENESS_STEPS,
    simulate=_simulate,
)


def register_controllers(targets: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    add_world_target(targets, TARGET)
