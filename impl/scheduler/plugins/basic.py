"""The simple default plugins: PrioritySort, SchedulingGates, NodeUnschedulable, NodeName,
NodePorts, TaintToleration, ImageLocality and DefaultBinder.

Reason strings and codes are kube-scheduler's at v1.35: the TaintToleration reason no longer
names the taint (``node(s) had untolerated taint(s)``, kubernetes#134740), and tolerations with
``Gt``/``Lt`` match only with the TaintTolerationComparisonOperators gate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, final

from impl.scheduler.arithmetic import INTEGERS, default_normalize_score, image_locality_score
from impl.scheduler.framework import (
    PRE_FILTER_SKIP,
    PRE_FILTER_SUCCESS,
    SUCCESS,
    ClusterEvent,
    CycleContext,
    EventKind,
    Plugin,
    PreFilterResult,
    QueuedPodInfo,
    Status,
    unresolvable,
    unschedulable,
)
from impl.scheduler.nodeinfo import NodeInfo
from impl.scheduler.podinfo import PodInfo
from models.k8s.core.node import Taint
from models.k8s.core.pod import Toleration
from models.scheduling.matching import (
    PREFER_NO_SCHEDULE,
    SCHEDULE_BLOCKING,
    first_untolerated,
    tolerated,
)

REASON_UNSCHEDULABLE: Final = "node(s) were unschedulable"
REASON_NODE_NAME: Final = "node(s) didn't match the requested node name"
REASON_NODE_PORTS: Final = "node(s) didn't have free ports for the requested pod ports"
REASON_TAINTS: Final = "node(s) had untolerated taint(s)"
REASON_GATED: Final = "waiting for scheduling gates: {gates}"
UNSCHEDULABLE_TAINT: Final = Taint(key="node.kubernetes.io/unschedulable", effect="NoSchedule")
NODE_EVENTS: Final = frozenset({EventKind.NODE_ADD, EventKind.NODE_UPDATE})


@final
class PrioritySort(Plugin):
    """QueueSort: higher ``spec.priority`` first, then earlier queue timestamp (arrival order
    among equal timestamps)."""

    name = "PrioritySort"

    def less(self, left: QueuedPodInfo, right: QueuedPodInfo) -> bool:
        if left.info.priority != right.info.priority:
            return left.info.priority > right.info.priority
        if left.timestamp_ms != right.timestamp_ms:
            return left.timestamp_ms < right.timestamp_ms
        return left.sequence < right.sequence


@final
class SchedulingGates(Plugin):
    """PreEnqueue: a pod with ``spec.schedulingGates`` stays out of activeQ."""

    name = "SchedulingGates"

    def pre_enqueue(self, pod: PodInfo) -> Status:
        if not pod.scheduling_gates:
            return SUCCESS
        gates = " ".join(pod.scheduling_gates)
        return unresolvable(REASON_GATED.format(gates=f"[{gates}]"))


@final
class NodeUnschedulable(Plugin):
    """Filter: a cordoned node (``spec.unschedulable``) unless the pod tolerates
    ``node.kubernetes.io/unschedulable:NoSchedule``."""

    name = "NodeUnschedulable"

    def __init__(self, comparison_operators: bool = False) -> None:
        self.comparison_operators = comparison_operators

    def filter_memo_key(self, context: CycleContext) -> object | None:
        return ()

    def filter(self, context: CycleContext, node: NodeInfo) -> Status:
        if not node.view.unschedulable:
            return SUCCESS
        tolerations = context.pod.tolerations
        if tolerated(
            tolerations, UNSCHEDULABLE_TAINT, comparison_operators=self.comparison_operators
        ):
            return SUCCESS
        return unresolvable(REASON_UNSCHEDULABLE)

    def cluster_events(self) -> frozenset[EventKind]:
        return NODE_EVENTS

    def queueing_hint(self, event: ClusterEvent, pod: PodInfo) -> bool:
        return event.node is not None and not event.node.view.unschedulable


@final
class NodeName(Plugin):
    """Filter: ``spec.nodeName`` empty or equal to the node."""

    name = "NodeName"

    def filter_memo_key(self, context: CycleContext) -> object | None:
        return ()

    def filter(self, context: CycleContext, node: NodeInfo) -> Status:
        wanted = context.pod.node_name
        if not wanted or wanted == node.name:
            return SUCCESS
        return unresolvable(REASON_NODE_NAME)

    def cluster_events(self) -> frozenset[EventKind]:
        return frozenset({EventKind.NODE_ADD})

    def queueing_hint(self, event: ClusterEvent, pod: PodInfo) -> bool:
        return event.node is not None and (not pod.node_name or pod.node_name == event.node.name)


def port_conflicts(used: frozenset[tuple[str, str, int]], wanted: tuple[str, str, int]) -> bool:
    """``HostPortInfo.CheckConflict``: 0.0.0.0 on either side conflicts with every IP."""
    ip, protocol, port = wanted
    if ip == "0.0.0.0":
        return any(p == protocol and n == port for _, p, n in used)
    return (ip, protocol, port) in used or ("0.0.0.0", protocol, port) in used


@final
class NodePorts(Plugin):
    """PreFilter (Skip without host ports) and Filter: requested host ports must be free."""

    name = "NodePorts"

    def filter_memo_key(self, context: CycleContext) -> object | None:
        return ()

    def pre_filter(self, context: CycleContext) -> PreFilterResult:
        return PRE_FILTER_SUCCESS if context.pod.host_ports else PRE_FILTER_SKIP

    def filter(self, context: CycleContext, node: NodeInfo) -> Status:
        used = node.used_ports
        if any(port_conflicts(used, wanted) for wanted in context.pod.host_ports):
            return unschedulable(REASON_NODE_PORTS)
        return SUCCESS

    def cluster_events(self) -> frozenset[EventKind]:
        return frozenset({EventKind.ASSIGNED_POD_DELETE, *NODE_EVENTS})

    def queueing_hint(self, event: ClusterEvent, pod: PodInfo) -> bool:
        deleted = event.pod
        if event.kind is not EventKind.ASSIGNED_POD_DELETE or deleted is None:
            return True
        freed = frozenset(deleted.host_ports)
        return any(port_conflicts(freed, wanted) for wanted in pod.host_ports)


@final
class TaintToleration(Plugin):
    """Filter on NoSchedule/NoExecute taints; Score counts untolerated PreferNoSchedule taints
    (fewer is better: normalized in reverse)."""

    name = "TaintToleration"

    def __init__(self, comparison_operators: bool = False) -> None:
        self.comparison_operators = comparison_operators

    def filter_memo_key(self, context: CycleContext) -> object | None:
        return ()

    def score_memo_key(self, context: CycleContext) -> object | None:
        return ()

    def filter(self, context: CycleContext, node: NodeInfo) -> Status:
        taint = first_untolerated(
            node.view.taints,
            context.pod.tolerations,
            SCHEDULE_BLOCKING,
            comparison_operators=self.comparison_operators,
        )
        return SUCCESS if taint is None else unresolvable(REASON_TAINTS)

    def pre_score(self, context: CycleContext, nodes: Sequence[NodeInfo]) -> Status:
        preferring: tuple[Toleration, ...] = tuple(
            toleration
            for toleration in context.pod.tolerations
            if toleration.effect in (None, "", PREFER_NO_SCHEDULE)
        )
        context.state[self.name] = preferring
        return SUCCESS

    def score(self, context: CycleContext, node: NodeInfo) -> int:
        tolerations = context.state[self.name]
        assert isinstance(tolerations, tuple)
        return sum(
            1
            for taint in node.view.taints
            if taint.effect == PREFER_NO_SCHEDULE
            and not tolerated(tolerations, taint, comparison_operators=self.comparison_operators)
        )

    def normalize_score(
        self, context: CycleContext, nodes: Sequence[NodeInfo], scores: list[int]
    ) -> list[int]:
        return default_normalize_score(INTEGERS, scores, reverse=True)

    def cluster_events(self) -> frozenset[EventKind]:
        return NODE_EVENTS

    def queueing_hint(self, event: ClusterEvent, pod: PodInfo) -> bool:
        def untolerated(node: NodeInfo | None) -> bool:
            if node is None:
                return True
            found = first_untolerated(
                node.view.taints,
                pod.tolerations,
                SCHEDULE_BLOCKING,
                comparison_operators=self.comparison_operators,
            )
            return found is not None

        return (
            event.node is not None and untolerated(event.old_node) and not untolerated(event.node)
        )


@final
class ImageLocality(Plugin):
    """Score: favours nodes that already hold the pod's images, weighted by how widely each
    image is spread over the cluster."""

    name = "ImageLocality"

    def score_memo_key(self, context: CycleContext) -> object | None:
        # also reads how many nodes hold each image, and how many nodes there are
        return (context.snapshot.image_nodes, len(context.snapshot.infos))

    def score(self, context: CycleContext, node: NodeInfo) -> int:
        pod = context.pod
        snapshot = context.snapshot
        total_nodes = len(snapshot.infos)
        sizes = node.view.image_sizes
        image_sum = 0
        for name in pod.images:
            size = sizes.get(name)
            if size is not None:
                spread = snapshot.image_nodes.get(name, 0) / total_nodes
                image_sum += int(float(size) * spread)
        if not pod.images:
            return 0
        return image_locality_score(INTEGERS, image_sum, len(pod.images))


@final
class DefaultBinder(Plugin):
    """Bind: sets ``spec.nodeName`` (the binding itself is a command the caller carries out)."""

    name = "DefaultBinder"

    def implements(self, point: str) -> bool:
        return point == "bind"
