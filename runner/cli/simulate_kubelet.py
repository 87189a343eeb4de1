"""``kubeoracle simulate kubelet``: kubelets on the simulated runtime against a stand-in API
server (``runner.kubelet.world``) with the API server unreachable, node reboots, clock jumps
and memory pressure; every ``spec.kubelet`` property after every step, then a liveness phase
in which every Lease must be fresh and every pod's API status current (options and reports:
:mod:`runner.cli.simulate_world`).
"""

from __future__ import annotations

import argparse
from typing import Any, Final

from runner.cli.simulate_world import WorldTarget, add_world_target

MUTANTS: Final = {
    "probe-threshold-off-by-one": "a probe result flips one consecutive answer late",
    "backoff-not-reset": "the crash-loop backoff never expires, however long a container ran",
    "eviction-ignores-priority": "node-pressure eviction ranks by usage alone",
    "disk-eviction-ranks-by-memory": "under disk pressure pods are ranked by memory, not disk",
}


def _simulate(seed: int, mutant: str, steps: int, liveness: int, version: str) -> Any:
    from models.kubelet.world import KubeletSetup
    from runner.kubelet.world_kind import KUBELET
    from runner.sim.simulate import RunOptions, simulate

    options = RunOptions(seed=seed, safety_steps=steps, liveness_steps=liveness)
    setup = KubeletSetup(seed=seed, mutant=mutant)
    return simulate(KUBELET, options, lambda _prng, _swarm: setup, version)


TARGET: Final = WorldTarget(
    name="kubelet",
    help="kubelets on the simulated runtime with an unreachable API server, reboots, clock "
    "jumps and memory pressure",
    description=(
        "Simulate kubelets: a safety phase with the seed's faults and pods, spec/kubelet "
        "properties after every step, then a liveness phase in which every node's Lease must "
        "be fresh and every pod's API status must reach its kubelet's phase."
    ),
    mutants=MUTANTS,
    mutants_title="kubelet mutants",
    safety_steps=400,
    liveness_steps=200,
    simulate=_simulate,
)


def register_kubelet(targets: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    add_world_target(targets, TARGET)
