"""The client workloads of ``simulate etcd``, by name: where a simulated client's next request
is drawn.

A workload says which request an idle client sends next (drawn from the run's PRNG, given what
the client knows) and what the client learns from a successful answer. The world
(``runner.etcd.world``) records every request and answer in the history the checkers judge, so
a workload needs no checker of its own. ``kv`` is the mix of ``conform etcd``
(:mod:`runner.etcd.workload`); ``leases`` puts most keys on leases that clients keep alive,
revoke or let expire; ``lock`` runs etcd's lock recipe (:mod:`runner.etcd.sim_lock`, with
its own checker). Unless the user names one, the seed draws the workload among ``kv`` and
``leases`` (swarm testing over the client mix too). A new workload is one class and one line
in :data:`WORKLOADS`; the run's setup names it, so a trace replays with it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final, Protocol, final

from models.etcd import (
    DeleteRangeRequest,
    LeaseGrantRequest,
    LeaseKeepAliveRequest,
    LeaseRevokeRequest,
    PutRequest,
    RangeRequest,
    prefix_range_end,
)
from models.etcd_world import EtcdSetup
from models.history import EtcdAnswer, EtcdOperation
from runner.etcd import workload
from runner.etcd.sim_lock import LockWorkload
from runner.etcd.workload import ClientKnowledge


class Workload(Protocol):
    """What a simulated client sends and learns."""

    def next_request(
        self, prng: random.Random, knows: ClientKnowledge, setup: EtcdSetup
    ) -> EtcdOperation:
        """The client's next request (the world records that it was sent)."""
        ...

    def called(self, knows: ClientKnowledge, request: EtcdOperation) -> ClientKnowledge:
        """What the client knows once ``request`` is sent."""
        ...

    def learn(
        self, knows: ClientKnowledge, request: EtcdOperation, response: EtcdAnswer
    ) -> ClientKnowledge:
        """What a successful answer teaches the client."""
        ...


@final
@dataclass(frozen=True, slots=True)
class KeyValueWorkload:
    """Gets (linearizable and serializable), prefix ranges, puts (some on leases), deletes,
    compare-and-set and multi-key txns, lease grants, revokes and keepalives, compactions."""

    def next_request(
        self, prng: random.Random, knows: ClientKnowledge, setup: EtcdSetup
    ) -> EtcdOperation:
        return workload.next_request(prng, knows, setup.keys, setup.lease_ttl_seconds)

    def called(self, knows: ClientKnowledge, request: EtcdOperation) -> ClientKnowledge:
        return workload.called(knows, request)

    def learn(
        self, knows: ClientKnowledge, request: EtcdOperation, response: EtcdAnswer
    ) -> ClientKnowledge:
        return workload.learn(knows, request, response)


@final
@dataclass(frozen=True, slots=True)
class LeaseWorkload:
    """Keys that live on leases: grants, puts on a lease the client holds, keepalives and
    revokes, with gets and prefix ranges that see which keys are still there, and plain
    puts and deletes that detach keys from their leases."""

    def next_request(
        self, prng: random.Random, knows: ClientKnowledge, setup: EtcdSetup
    ) -> EtcdOperation:
        choice = prng.randrange(100)
        key = workload.key_name(prng.randrange(setup.keys))
        if choice < 15 or not knows.leases:
            return LeaseGrantRequest(TTL=setup.lease_ttl_seconds, ID=workload.lease_id(knows))
        lease = prng.choice(knows.leases)
        value = f"c{knows.client}-{knows.calls}.0".encode()
        if choice < 45:
            return PutRequest(key=key, value=value, lease=lease)
        if choice < 55:
            return LeaseRevokeRequest(ID=lease)
        if choice < 65:
            return LeaseKeepAliveRequest(ID=lease)
        if choice < 75:
            return RangeRequest(key=key)
        if choice < 90:
            everything = prefix_range_end(workload.KEY_PREFIX)
            return RangeRequest(key=workload.KEY_PREFIX, range_end=everything)
        if choice < 95:
            return PutRequest(key=key, value=value)
        return DeleteRangeRequest(key=key)

    def called(self, knows: ClientKnowledge, request: EtcdOperation) -> ClientKnowledge:
        return workload.called(knows, request)

    def learn(
        self, knows: ClientKnowledge, request: EtcdOperation, response: EtcdAnswer
    ) -> ClientKnowledge:
        return workload.learn(knows, request, response)


WORKLOADS: Final[dict[str, Workload]] = {
    "kv": KeyValueWorkload(),
    "leases": LeaseWorkload(),
    "lock": LockWorkload(),
}
"""Every workload by the name a setup gives it."""
SWARM_WORKLOADS: Final = ("kv", "leases")
"""What a seed draws its workload from when the user names none. Adding a name here changes
what every seed draws: the known catching seeds of ``tests/etcd/test_simulate_etcd.py`` and the
figures of ``docs/etcd.md`` must then be measured again (a workload only in :data:`WORKLOADS`
runs with ``--workload NAME`` and changes nothing else: ``lock``, whose checks are its own,
``runner.etcd.sim_lock_check``)."""
