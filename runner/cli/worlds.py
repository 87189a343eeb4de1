"""The worlds this build simulates, by name: what ``replay``, ``schema trace`` and ``explore``
know.

A world registers here (one line) once its kind exists (``runner.<c>.world``); the kernel
itself never imports a world.
"""

from __future__ import annotations

from typing import Any, Final

from runner.apiserver.exploration import ApiServerExploration
from runner.apiserver.world import APISERVER
from runner.cluster.world_kind import CLUSTER
from runner.controllers.world_kind import CONTROLLERS
from runner.etcd.exploration import EtcdExploration
from runner.etcd.world_kind import ETCD
from runner.explore.simulation import Explorable
from runner.kubelet.world_kind import KUBELET
from runner.raft.simulator import RaftExploration
from runner.raft.world import RAFT
from runner.scheduler.world import SCHEDULER_WORLD
from runner.sim.world import WorldKind

WORLDS: Final[dict[str, WorldKind[Any, Any, Any, Any]]] = {
    RAFT.name: RAFT,
    APISERVER.name: APISERVER,
    CLUSTER.name: CLUSTER,
    CONTROLLERS.name: CONTROLLERS,
    ETCD.name: ETCD,
    KUBELET.name: KUBELET,
    SCHEDULER_WORLD.name: SCHEDULER_WORLD,
}
EXPLORABLE: Final[dict[str, Explorable[Any]]] = {
    RAFT.name: RaftExploration(),
    APISERVER.name: ApiServerExploration(),
    ETCD.name: EtcdExploration(),
}
"""The worlds ``explore`` runs: their mutants and how a mutant's setup is drawn."""
