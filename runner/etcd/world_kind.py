"""The etcd world as the kernel sees it: the kind registered as ``etcd``, one run's world, and
the options a seed draws.

:data:`ETCD` names the world's trace types (``models.etcd_world``), its action kinds and fault
kinds for swarm testing (``runner.etcd.world_choices``) and builds :class:`EtcdWorld` from a
trace header's setup. :func:`draw_setup` draws what the user left to chance (Raft timing,
PreVote, CheckQuorum, lease TTL (at most five seconds for the lock workload, so a client's
pause can outlast it), snapshot interval, how many members may be down, the client
workload). Nothing
depends on the mutant that runs.
"""

from __future__ import annotations

import random
from typing import Any, Final, final

from models.etcd_world import MUTANT_NONE, EtcdAction, EtcdSetup
from models.trace import SwarmOptions
from runner.errors import InputError
from runner.etcd.conform import watch_requests
from runner.etcd.sim_lock import LOCK_TTL_MAX_SECONDS
from runner.etcd.sim_lock_check import LockChecker, LockFindings, LockTally
from runner.etcd.sim_workload import SWARM_WORKLOADS, WORKLOADS
from runner.etcd.world import EtcdApplied, EtcdEngine, EtcdWorldState
from runner.etcd.world_checks import (
    HistoryChecker,
    MembersRaftChecker,
    Tally,
    WriteAcknowledged,
)
from runner.etcd.world_choices import ACTION_KINDS, FAULT_KINDS, FairDriver, SafetyChoices
from runner.sim.world import Choice, NotEnabled, check_world_kind

ELECTION_TIMEOUT_CHOICES: Final = (5, 10, 10, 20)
LEASE_TTL_CHOICES: Final = (2, 5, 10, 30)
"""Lease TTLs in seconds (the members' clocks tick 100 ms): short ones expire in most runs."""
SNAPSHOT_EVERY_CHOICES: Final = (5, 20, 100, 1000)


def draw_setup(
    prng: random.Random,
    swarm: SwarmOptions,
    *,
    members: int = 3,
    clients: int = 3,
    mutant: str = MUTANT_NONE,
    workload: str | None = None,
) -> EtcdSetup:
    """The options the seed leaves to chance (see the module docstring); ``workload=None``:
    the seed draws it too."""
    del swarm  # every option is drawn whatever the mix, so a seed's choices do not depend on it
    drawn_workload = prng.choice(SWARM_WORKLOADS)
    chosen = drawn_workload if workload is None else workload
    keys = prng.choice((2, 4, 6))
    ttl = prng.choice(LEASE_TTL_CHOICES)  # drawn in this order so seeds keep their runs
    return EtcdSetup(
        members=members,
        clients=clients,
        watches=4,
        keys=keys,
        workload=chosen,
        lease_ttl_seconds=min(ttl, LOCK_TTL_MAX_SECONDS) if chosen == "lock" else ttl,
        election_timeout_ticks=prng.choice(ELECTION_TIMEOUT_CHOICES),
        pre_vote=prng.random() < 0.5,
        check_quorum=prng.random() < 0.5,
        tick_ms=100,
        request_timeout_ms=prng.choice((2000, 7000)),
        snapshot_every_entries=prng.choice(SNAPSHOT_EVERY_CHOICES),
        max_down=prng.randint(1, max(1, members - 1)),
        max_in_flight=4 * (members + 2) ** 2,
        mutant=mutant,
    )


@final
class EtcdWorld:
    """One run of the etcd world."""

    def __init__(self, setup: EtcdSetup) -> None:
        if setup.workload not in WORKLOADS:
            known = ", ".join(sorted(WORKLOADS))
            raise InputError(f"unknown workload {setup.workload!r} (known: {known})",
                             field="setup.workload")  # fmt: skip
        self.setup = setup
        requests = watch_requests(random.Random(setup.keys), setup.keys)[: setup.watches]
        self.engine = EtcdEngine(setup, requests)
        self.scheduler = SafetyChoices(self.engine)
        self.lock_findings = LockFindings()

    def initial(self) -> EtcdApplied:
        return self.engine.initial()

    def apply(self, state: EtcdWorldState, action: EtcdAction) -> EtcdApplied | NotEnabled:
        return self.engine.apply(state, action)

    def choices(self, state: EtcdWorldState, last: EtcdApplied) -> list[Choice[EtcdAction]]:
        return self.scheduler.choices(state, last)

    def checkers(self) -> tuple[MembersRaftChecker | HistoryChecker | LockChecker, ...]:
        if self.setup.workload == "lock":
            # The keyspace model does not implement the recipe's sorted, revision-filtered
            # ranges, so the lock workload's history is judged by the lock checker only.
            return (MembersRaftChecker(), LockChecker(self.lock_findings))
        return (MembersRaftChecker(), HistoryChecker())

    def progress(self) -> WriteAcknowledged:
        return WriteAcknowledged()

    def driver(self, prng: random.Random) -> FairDriver:
        return FairDriver(self.engine, prng)

    def statistics(self) -> Tally | LockTally:
        return LockTally(self.lock_findings) if self.setup.workload == "lock" else Tally()


@final
class EtcdWorldKind:
    """The etcd world for the kernel: trace types, swarm catalogue, ``build``."""

    name: Final = "etcd"
    setup_type: Final = EtcdSetup
    action_type: Final[Any] = EtcdAction
    action_kinds: Final = ACTION_KINDS
    fault_kinds: Final = FAULT_KINDS

    def build(self, setup: EtcdSetup, swarm: SwarmOptions) -> EtcdWorld:
        del swarm  # the swarm weights already hold every fault kind that is off
        return EtcdWorld(setup)


ETCD: Final = EtcdWorldKind()
check_world_kind(ETCD)
