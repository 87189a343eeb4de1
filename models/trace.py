"""Trace records: what a simulation run writes and what ``kubeoracle replay`` reads.

A trace is JSON Lines (``docs/trace-format.md``). The first line is a :class:`TraceHeader`
(format, version, seed, the cluster setup and every swarm option the seed drew, the code
version); then one :class:`TraceStep` per action, each with the fingerprint of the cluster state
the action produced and the fields it changed; :class:`TraceSnapshot` lines with the full state
at checkpoints and on failure; a :class:`TracePhase` line where the liveness phase starts; and a
final :class:`TraceResult`. Records are a tagged union on the ``record`` field.

Cluster actions (:data:`ClusterAction`) are the environment's choices, tagged on ``action``:
every source of nondeterminism in a run (which message arrives, which is lost, which node ticks,
crashes or restarts, the random values nodes asked for, client requests, partitions) is one of
them, so re-applying the actions of a trace reproduces the run exactly.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeAlias

import msgspec

from models.raft import ConfChangeTransition, ConfChangeType, RaftMutant

TRACE_FORMAT = "kubeoracle-trace"
TRACE_VERSION = 1

NodeId: TypeAlias = int
STEPS_MAX = 1_000_000
"""The most steps one run may take (safety and liveness phases together)."""
# Ranges a header's numbers must lie in; a trace outside them is refused naming the field.
Weight: TypeAlias = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
Positive: TypeAlias = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
Steps: TypeAlias = Annotated[int, msgspec.Meta(ge=0, le=STEPS_MAX)]
Link: TypeAlias = tuple[int, int]
"""A directed link ``(source, destination)``."""


class _Action(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="action"
):
    """Base of the cluster actions (tagged on ``action``)."""


class Deliver(_Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="deliver"):
    """The in-flight message with this id arrives at its destination."""

    message: int


class Drop(_Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="drop"):
    """The network loses the in-flight message with this id."""

    message: int


class Duplicate(_Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="duplicate"):
    """The network duplicates the in-flight message: a copy with a new id is in flight."""

    message: int


class Tick(_Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="tick"):
    """One unit of logical time passes at a node."""

    node: NodeId


class Propose(_Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="propose"):
    """A client asks a node to append ``value`` to the replicated log."""

    node: NodeId
    value: str


class Crash(_Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="crash"):
    """The node stops and loses its volatile state; what it persisted survives."""

    node: NodeId


class Restart(_Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="restart"):
    """A crashed node starts again from its persisted state."""

    node: NodeId


class Partition(_Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="partition"):
    """The network cuts exactly these directed links (replacing any earlier cut)."""

    links: tuple[Link, ...]


class Heal(_Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="heal"):
    """Every link works again."""


class DrawRandom(_Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="random"):
    """The runner answers a node's oldest request for a random value with ``value``."""

    node: NodeId
    value: int


class ConfChangeItem(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One change of a membership change request (etcd ``ConfChangeSingle``): ``add_node`` of
    a current learner promotes it."""

    type: ConfChangeType
    node: NodeId


class Compact(_Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="compact"):
    """The node's application takes a snapshot at its applied index and the node discards
    the log up to it."""

    node: NodeId


class ChangeMembership(
    _Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="conf_change"
):
    """A client asks a node to change the configuration: one change is simple, several go
    through a joint configuration (etcd's ConfChangeV2)."""

    node: NodeId
    changes: tuple[ConfChangeItem, ...]
    transition: ConfChangeTransition = "auto"
    """``auto``: one change is applied directly, several enter a joint configuration that is
    left on its own; ``implicit``: always joint, left on its own; ``explicit``: joint, left by a
    later ``leave_joint``."""


class LeaveJoint(_Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="leave_joint"):
    """A client asks a node to leave the joint configuration (an empty ConfChangeV2)."""

    node: NodeId


class RequestReadIndex(
    _Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="read_index"
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


class SwarmOptions(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The fault mix and workload a run uses, drawn from its seed (swarm testing) unless given.

    Weights are relative: the simulator picks the next action kind with probability
    proportional to its weight among the kinds enabled at that moment.
    """

    faults: tuple[str, ...]
    """The fault kinds this run may inject, sorted (see ``runner.raft.faults.FAULT_KINDS``)."""
    deliver_weight: Weight
    tick_weight: Weight
    propose_weight: Weight
    compact_weight: Weight
    random_weight: Weight
    """Answering a node's request for a random value (its election timeout draw); while it
    waits, the node uses the low end, so a low weight makes simultaneous candidates likely."""
    drop_weight: Weight
    duplicate_weight: Weight
    partition_weight: Weight
    heal_weight: Weight
    crash_weight: Weight
    restart_weight: Weight
    conf_change_weight: Weight
    asymmetric_partitions: bool
    crash_leader_on_commit: bool
    """Whether a leader is likely to crash right after its commit index advances (with
    messages it has not yet delivered lost): the moment paper Figure 8 is about."""
    joint_swaps: bool
    """Whether membership changes favour swapping a voter for a new one through a joint
    configuration left explicitly (a long joint window, outgoing and incoming majorities
    differ)."""
    """Whether a partition may cut a link in one direction only."""
    max_crashed: Annotated[int, msgspec.Meta(ge=0, le=9)]
    """How many nodes may be down at once."""
    max_in_flight: Positive
    """The network holds at most this many messages; beyond it, new sends are lost."""


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
    safety_steps: Steps
    liveness_steps: Steps
    """The bound on the liveness phase: a leader and a new commit within this many steps."""

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
        if self.safety_steps + self.liveness_steps > STEPS_MAX:
            raise ValueError(f"safety_steps + liveness_steps must be at most {STEPS_MAX}")


class TraceHeader(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    forbid_unknown_fields=True,
    tag_field="record",
    tag="header",
):
    """The first line of a trace."""

    format: str
    version: int
    target: Literal["raft"]
    seed: int
    code_version: str
    setup: RaftSetup
    swarm: SwarmOptions
    checkpoint_interval_steps: Steps
    """A snapshot line follows every step whose index is a multiple of this (0: none)."""


class FieldChange(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One field a step changed: its path in the cluster state (``node.2.current_term``,
    ``network``), the digest of its new value, and the value itself when it is small."""

    path: str
    digest: str
    """Hex digest of the new value; empty when the path no longer exists."""
    value: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    """The new value's JSON; absent when it is long."""


class TraceStep(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    forbid_unknown_fields=True,
    tag_field="record",
    tag="step",
):
    """One action and the state it produced."""

    index: int
    """Steps count from 1 without gaps."""
    action: ClusterAction
    fingerprint: str
    """blake2b digest of the resulting cluster state (``docs/trace-format.md``)."""
    delta: tuple[FieldChange, ...] | None = None


SnapshotReason: TypeAlias = Literal["initial", "checkpoint", "failure", "final"]


class TraceSnapshot(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    forbid_unknown_fields=True,
    tag_field="record",
    tag="snapshot",
):
    """The full cluster state after step ``index`` (0: the initial state)."""

    index: int
    reason: SnapshotReason
    fingerprint: str
    state: msgspec.Raw


class TracePhase(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    forbid_unknown_fields=True,
    tag_field="record",
    tag="phase",
):
    """The liveness phase starts after step ``index``: faults stop, partitions heal, crashed
    nodes restart, and progress is required within ``RaftSetup.liveness_steps`` steps."""

    index: int
    phase: Literal["liveness"]


ResultStatus: TypeAlias = Literal["pass", "violation", "liveness_failure"]


class TraceResult(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    forbid_unknown_fields=True,
    tag_field="record",
    tag="result",
):
    """The last line: how the run ended."""

    status: ResultStatus
    steps: int
    """How many steps the trace holds."""
    property: str | None = None
    """The violated invariant (or the liveness property that was not reached)."""
    index: int | None = None
    """The step after which the violation was seen."""
    nodes: tuple[NodeId, ...] = ()
    """The nodes the violation involves."""
    message: str = ""


TraceRecord: TypeAlias = TraceHeader | TraceStep | TraceSnapshot | TracePhase | TraceResult
