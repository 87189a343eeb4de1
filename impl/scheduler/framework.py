"""The scheduling framework's vocabulary: status codes, plugin interface, cycle context,
queued pods and the cluster events that requeue them.

A plugin is an object with a ``name`` and the extension points it implements (the base class
methods say "not implemented"). One scheduling cycle creates a :class:`CycleContext`; PreFilter
and PreScore keep their per-cycle data in ``context.state`` under the plugin's name (the
framework's CycleState, local to the cycle), and later points of the same plugin read it back.
A plugin that can reject a pod registers the cluster events that may make it schedulable
again, each with a QueueingHint (``queueing_hint``: Queue or QueueSkip).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Final, final

import msgspec

from impl.scheduler.nodeinfo import NodeInfo
from impl.scheduler.podinfo import PodInfo
from impl.scheduler.snapshot import Snapshot

FILTER_OUT_BY_PRE_FILTER_RESULT: Final = "node is filtered out by the prefilter result"


@final
class Code(Enum):
    """``framework.Code``, with kube-scheduler's spelling."""

    SUCCESS = "Success"
    UNSCHEDULABLE = "Unschedulable"
    UNSCHEDULABLE_AND_UNRESOLVABLE = "UnschedulableAndUnresolvable"
    SKIP = "Skip"
    ERROR = "Error"


@final
class Status(msgspec.Struct, frozen=True, kw_only=True):
    """A plugin's verdict: a code, the reasons as kube-scheduler words them, the plugin."""

    code: Code
    reasons: tuple[str, ...] = ()
    plugin: str = ""

    @property
    def rejected(self) -> bool:
        """Unschedulable or UnschedulableAndUnresolvable."""
        return self.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)


SUCCESS: Final = Status(code=Code.SUCCESS)
SKIP: Final = Status(code=Code.SKIP)


def unschedulable(*reasons: str) -> Status:
    """An Unschedulable status (preemption may help)."""
    return Status(code=Code.UNSCHEDULABLE, reasons=reasons)


def unresolvable(*reasons: str) -> Status:
    """An UnschedulableAndUnresolvable status (preemption cannot help)."""
    return Status(code=Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reasons=reasons)


@final
class PreFilterResult(msgspec.Struct, frozen=True, kw_only=True):
    """A PreFilter outcome: a status (Success, Skip or a rejection) and optionally the only
    node names worth filtering."""

    status: Status = SUCCESS
    node_names: frozenset[str] | None = None


PRE_FILTER_SUCCESS: Final = PreFilterResult()
PRE_FILTER_SKIP: Final = PreFilterResult(status=SKIP)


@final
class QueuedPodInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A pod in the scheduling queue: when it was (re)queued, its arrival sequence (the tie
    break among equal timestamps), its attempts and the plugins that rejected it last."""

    info: PodInfo
    timestamp_ms: int = 0
    sequence: int = 0
    attempts: int = 0
    last_attempt_ms: int = 0
    unschedulable_plugins: frozenset[str] = frozenset()


@final
class EventKind(Enum):
    """The cluster events the model raises (``framework.ClusterEvent`` resource and action)."""

    ASSIGNED_POD_ADD = "AssignedPodAdd"
    ASSIGNED_POD_DELETE = "AssignedPodDelete"
    NODE_ADD = "NodeAdd"
    NODE_UPDATE = "NodeUpdate"
    NODE_DELETE = "NodeDelete"


POD_AND_NODE_EVENTS: Final = frozenset(
    {
        EventKind.ASSIGNED_POD_ADD,
        EventKind.ASSIGNED_POD_DELETE,
        EventKind.NODE_ADD,
        EventKind.NODE_UPDATE,
    }
)
"""Pods coming and going, nodes added or changed: what inter-pod rules react to."""


@final
class ClusterEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event and the object it concerns (the pod, or the node before and after)."""

    kind: EventKind
    pod: PodInfo | None = None
    node: NodeInfo | None = None
    old_node: NodeInfo | None = None


class CycleContext:
    """One scheduling cycle's inputs and the plugins' per-cycle state (CycleState)."""

    __slots__ = ("pod", "snapshot", "state")

    def __init__(self, pod: PodInfo, snapshot: Snapshot) -> None:
        self.pod = pod
        self.snapshot = snapshot
        self.state: dict[str, object] = {}


class Plugin:
    """Base of every plugin: each extension point a subclass does not override reports that it
    is not implemented, so the profile leaves the plugin out of that point."""

    name: str = ""

    def implements(self, point: str) -> bool:
        """Does this plugin's class override the method of extension point ``point``?"""
        method = getattr(type(self), point, None)
        return method is not None and method is not getattr(Plugin, point, None)

    def filter_memo_key(self, context: CycleContext) -> object | None:
        """What, beyond the pod and the node, this plugin's Filter reads in this cycle (a
        hashable value; ``()`` for node-local filters), or None when the result must not be
        reused across cycles."""
        return None

    def score_memo_key(self, context: CycleContext) -> object | None:
        """Like ``filter_memo_key``, for Score (called after PreScore)."""
        return None

    def less(self, left: QueuedPodInfo, right: QueuedPodInfo) -> bool:
        """QueueSort: should ``left`` leave the queue before ``right``?"""
        raise NotImplementedError

    def pre_enqueue(self, pod: PodInfo) -> Status:
        """PreEnqueue: may the pod enter activeQ at all?"""
        raise NotImplementedError

    def cluster_events(self) -> frozenset[EventKind]:
        """The events that may make a pod this plugin rejected schedulable again."""
        return frozenset()

    def queueing_hint(self, event: ClusterEvent, pod: PodInfo) -> bool:
        """QueueingHint for a registered event: True is Queue, False is QueueSkip."""
        return True

    def pre_filter(self, context: CycleContext) -> PreFilterResult:
        """PreFilter: checks on the pod alone, and per-cycle data for Filter."""
        raise NotImplementedError

    def filter(self, context: CycleContext, node: NodeInfo) -> Status:
        """Filter: can the pod run on ``node``?"""
        raise NotImplementedError

    def pre_score(self, context: CycleContext, nodes: Sequence[NodeInfo]) -> Status:
        """PreScore: per-cycle data for Score over the feasible nodes; Skip drops Score."""
        raise NotImplementedError

    def score(self, context: CycleContext, node: NodeInfo) -> int:
        """Score: the raw score of ``node``."""
        raise NotImplementedError

    def normalize_score(
        self, context: CycleContext, nodes: Sequence[NodeInfo], scores: list[int]
    ) -> list[int]:
        """NormalizeScore: map raw scores to 0-100."""
        raise NotImplementedError
