"""``kubeoracle simulate cluster``: the whole cluster (``runner.cluster``): etcd members on
Raft, the API server, the scheduler, two controller-manager replicas electing a leader, N
kubelets and kube-proxy, with the seed's faults and a user's changes; every ``spec.cluster``
property after every step, then a liveness phase in which every Deployment must reach its
replicas and every Service its ready endpoints (options and reports:
:mod:`runner.cli.simulate_world`; ``--nodes N`` sets the kubelets).
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, Final

from runner.cli.options import bounded_int
from runner.cli.simulate_world import WorldTarget, add_world_target, run_world_target

MUTANTS: Final = {
    "scheduler-ignores-taint-update": "the scheduler's cache drops a node's taints when the "
    "node is updated",
    "controller-stale-cache-after-failover": "a controller manager keeps its caches when it "
    "loses the Lease and acts on them, without listing, once leader again",
    "kubelet-runs-deleted-pod": "the kubelet is never told that a pod is being deleted or gone "
    "from the API server and keeps running it",
}
SAFETY_STEPS: Final = 1500
LIVENESS_STEPS: Final = 8000
NODES_MAX: Final = 200


def _simulate(nodes: int) -> Any:
    def simulate_seed(seed: int, mutant: str, steps: int, liveness: int, version: str) -> Any:
        from models.cluster_world import ClusterSetup
        from runner.cluster.world_kind import CLUSTER
        from runner.sim.simulate import RunOptions, simulate

        options = RunOptions(seed=seed, safety_steps=steps, liveness_steps=liveness)
        setup = ClusterSetup(seed=seed, nodes=nodes, mutant=mutant)
        return simulate(CLUSTER, options, lambda _prng, _swarm: setup, version)

    return simulate_seed


TARGET: Final = WorldTarget(
    name="cluster",
    help="the whole cluster: etcd on Raft, API server, scheduler, controller managers with "
    "leader election, kubelets, with faults",
    description=(
        "Simulate a whole cluster whose components talk only through the API server: etcd "
        "members on Raft, the API server, the scheduler, two controller-manager replicas "
        "electing a leader on a Lease, N kubelets on the simulated runtime and kube-proxy. "
        "The seed picks the faults (node crash, partitions, etcd leader loss, API server "
        "restart, watch disconnect, controller failover, clock skew) and a user's changes "
        "(scale, rollout, pod deletion, taints, drains). Every spec/cluster property is "
        "judged after every step; then faults heal, every Deployment must reach its replicas "
        "and kube-proxy must forward every Service to exactly its ready pods."
    ),
    mutants=MUTANTS,
    mutants_title="cluster mutants",
    safety_steps=SAFETY_STEPS,
    liveness_steps=LIVENESS_STEPS,
    simulate=_simulate(3),
)


def _run(args: argparse.Namespace) -> Any:
    target = dataclasses.replace(TARGET, simulate=_simulate(args.nodes))
    return run_world_target(target, args)


def register_cluster(targets: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_world_target(targets, TARGET)
    parser.add_argument(
        "--nodes",
        type=bounded_int(1, NODES_MAX),
        default=3,
        help=f"kubelets (nodes), 1..{NODES_MAX} (default 3)",
    )
    parser.set_defaults(handler=_run)
