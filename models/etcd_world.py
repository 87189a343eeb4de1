"""The etcd world's vocabulary: its client actions, its action union and its setup.

The etcd world (``runner.etcd.world``) runs etcd member machines (``impl.etcd.member``) on a
simulated network, with clients and watchers. Its actions are the environment's
(``models.environment``: deliver, drop, duplicate, tick, crash, restart, partition, heal,
random) plus a client's request to one member, a watch opened on one member, the pause and
resumption of a member's process, and the pause of a client's process. :class:`EtcdSetup` is
everything replay needs besides the actions: the cluster, the members' options, the workload
and the fault options the seed drew.
"""

from __future__ import annotations

from typing import Annotated, TypeAlias

import msgspec

from models.environment import (
    Action,
    Crash,
    Deliver,
    DrawRandom,
    Drop,
    Duplicate,
    Heal,
    NodeId,
    Partition,
    Restart,
    Tick,
)
from models.etcd_member import EtcdMutant
from models.history import EtcdOperation
from models.trace import Positive

MUTANT_NONE = "none"
MUTANT_NAMES = frozenset(mutant.value for mutant in EtcdMutant)


class ClientCall(Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="call"):
    """Client ``client`` (idle) sends ``request`` to member ``member`` (up, not paused)."""

    client: Annotated[int, msgspec.Meta(ge=0)]
    member: NodeId
    request: EtcdOperation


class OpenWatch(Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="watch"):
    """Watcher ``watch`` (whose stream is closed) opens its stream on member ``member``,
    resuming after the last revision it received."""

    watch: Annotated[int, msgspec.Meta(ge=0)]
    member: NodeId


class Pause(Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="pause"):
    """Member ``node``'s process stops (SIGSTOP): it neither ticks nor takes messages nor
    requests until resumed; what is sent to it waits in the network."""

    node: NodeId


class Resume(Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="resume"):
    """A paused member's process continues (SIGCONT)."""

    node: NodeId


class ClientPause(
    Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="pause_client"
):
    """Client ``client`` (idle) stops for ``duration_ms`` of the members' clock: it sends
    nothing and renews no lease until the members' clocks have passed that time."""

    client: Annotated[int, msgspec.Meta(ge=0)]
    duration_ms: Positive


EtcdAction: TypeAlias = (
    Deliver
    | Drop
    | Duplicate
    | Tick
    | Crash
    | Restart
    | Partition
    | Heal
    | DrawRandom
    | ClientCall
    | OpenWatch
    | Pause
    | Resume
    | ClientPause
)
"""Every action of the etcd world."""


class EtcdSetup(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What an etcd run starts from: everything replay needs besides the actions."""

    members: Annotated[int, msgspec.Meta(ge=1, le=7)]
    """Voting members, ids ``1..members``."""
    clients: Annotated[int, msgspec.Meta(ge=1, le=16)]
    watches: Annotated[int, msgspec.Meta(ge=0, le=8)]
    """Watchers (each keeps one logical watch open, resuming it after a break)."""
    keys: Annotated[int, msgspec.Meta(ge=1, le=64)]
    workload: str
    """The client workload's name (``runner.etcd.sim_workload``)."""
    lease_ttl_seconds: Positive
    election_timeout_ticks: Annotated[int, msgspec.Meta(ge=2, le=1000)]
    pre_vote: bool
    check_quorum: bool
    tick_ms: Positive
    request_timeout_ms: Positive
    snapshot_every_entries: Positive
    max_down: Annotated[int, msgspec.Meta(ge=0, le=7)]
    """How many members may be crashed or paused at once."""
    max_in_flight: Positive
    mutant: str
    """``none``, or the name of a deliberately broken member (``models.etcd_member``)."""

    def __post_init__(self) -> None:
        # Checked when a trace is read (msgspec names the field as "setup"), and when built.
        if self.mutant != MUTANT_NONE and self.mutant not in MUTANT_NAMES:
            known = ", ".join(sorted(MUTANT_NAMES))
            raise ValueError(f"unknown mutant {self.mutant!r} (known: none, {known})")

    def etcd_mutant(self) -> EtcdMutant | None:
        return None if self.mutant == MUTANT_NONE else EtcdMutant(self.mutant)
