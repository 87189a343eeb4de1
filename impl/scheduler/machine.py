"""kube-scheduler as a state machine: ``init(config) -> Step`` and
``on_event(config, state, event) -> Step`` (see ``docs/scheduler.md``).

Theory of operation. The state holds the scheduler cache (a snapshot of nodes with their
assigned and assumed pods, and the nominated pods), the scheduling queue, the logical time,
the round-robin start index, the NodeInfo generation counter and the results cache. Events
are what kube-scheduler's informers and its own API calls deliver (:mod:`models.scheduling.
events`); commands are the API calls it makes.

- A pending pod joins the queue (PreEnqueue may gate it); an assigned pod joins the cache and
  raises AssignedPodAdd; an assigned pod updated in place is replaced in the cache and wakes
  waiting pods only if its labels changed or its requests shrank; a deleted pod leaves both and
  raises AssignedPodDelete; node events raise their own. Raised events move waiting pods per
  QueueingHints.
- ``ScheduleNext`` pops the queue's head and runs one cycle. A feasible pod is assumed on the
  chosen node (``random`` picks among the top-scoring nodes) and a ``Bind`` is issued; the
  pod stays assumed until ``BindingSucceeded`` (then AssignedPodAdd) or ``BindingFailed``
  (then it is forgotten and backs off). A pod that fits nowhere gets the PostFilter outcome:
  with preemption, ``Nominate`` and ``Evict`` for the victims; otherwise its nomination is
  cleared (v1.35); either way ``ReportFailure`` and the unschedulable pool.
- ``Tick`` advances time: ended backoffs and 5-minute leftovers move.
"""

from __future__ import annotations

from typing import Final, assert_never, final

import immutables
import msgspec

from impl.scheduler.features import DEFAULT_FEATURES, SchedulerFeatures
from impl.scheduler.framework import ClusterEvent, Code, EventKind, QueuedPodInfo
from impl.scheduler.nodeinfo import NodeInfo
from impl.scheduler.podinfo import PodInfo, bound_to, nominated_to, pod_info
from impl.scheduler.profile import Profile
from impl.scheduler.queue import (
    Backoff,
    Hint,
    SchedulingQueue,
    enqueue,
    flush,
    on_cluster_event,
    pop,
    requeue_after_error,
    requeue_failed,
    updated,
    without,
)
from impl.scheduler.results_cache import ResultsCache
from impl.scheduler.schedule import ScheduleOutcome, schedule_one
from impl.scheduler.snapshot import Snapshot, build_snapshot
from models.scheduling.cluster import ClusterState, pod_key
from models.scheduling.events import (
    Bind,
    BindingFailed,
    BindingSucceeded,
    Evict,
    NodeAdded,
    NodeDeleted,
    NodeUpdated,
    Nominate,
    PodAdded,
    PodDeleted,
    PodUpdated,
    ReportFailure,
    ScheduleNext,
    SchedulerCommand,
    SchedulerEvent,
    Tick,
)
from models.step import Step

EMPTY_SNAPSHOT: Final = Snapshot(infos=(), positions=immutables.Map(), image_nodes=immutables.Map())


@final
class SchedulerConfig:
    """What a scheduler runs with: its profiles by schedulerName, features and backoff."""

    __slots__ = ("backoff", "features", "profiles")

    def __init__(
        self,
        profiles: dict[str, Profile],
        features: SchedulerFeatures = DEFAULT_FEATURES,
        backoff: Backoff | None = None,
    ) -> None:
        assert profiles, "a scheduler needs at least one profile"
        self.profiles = profiles
        self.features = features
        self.backoff = backoff if backoff is not None else Backoff()

    def first(self) -> Profile:
        """The first profile (queueSort is the same in every profile)."""
        return next(iter(self.profiles.values()))


@final
class SchedulerState(msgspec.Struct, frozen=True, kw_only=True):
    """The scheduler's whole state (see the module docstring)."""

    snapshot: Snapshot = EMPTY_SNAPSHOT
    queue: SchedulingQueue = SchedulingQueue()
    assumed: immutables.Map[str, str] = immutables.Map()
    now_ms: int = 0
    next_start_index: int = 0
    next_generation: int = 1
    sequence: int = 0
    results: ResultsCache = ResultsCache()


SchedulerStep = Step[SchedulerState, SchedulerCommand]


def init(config: SchedulerConfig, cluster: ClusterState | None = None) -> SchedulerStep:
    """A scheduler whose cache starts from ``cluster`` (its nodes and assigned pods, its
    nominated pending pods); the cluster's pending pods are not queued (add them as events)."""
    if cluster is None:
        return Step(state=SchedulerState())
    return Step(state=SchedulerState(snapshot=build_snapshot(cluster, config.features)))


def _hint(config: SchedulerConfig) -> Hint:
    plugins = {p.name: p for profile in config.profiles.values() for p in profile.plugins()}

    def worth(item: QueuedPodInfo, event: ClusterEvent) -> bool:
        if not item.unschedulable_plugins:
            return True
        for name in item.unschedulable_plugins:
            plugin = plugins.get(name)
            if plugin is None or event.kind not in plugin.cluster_events():
                continue
            if plugin.queueing_hint(event, item.info):
                return True
        return False

    return worth


def _raise(config: SchedulerConfig, state: SchedulerState, event: ClusterEvent) -> SchedulerState:
    if not state.queue.unschedulable:
        return state
    less = config.first().queue_sort.less
    worth = _hint(config)
    queue = on_cluster_event(state.queue, event, worth, state.now_ms, less, config.backoff)
    return msgspec.structs.replace(state, queue=queue)


def _with_node_info(state: SchedulerState, info: NodeInfo) -> SchedulerState:
    return msgspec.structs.replace(
        state, snapshot=state.snapshot.with_node(info), next_generation=state.next_generation + 1
    )


def _on_pod_added(config: SchedulerConfig, state: SchedulerState, event: PodAdded) -> SchedulerStep:
    features = config.features
    if event.pod.pod_spec.node_name:
        info = pod_info(event.pod, features, assigned=True)
        if not state.snapshot.has_node(info.node_name) or info.key in state.assumed:
            return Step(state=state)
        node = state.snapshot.node(info.node_name).with_pod(info, state.next_generation)
        state = _with_node_info(state, node)
        cluster_event = ClusterEvent(kind=EventKind.ASSIGNED_POD_ADD, pod=info, node=node)
        return Step(state=_raise(config, state, cluster_event))
    info = pod_info(event.pod, features)
    profile = config.profiles.get(info.scheduler_name)
    if profile is None or state.queue.has(info.key):
        return Step(state=state)
    gated = any(p.pre_enqueue(info).code is not Code.SUCCESS for p in profile.pre_enqueue)
    item = QueuedPodInfo(info=info, timestamp_ms=state.now_ms, sequence=state.sequence)
    queue = enqueue(state.queue, item, profile.queue_sort.less, gated)
    snapshot = state.snapshot
    if info.nominated_node_name and snapshot.has_node(info.nominated_node_name):
        snapshot = snapshot.with_nominated((*snapshot.nominated, info))
    return Step(
        state=msgspec.structs.replace(
            state, queue=queue, sequence=state.sequence + 1, snapshot=snapshot
        )
    )


def _assigned_update(
    config: SchedulerConfig, state: SchedulerState, event: PodUpdated
) -> SchedulerStep | None:
    """An assigned pod changed in place (same node): replaced in the cache. kube-scheduler's
    AssignedPodUpdate wakes a waiting pod only when the change may help it (the pod's labels
    changed, or its requests shrank); a status-only change (a condition, a deletion
    timestamp) wakes nobody. None when the pod is not cached on that node."""
    info = pod_info(event.pod, config.features, assigned=True)
    if not state.snapshot.has_node(info.node_name) or info.key in state.assumed:
        return None
    node = state.snapshot.node(info.node_name)
    old = next((p for p in node.pods if p.key == info.key), None)
    if old is None:
        return None
    generation = state.next_generation
    replaced = node.without_pods(frozenset({info.key}), generation).with_pod(info, generation)
    state = _with_node_info(state, replaced)
    shrank = any(info.requests.get(name, 0) < value for name, value in old.requests.items())
    if old.labels == info.labels and not shrank:
        return Step(state=state)
    # AssignedPodUpdate as the plugins' hints read it: like the old pod leaving the node.
    cluster_event = ClusterEvent(kind=EventKind.ASSIGNED_POD_DELETE, pod=old, node=replaced)
    return Step(state=_raise(config, state, cluster_event))


def _on_pod_updated(
    config: SchedulerConfig, state: SchedulerState, event: PodUpdated
) -> SchedulerStep:
    """An assigned pod still on its node is replaced in the cache (see ``_assigned_update``);
    an assigned pod elsewhere is removed and added again (AssignedPodDelete, AssignedPodAdd);
    a queued pod is replaced in its pool; any other pod is new."""
    key = pod_key(event.pod)
    if event.pod.pod_spec.node_name and not state.queue.has(key):
        in_place = _assigned_update(config, state, event)
        if in_place is not None:
            return in_place
    if event.pod.pod_spec.node_name or not state.queue.has(key):
        if any(key in (p.key for p in node.pods) for node in state.snapshot.in_order()):
            state = _on_pod_deleted(config, state, key).state
        return _on_pod_added(config, state, PodAdded(pod=event.pod))
    info = pod_info(event.pod, config.features)
    profile = config.profiles.get(info.scheduler_name)
    if profile is None:
        return _on_pod_deleted(config, state, key)
    gated = any(p.pre_enqueue(info).code is not Code.SUCCESS for p in profile.pre_enqueue)
    less = profile.queue_sort.less
    queue = updated(state.queue, info, gated, state.now_ms, less, config.backoff)
    return Step(state=msgspec.structs.replace(state, queue=queue))


def _remove_assigned(state: SchedulerState, key: str) -> tuple[SchedulerState, PodInfo | None]:
    for node in state.snapshot.in_order():
        for pod in node.pods:
            if pod.key == key:
                updated = node.without_pods(frozenset({key}), state.next_generation)
                return _with_node_info(state, updated), pod
    return state, None


def _on_pod_deleted(config: SchedulerConfig, state: SchedulerState, key: str) -> SchedulerStep:
    snapshot = state.snapshot
    nominated = tuple(p for p in snapshot.nominated if p.key != key)
    state = msgspec.structs.replace(
        state,
        queue=without(state.queue, key),
        snapshot=snapshot.with_nominated(nominated),
        assumed=state.assumed.delete(key) if key in state.assumed else state.assumed,
    )
    state, removed = _remove_assigned(state, key)
    if removed is None:
        return Step(state=state)
    event = ClusterEvent(kind=EventKind.ASSIGNED_POD_DELETE, pod=removed)
    return Step(state=_raise(config, state, event))


def _on_node(
    config: SchedulerConfig, state: SchedulerState, event: NodeAdded | NodeUpdated | NodeDeleted
) -> SchedulerStep:
    snapshot = state.snapshot
    infos = {info.name: info for info in snapshot.in_order()}
    pods = [pod for info in snapshot.in_order() for pod in info.pods]
    nodes = [info.view.node for info in snapshot.in_order()]
    if isinstance(event, NodeDeleted):
        old = infos.get(event.name)
        nodes = [node for node in nodes if (node.meta.name or "") != event.name]
        kind, new = EventKind.NODE_DELETE, None
    else:
        name = event.node.meta.name or ""
        old = infos.get(name)
        nodes = [node for node in nodes if (node.meta.name or "") != name] + [event.node]
        kind = EventKind.NODE_ADD if old is None else EventKind.NODE_UPDATE
    cluster = ClusterState(nodes=tuple(nodes))
    rebuilt = build_snapshot(cluster, config.features, pods)
    rebuilt = msgspec.structs.replace(
        rebuilt,
        namespaces=snapshot.namespaces,
        selecting=snapshot.selecting,
        nominated=snapshot.nominated,
        budgets=snapshot.budgets,
        infos=tuple(
            msgspec.structs.replace(info, generation=state.next_generation)
            for info in rebuilt.infos
        ),
    )
    state = msgspec.structs.replace(
        state, snapshot=rebuilt, next_generation=state.next_generation + 1
    )
    if not isinstance(event, NodeDeleted):
        new = rebuilt.node(event.node.meta.name or "")
    cluster_event = ClusterEvent(kind=kind, node=new, old_node=old)
    return Step(state=_raise(config, state, cluster_event))


def _bound(
    state: SchedulerState,
    item: QueuedPodInfo,
    outcome: ScheduleOutcome,
    choice: int,
) -> SchedulerStep:
    top = outcome.cycle.top
    node_name = top[choice % len(top)]
    bound = bound_to(item.info, node_name)
    node = state.snapshot.node(node_name).with_pod(bound, state.next_generation)
    state = _with_node_info(state, node)
    nominated = tuple(p for p in state.snapshot.nominated if p.key != bound.key)
    state = msgspec.structs.replace(
        state,
        snapshot=state.snapshot.with_nominated(nominated),
        assumed=state.assumed.set(bound.key, node_name),
    )
    return Step(
        state=state, commands=(Bind(key=bound.key, node=node_name, attempt=item.attempts + 1),)
    )


def _failed(state: SchedulerState, item: QueuedPodInfo, outcome: ScheduleOutcome) -> SchedulerStep:
    info = item.info
    attempt = item.attempts + 1
    plugins = outcome.cycle.unschedulable_plugins()
    post = outcome.post_filter
    commands: list[SchedulerCommand] = []
    nominated = tuple(p for p in state.snapshot.nominated if p.key != info.key)
    if post is not None and post.nominated_node:
        info = nominated_to(info, post.nominated_node)
        nominated = (*nominated, info)
        commands.append(Nominate(key=info.key, node=post.nominated_node))
        commands += [Evict(key=victim, preemptor=info.key) for victim in post.victims]
        plugins = plugins | {"DefaultPreemption"}
    elif info.nominated_node_name:
        info = nominated_to(info, "")
        commands.append(Nominate(key=info.key, node=""))
    commands.append(ReportFailure(key=info.key, attempt=attempt, message=outcome.message))
    failed = msgspec.structs.replace(
        item,
        info=info,
        attempts=attempt,
        last_attempt_ms=state.now_ms,
        timestamp_ms=state.now_ms,
        unschedulable_plugins=plugins,
    )
    state = msgspec.structs.replace(
        state,
        queue=requeue_failed(state.queue, failed),
        snapshot=state.snapshot.with_nominated(nominated),
    )
    return Step(state=state, commands=tuple(commands))


def _schedule_next(config: SchedulerConfig, state: SchedulerState, random: int) -> SchedulerStep:
    item, queue = pop(state.queue, config.features.pop_from_backoff)
    if item is None:
        return Step(state=state)
    state = msgspec.structs.replace(state, queue=queue)
    profile = config.profiles[item.info.scheduler_name]
    outcome, results = schedule_one(
        profile,
        state.snapshot,
        item.info,
        start_index=state.next_start_index,
        preemption_offset=random,
        cache=state.results,
        detailed=False,
    )
    state = msgspec.structs.replace(
        state, results=results, next_start_index=outcome.cycle.next_start_index
    )
    if outcome.cycle.top:
        return _bound(state, item, outcome, random)
    return _failed(state, item, outcome)


def _on_binding_failed(
    config: SchedulerConfig, state: SchedulerState, event: BindingFailed
) -> SchedulerStep:
    if state.assumed.get(event.key) != event.node:
        return Step(state=state)
    state, removed = _remove_assigned(state, event.key)
    state = msgspec.structs.replace(state, assumed=state.assumed.delete(event.key))
    if removed is None:
        return Step(state=state)
    pod = msgspec.structs.replace(
        removed.pod, spec=msgspec.structs.replace(removed.pod.pod_spec, node_name=None)
    )
    item = QueuedPodInfo(
        info=pod_info(pod, config.features),
        timestamp_ms=state.now_ms,
        sequence=state.sequence,
        attempts=1,
        last_attempt_ms=state.now_ms,
    )
    queue = requeue_after_error(state.queue, item, config.first().queue_sort.less, config.backoff)
    return Step(state=msgspec.structs.replace(state, queue=queue, sequence=state.sequence + 1))


def _on_binding_succeeded(
    config: SchedulerConfig, state: SchedulerState, event: BindingSucceeded
) -> SchedulerStep:
    if state.assumed.get(event.key) != event.node:
        return Step(state=state)
    state = msgspec.structs.replace(state, assumed=state.assumed.delete(event.key))
    node = state.snapshot.node(event.node)
    pod = next(p for p in node.pods if p.key == event.key)
    cluster_event = ClusterEvent(kind=EventKind.ASSIGNED_POD_ADD, pod=pod, node=node)
    return Step(state=_raise(config, state, cluster_event))


def on_event(
    config: SchedulerConfig, state: SchedulerState, event: SchedulerEvent
) -> SchedulerStep:
    """Handle one event (see the module docstring)."""
    match event:
        case PodAdded():
            return _on_pod_added(config, state, event)
        case PodUpdated():
            return _on_pod_updated(config, state, event)
        case PodDeleted():
            return _on_pod_deleted(config, state, event.key)
        case NodeAdded() | NodeUpdated() | NodeDeleted():
            return _on_node(config, state, event)
        case Tick():
            now = max(state.now_ms, event.now_ms)
            less = config.first().queue_sort.less
            queue = flush(state.queue, now, less, config.backoff)
            return Step(state=msgspec.structs.replace(state, now_ms=now, queue=queue))
        case ScheduleNext():
            return _schedule_next(config, state, event.random)
        case BindingSucceeded():
            return _on_binding_succeeded(config, state, event)
        case BindingFailed():
            return _on_binding_failed(config, state, event)
        case _:
            assert_never(event)
