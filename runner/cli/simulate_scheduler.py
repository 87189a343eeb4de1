"""``kubeoracle simulate scheduler``: two scheduler machines racing against one API server with
watch lag, bindings in flight, node churn and kubelet admission (``runner.scheduler.world``),
judged by ``spec.scheduler.live`` after every step (options and reports:
:mod:`runner.cli.simulate_world`).
"""

from __future__ import annotations

import argparse
from typing import Any, Final

from runner.cli.simulate_world import WorldTarget, add_world_target

MUTANTS: Final = {"sched-b-skips-fit": "sched-b runs without the NodeResourcesFit filter"}


def _simulate(seed: int, mutant: str, steps: int, liveness: int, version: str) -> Any:
    from runner.scheduler.world import SCHEDULER_WORLD, SchedulerSetup
    from runner.sim.simulate import RunOptions, simulate

    options = RunOptions(seed=seed, safety_steps=steps, liveness_steps=liveness)
    return simulate(
        SCHEDULER_WORLD,
        options,
        lambda _prng, _swarm: SchedulerSetup(seed=seed, mutant=mutant),
        version,
    )


TARGET: Final = WorldTarget(
    name="scheduler",
    help="two schedulers racing on one API server, with stale caches, node churn and kubelet "
    "admission",
    description=(
        "Simulate two reference schedulers (sched-a, sched-b) against one API server: informers "
        "that lag, bindings in flight, nodes that shrink and grow, kubelets that admit or "
        "refuse. Every binding must pass the filters at the snapshot it was made on and every "
        "admitted pod must fit; a binding made on a stale snapshot may overcommit a node at "
        "the API server, and the kubelet then refuses a pod (both are shown as coverage). "
        "Liveness: once faults stop, every pod is bound and admitted, failed, or fits nowhere."
    ),
    mutants=MUTANTS,
    mutants_title="scheduler mutants",
    safety_steps=300,
    liveness_steps=2000,
    simulate=_simulate,
)


def register_scheduler(targets: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    add_world_target(targets, TARGET)
