"""The environment's actions, shared by every world of machines on a network.

A world of machines (``runner.sim.machines``) is a set of component machines, each in a node
slot, and the network between them. Every source of nondeterminism the environment controls is
one of these actions: which in-flight message arrives, is lost or duplicated, which node's
logical clock ticks, which node crashes or restarts, which links a partition cuts, and the
random values nodes ask for. A world adds its own client actions (a Raft proposal, an etcd
request) to these; together they are the world's action union, tagged on ``action``.
"""

from __future__ import annotations

from typing import TypeAlias

import msgspec

NodeId: TypeAlias = int
Link: TypeAlias = tuple[int, int]
"""A directed link ``(source, destination)``."""


class Action(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="action"
):
    """Base of every world's actions (tagged on ``action``)."""


class Deliver(Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="deliver"):
    """The in-flight message with this id arrives at its destination."""

    message: int


class Drop(Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="drop"):
    """The network loses the in-flight message with this id."""

    message: int


class Duplicate(Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="duplicate"):
    """The network duplicates the in-flight message: a copy with a new id is in flight."""

    message: int


class Tick(Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="tick"):
    """One unit of logical time passes at a node."""

    node: NodeId


class Crash(Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="crash"):
    """The node stops and loses its volatile state; what it persisted survives."""

    node: NodeId


class Restart(Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="restart"):
    """A crashed node starts again from its persisted state."""

    node: NodeId


class Partition(Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="partition"):
    """The network cuts exactly these directed links (replacing any earlier cut)."""

    links: tuple[Link, ...]


class Heal(Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="heal"):
    """Every link works again."""


class DrawRandom(Action, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="random"):
    """The runner answers a node's oldest request for a random value with ``value``."""

    node: NodeId
    value: int


EnvironmentAction: TypeAlias = (
    Deliver | Drop | Duplicate | Tick | Crash | Restart | Partition | Heal | DrawRandom
)
"""The actions every world of machines accepts."""
