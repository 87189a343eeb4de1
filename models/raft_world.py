"""The Raft world's vocabulary: its client actions, its action union and its setup.

The Raft world (``runner.raft.world``) is a cluster of ``impl.raft`` nodes on a simulated
network. Its actions are the environment's (``models.environment``) plus what clients and
operators do: propose a value, take a snapshot, change the membership, leave a joint
configuration, ask for a read index. :class:`RaftSetup` is everything replay needs besides the
actions: the cluster, Raft's options and the fault options the seed drew.
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
    Link,
    NodeId,
    Partition,
    Restart,
    Tick,
)
from models.raft import ConfChangeTransition, ConfChangeType, RaftMutant
from models.trace import Positive

__all__ = [
    "ChangeMembership",
    "ClusterAction",
    "Compact",
    "ConfChangeItem",
    "Crash",
    "Deliver",
    "DrawRandom",
    "Drop",
    "Duplicate",
    "Heal",
    "LeaveJoint",
    "Link",
    "NodeId",
    "Partition",
    "Propose",
    "RaftSetup",
    "RequestReadIndex",
    "Restart",
    "Tick",
]


class Propose(Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="propose"):
    """A client asks a node to append ``value`` to the replicated log."""

    node: NodeId
    value: str


class ConfChangeItem(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One change of a membership change request (etcd ``ConfChangeSingle``): ``add_node`` of
    a current learner promotes it."""

    type: ConfChangeType
    node: NodeId


class Compact(Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="compact"):
    """The node's application takes a snapshot at its applied index and the node discards
    the log up to it."""

    node: NodeId


class ChangeMembership(
    Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="conf_change"
):
    """A client asks a node to change the configuration: one change is simple, several go
    through a joint configuration (etcd's ConfChangeV2)."""

    node: NodeId
    changes: tuple[ConfChangeItem, ...]
    transition: ConfChangeTransition = "auto"
    """``auto``: one change is applied directly, several enter a joint configuration that is
    left on its own; ``implicit``: always joint, left on its own; ``explicit``: joint, left by a
    later ``leave_joint``."""


class LeaveJoint(Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="leave_joint"):
    """A client asks a node to leave the joint configuration (an empty ConfChangeV2)."""

    node: NodeId


class RequestReadIndex(
    Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="read_index"
):
    """A client asks a node for a linearizable read point (ReadIndex, Raft thesis section 6.4);
    ``context`` (UTF-8) names the request in the node's ``ReadIndexReady`` or
    ``ReadIndexDropped`` answer. It appends nothing to the log."""

    node: NodeId
    context: str


ClusterAction: TypeAlias = (
    Deliver
    | Drop
    | Duplicate
    | Tick
    | Propose
    | Crash
    | Restart
    | Partition
    | Heal
    | DrawRandom
    | Compact
    | ChangeMembership
    | LeaveJoint
    | RequestReadIndex
)
"""Every action of the Raft world."""


_MUTANT_NAMES = frozenset(mutant.value for mutant in RaftMutant)


class RaftSetup(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a Raft run starts from: everything replay needs besides the actions."""

    nodes: Annotated[int, msgspec.Meta(ge=1, le=9)]
    """Voters in the initial configuration, ids ``1..nodes``."""
    spare_nodes: Annotated[int, msgspec.Meta(ge=0, le=8)]
    """Further node slots (ids ``nodes+1..``) that start empty and can be added as members."""
    election_timeout_ticks: Positive
    heartbeat_interval_ticks: Positive
    pre_vote: bool
    check_quorum: bool
    max_entries_per_append: Positive
    max_inflight_appends: Positive
    mutant: str
    """``none``, or the name of a deliberately broken Raft variant."""
    asymmetric_partitions: bool
    """Whether a partition may cut a link in one direction only."""
    max_crashed: Annotated[int, msgspec.Meta(ge=0, le=9)]
    """How many nodes may be down at once."""
    max_in_flight: Positive
    """The network holds at most this many messages; beyond it, new sends are lost."""

    def __post_init__(self) -> None:
        # Checked when a trace is read (msgspec names the field as "setup"), and when built.
        if self.nodes + self.spare_nodes > 9:
            raise ValueError("nodes + spare_nodes must be at most 9 node slots")
        if self.election_timeout_ticks <= self.heartbeat_interval_ticks:
            raise ValueError(
                "election_timeout_ticks must be greater than heartbeat_interval_ticks"
                " (etcd raft's Config.validate)"
            )
        if self.mutant != "none" and self.mutant not in _MUTANT_NAMES:
            known = ", ".join(sorted(_MUTANT_NAMES))
            raise ValueError(f"unknown mutant {self.mutant!r} (known: none, {known})")
