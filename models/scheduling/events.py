"""The scheduler machine's events (inputs) and commands (outputs), in API objects.

Events: the cluster as the scheduler's informers see it (pods and nodes added, updated,
deleted), the logical time, the request to run one scheduling cycle with the random draw the
cycle may use (which top-scoring node, where preemption starts looking), and the result of a
binding the machine asked for. Commands: bind a pod (``pods/binding``), set or clear a pod's
nominated node, evict a preemption victim, and report a failed attempt (the FailedScheduling
event). Every source of nondeterminism is an event field.
"""

from __future__ import annotations

from typing import final

import msgspec

from models.k8s.core.node import Node
from models.k8s.core.pod import Pod


class _Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of the scheduler's events."""


@final
class PodAdded(_Event, frozen=True, kw_only=True, tag="PodAdded"):
    """A pod appeared: pending pods join the queue, assigned pods the cache."""

    pod: Pod


@final
class PodUpdated(_Event, frozen=True, kw_only=True, tag="PodUpdated"):
    """A pod changed (its scheduling gates lifted, its labels or requests changed, ...)."""

    pod: Pod


@final
class PodDeleted(_Event, frozen=True, kw_only=True, tag="PodDeleted"):
    """A pod (``namespace/name``) is gone."""

    key: str


@final
class NodeAdded(_Event, frozen=True, kw_only=True, tag="NodeAdded"):
    node: Node


@final
class NodeUpdated(_Event, frozen=True, kw_only=True, tag="NodeUpdated"):
    node: Node


@final
class NodeDeleted(_Event, frozen=True, kw_only=True, tag="NodeDeleted"):
    name: str


@final
class Tick(_Event, frozen=True, kw_only=True, tag="Tick"):
    """Logical time (milliseconds) advanced to ``now_ms``."""

    now_ms: int


@final
class ScheduleNext(_Event, frozen=True, kw_only=True, tag="ScheduleNext"):
    """Run one scheduling cycle for the queue's head; ``random`` picks among the top-scoring
    nodes (index modulo their count, in name order) and offsets preemption's node scan."""

    random: int = 0


@final
class BindingSucceeded(_Event, frozen=True, kw_only=True, tag="BindingSucceeded"):
    key: str
    node: str


@final
class BindingFailed(_Event, frozen=True, kw_only=True, tag="BindingFailed"):
    key: str
    node: str
    reason: str


SchedulerEvent = (
    PodAdded
    | PodUpdated
    | PodDeleted
    | NodeAdded
    | NodeUpdated
    | NodeDeleted
    | Tick
    | ScheduleNext
    | BindingSucceeded
    | BindingFailed
)


class _Command(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of the scheduler's commands."""


@final
class Bind(_Command, frozen=True, kw_only=True, tag="Bind"):
    """Bind pod ``key`` to ``node`` (``attempt``: the scheduling attempt, from 1)."""

    key: str
    node: str
    attempt: int


@final
class Nominate(_Command, frozen=True, kw_only=True, tag="Nominate"):
    """Set ``status.nominatedNodeName`` of pod ``key`` (empty: clear it)."""

    key: str
    node: str


@final
class Evict(_Command, frozen=True, kw_only=True, tag="Evict"):
    """Delete preemption victim ``key`` to make room for ``preemptor``."""

    key: str
    preemptor: str


@final
class ReportFailure(_Command, frozen=True, kw_only=True, tag="ReportFailure"):
    """Attempt ``attempt`` of pod ``key`` found no node: the FailedScheduling message."""

    key: str
    attempt: int
    message: str


SchedulerCommand = Bind | Nominate | Evict | ReportFailure
