"""The etcd world as ``kubeoracle explore`` runs it (``runner.explore.simulation.Explorable``):
the seed draws the setup as for ``simulate etcd`` (3 members, 3 clients, the workload drawn);
every member mutant of ``models.etcd_member.EtcdMutant``."""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, final

from models.etcd_member import EtcdMutant
from models.etcd_world import EtcdSetup
from models.trace import SwarmOptions
from runner.etcd.world_kind import ETCD, EtcdWorldKind, draw_setup

MUTANT_DESCRIPTIONS: Final[Mapping[str, str]] = {
    EtcdMutant.STALE_LINEARIZABLE_READ.value: "a linearizable read is answered from the "
    "member's applied state without ReadIndex",
    EtcdMutant.LOST_LEASE_REVOKE.value: "revoking a lease removes the lease but not its keys",
}


def _draw(mutant: str, prng: random.Random, swarm: SwarmOptions) -> EtcdSetup:
    return draw_setup(prng, swarm, mutant=mutant)


@final
@dataclass(frozen=True, slots=True)
class EtcdExploration:
    """etcd members with clients and watchers, and the broken members; ``safety_steps`` per
    run unless the user says otherwise (as ``simulate etcd``: a history of about 50 client
    operations, enough for the leases a lost revoke needs)."""

    safety_steps: int = 2000

    @property
    def kind(self) -> EtcdWorldKind:
        return ETCD

    @property
    def mutants(self) -> Mapping[str, str]:
        return MUTANT_DESCRIPTIONS

    def setup_drawer(self, mutant: str) -> Callable[[random.Random, SwarmOptions], EtcdSetup]:
        return functools.partial(_draw, mutant)
