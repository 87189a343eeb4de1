"""The node lifecycle controller (``node-lifecycle-controller``): marks nodes that stopped
reporting, taints them NoExecute, and marks their pods not ready; taints nodes NoSchedule by
their conditions (TaintNodesByCondition).

Theory of operation (``pkg/controller/nodelifecycle/node_lifecycle_controller.go``, v1.35).
One key, ``monitor``, is synced every ``--node-monitor-period`` (5 s); each pass
(``monitorNodeHealth``):

1. newly seen nodes get a zone (``topology.kubernetes.io/region`` and ``zone`` labels) and
   lose the controller's NoExecute taints (``markNodeAsReachable``);
2. per node (``tryUpdateNodeHealth``): the probe time moves to now when the Ready
   condition's ``lastHeartbeatTime`` changed since the last pass or the node's Lease in
   ``kube-node-lease`` was renewed; when more than ``--node-monitor-grace-period`` (50 s since
   v1.32; ``--node-startup-grace-period`` 60 s for a node that never reported) passed since
   the probe time, Ready, MemoryPressure, DiskPressure and PIDPressure become ``Unknown``
   (reason ``NodeStatusUnknown``, "Kubelet stopped posting node status.";
   ``NodeStatusNeverUpdated`` for a condition never posted) in a status write;
3. with the Ready condition seen at the start of the pass: False queues the node for the
   ``node.kubernetes.io/not-ready:NoExecute`` taint, Unknown for
   ``node.kubernetes.io/unreachable:NoExecute`` (an opposite taint already there is swapped at
   once), True removes both; a node whose Ready left True in this pass (or whose last
   marking failed) has its pods' Ready condition set to False (``MarkPodsNotReady``);
4. zone states (``handleDisruption``): a zone with no Ready node is fully disrupted, one with
   more than 2 not-ready nodes making at least 55% is partially disrupted; when every zone is
   fully disrupted the taints come off every node and tainting stops; partial disruption in a
   zone of at most 50 nodes stops tainting there (0.01 nodes/s beyond); otherwise the queue is
   drained at ``--node-eviction-rate`` 0.1 nodes/s (burst 1) per zone;
5. the tainting pass takes queued nodes while the zone's rate allows and taints each per its
   Ready condition now (a node Ready again is just dropped).

Each node added or updated in the informer queues the key ``noschedule/<name>``, whose sync
(``doNoScheduleTaintingPass``) makes the node's NoSchedule taints among
``node.kubernetes.io/{not-ready,unreachable,memory-pressure,disk-pressure,pid-pressure,
network-unavailable,unschedulable}`` exactly those its conditions call for (Ready False:
not-ready, Ready Unknown: unreachable, MemoryPressure/DiskPressure/PIDPressure/
NetworkUnavailable True: the matching key; ``spec.unschedulable``: unschedulable). Missing
ones are appended with ``timeAdded`` now (``SwapNodeControllerTaint``), others are dropped,
every other taint is kept; the patch carries the node's resourceVersion, so a stale view
gets 409 and the key is retried rate-limited.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import immutables
import msgspec

from impl.controllers import events
from impl.controllers.cache import Change, every, get
from impl.controllers.calls import plain
from impl.controllers.objects import labels, meta, seconds, timestamp
from impl.controllers.plan import Context, ControllerDef, Outcome, Planned, Reaction, Reply, Watch
from models.controllers.config import ControllerConfig
from models.controllers.messages import ApiCall
from models.k8s.core.node import Node

NAME = "node-lifecycle-controller"
KEY = "monitor"
LEASE_NAMESPACE = "kube-node-lease"
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
EXCLUDE_DISRUPTION = "node.kubernetes.io/exclude-disruption"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
NO_SCHEDULE_KEY = "noschedule/"
"""Prefix of the per-node NoSchedule keys (a node name has no ``/``, so none is ``monitor``)."""
CONDITION_TAINTS: Final = {
    ("Ready", "False"): NOT_READY,
    ("Ready", "Unknown"): UNREACHABLE,
    ("MemoryPressure", "True"): "node.kubernetes.io/memory-pressure",
    ("DiskPressure", "True"): "node.kubernetes.io/disk-pressure",
    ("NetworkUnavailable", "True"): "node.kubernetes.io/network-unavailable",
    ("PIDPressure", "True"): "node.kubernetes.io/pid-pressure",
}
"""``nodeConditionToTaintKeyStatusMap``: (condition type, status) -> NoSchedule taint key."""
NO_SCHEDULE_OWNED: Final = frozenset({*CONDITION_TAINTS.values(), UNSCHEDULABLE})
"""The NoSchedule taint keys this controller adds and removes."""
CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
MERGE = "application/merge-patch+json"
INITIAL, NORMAL, PARTIAL, FULL = "Initial", "Normal", "PartialDisruption", "FullDisruption"

Json = dict[str, Any]


class Health(msgspec.Struct, frozen=True, kw_only=True):
    """``nodeHealthData``: when the node was last heard from, and what was seen then."""

    probe_ms: int
    transition_ms: int
    heartbeat: str | None = None
    ready_transition: str | None = None
    has_ready: bool = False
    lease_renew: str | None = None


class Limiter(msgspec.Struct, frozen=True, kw_only=True):
    """A token bucket of burst 1 (``flowcontrol.NewTokenBucketRateLimiter``); qps 0 refuses."""

    qps: float
    tokens: float = 1.0
    at_ms: int = 0


class NodePrivate(msgspec.Struct, frozen=True, kw_only=True):
    started: bool = False
    health: immutables.Map[str, Health] = msgspec.field(default_factory=immutables.Map)
    known: frozenset[str] = frozenset()
    zones: immutables.Map[str, str] = msgspec.field(default_factory=immutables.Map)
    limiters: immutables.Map[str, Limiter] = msgspec.field(default_factory=immutables.Map)
    queue: tuple[str, ...] = ()
    retry: frozenset[str] = frozenset()


def handle(context: Context[NodePrivate], change: Change) -> Reaction[NodePrivate]:
    """The first event starts the monitor; a node added or updated queues its NoSchedule key."""
    adds: list[str] = []
    private = context.private
    if not private.started:
        private = msgspec.structs.replace(private, started=True)
        adds.append(KEY)
    if change.resource == "nodes" and change.new is not None:
        adds.append(NO_SCHEDULE_KEY + (meta(change.new).name or ""))
    return Reaction(expectations=context.expectations, private=private, adds=tuple(adds))


def no_schedule_keys(node: Json) -> list[str]:
    """The NoSchedule taint keys the node's conditions (in their order), then
    ``spec.unschedulable``, call for."""
    wanted: list[str] = []
    for condition in (node.get("status") or {}).get("conditions") or []:
        key = CONDITION_TAINTS.get((str(condition.get("type")), str(condition.get("status"))))
        if key is not None and key not in wanted:
            wanted.append(key)
    if (node.get("spec") or {}).get("unschedulable"):
        wanted.append(UNSCHEDULABLE)
    return wanted


def no_schedule_patch(node: Json, now_ms: int) -> Json | None:
    """``doNoScheduleTaintingPass``: the merge patch that makes the node's controller-owned
    NoSchedule taints those of :func:`no_schedule_keys` (new ones appended with ``timeAdded``
    now; any other taint kept in place), with the node's resourceVersion; None when nothing
    changes."""
    wanted = no_schedule_keys(node)
    current = _taints(node)

    def owned(taint: Json) -> bool:
        return taint.get("effect") == "NoSchedule" and taint.get("key") in NO_SCHEDULE_OWNED

    kept = [t for t in current if not owned(t) or t.get("key") in wanted]
    present = {t.get("key") for t in kept if owned(t)}
    added = [
        {"key": key, "effect": "NoSchedule", "timeAdded": timestamp(now_ms)}
        for key in wanted
        if key not in present
    ]
    if not added and len(kept) == len(current):
        return None
    version = (node.get("metadata") or {}).get("resourceVersion")
    return {"metadata": {"resourceVersion": version}, "spec": {"taints": [*kept, *added] or None}}


def _no_schedule_sync(context: Context[NodePrivate], name: str) -> Outcome[NodePrivate]:
    node = get(context.cache, "nodes", "", name)
    patch = no_schedule_patch(plain(node), context.now_ms) if node is not None else None
    if patch is None:
        return Outcome(expectations=context.expectations, private=context.private)
    call = ApiCall(
        method="PATCH",
        path=f"/api/v1/nodes/{name}",
        content_type=MERGE,
        body=msgspec.json.encode(patch),
    )
    planned = Planned(call=call, tolerated=frozenset({404}))
    return Outcome(
        expectations=context.expectations, private=context.private, batches=((planned,),)
    )


def zone_of(node: Node) -> str:
    """``GetZoneKey``: region and zone labels, or the empty zone."""
    found = labels(node)
    region = found.get("topology.kubernetes.io/region", "")
    zone = found.get("topology.kubernetes.io/zone", "")
    return f"{region}:\x00:{zone}" if region or zone else ""


def _condition(conditions: list[Json], kind: str) -> Json | None:
    return next((c for c in conditions if c.get("type") == kind), None)


def _taints(node: Json) -> list[Json]:
    return list((node.get("spec") or {}).get("taints") or [])


def has_taint(node: Json, key: str) -> bool:
    return any(t.get("key") == key and t.get("effect") == "NoExecute" for t in _taints(node))


def _taint_patch(node: Json, add: str | None, remove: tuple[str, ...], now_ms: int) -> Json | None:
    """The node's taints with ``add`` (NoExecute, timeAdded now) and without ``remove``;
    None when nothing changes."""
    current = _taints(node)
    kept = [t for t in current if not (t.get("key") in remove and t.get("effect") == "NoExecute")]
    if add is not None and not any(
        t.get("key") == add and t.get("effect") == "NoExecute" for t in kept
    ):
        kept.append({"key": add, "effect": "NoExecute", "timeAdded": timestamp(now_ms)})
    if kept == current:
        return None
    return {"spec": {"taints": kept or None}}


def _patch_call(name: str, body: Json) -> Planned:
    return Planned(
        call=ApiCall(
            method="PATCH",
            path=f"/api/v1/nodes/{name}",
            content_type=MERGE,
            body=msgspec.json.encode(body),
        ),
        any_answer=True,
    )


class Pass:
    """One monitor pass: the writes it plans and the state it leaves."""

    def __init__(self, context: Context[NodePrivate]) -> None:
        self.context = context
        self.now = context.now_ms
        self.config = context.config
        self.private = context.private
        self.health = dict(context.private.health)
        self.queue = list(context.private.queue)
        self.retry = set(context.private.retry)
        self.nodes: dict[str, Json] = {}
        self.status_calls: list[Planned] = []
        self.taint_patches: dict[str, Json] = {}
        self.pod_calls: list[tuple[str, Planned]] = []
        self.current_ready: dict[str, str] = {}
        self.events: list[Planned] = []

    def record(self, obj: Any, kind: str, reason: str, message: str, warning: bool = False) -> None:
        planned = events.event(
            self.config,
            "node-controller",
            obj,
            kind,
            "v1",
            reason,
            message,
            self.now,
            len(self.events),
            warning,
        )
        if planned is not None:
            self.events.append(planned)

    def taint(self, name: str, add: str | None, remove: Iterable[str]) -> None:
        node = self.nodes[name]
        if name in self.taint_patches:
            node = {
                **node,
                "spec": {**(node.get("spec") or {}), **self.taint_patches[name]["spec"]},
            }
        patch = _taint_patch(node, add, tuple(remove), self.now)
        if patch is not None:
            self.taint_patches[name] = patch

    def reachable(self, name: str) -> None:
        """``markNodeAsReachable``."""
        self.taint(name, None, (UNREACHABLE, NOT_READY))
        if name in self.queue:
            self.queue.remove(name)


def try_update_health(
    node: Json, saved: Health | None, lease_renew: str | None, now_ms: int, config: ControllerConfig
) -> tuple[Health, Json, Json | None, Json | None]:
    """``tryUpdateNodeHealth``: (health, observed Ready, current Ready, status to write)."""
    status = node.get("status") or {}
    conditions = [dict(c) for c in status.get("conditions") or []]
    created = (node.get("metadata") or {}).get("creationTimestamp")
    current = _condition(conditions, "Ready")
    created_ms = (seconds(created) or 0) * 1000
    if current is None:
        observed: Json = {
            "type": "Ready",
            "status": "Unknown",
            "lastHeartbeatTime": created,
            "lastTransitionTime": created,
        }
        grace = config.node_startup_grace_period_ms
        health = saved or Health(probe_ms=created_ms, transition_ms=created_ms)
    else:
        observed = dict(current)
        grace = config.node_monitor_grace_period_ms
        health = saved or Health(probe_ms=now_ms, transition_ms=now_ms)
    heartbeat = current.get("lastHeartbeatTime") if current else None
    transition = current.get("lastTransitionTime") if current else None
    if current is None:
        pass  # Kubernetes overwrites the saved status first: nothing below applies
    elif saved is None or not saved.has_ready:
        health = Health(probe_ms=now_ms, transition_ms=now_ms)
    elif saved.heartbeat != heartbeat:
        moved = saved.ready_transition != transition
        health = Health(probe_ms=now_ms, transition_ms=now_ms if moved else saved.transition_ms)
    health = msgspec.structs.replace(
        health,
        heartbeat=heartbeat,
        ready_transition=transition,
        has_ready=current is not None,
        lease_renew=saved.lease_renew if saved else None,
    )
    if lease_renew is not None and (health.lease_renew is None or health.lease_renew < lease_renew):
        health = msgspec.structs.replace(health, lease_renew=lease_renew, probe_ms=now_ms)
    if now_ms <= health.probe_ms + grace:
        return health, observed, current, None
    moment = timestamp(now_ms)
    for kind in CONDITIONS:
        found = _condition(conditions, kind)
        if found is None:
            conditions.append(
                {
                    "type": kind,
                    "status": "Unknown",
                    "reason": "NodeStatusNeverUpdated",
                    "message": "Kubelet never posted node status.",
                    "lastHeartbeatTime": created,
                    "lastTransitionTime": moment,
                }
            )
        elif found.get("status") != "Unknown":
            found.update(
                status="Unknown",
                reason="NodeStatusUnknown",
                message="Kubelet stopped posting node status.",
                lastTransitionTime=moment,
            )
    current = _condition(conditions, "Ready")
    if current == observed:
        return health, observed, current, None
    health = msgspec.structs.replace(
        health,
        transition_ms=now_ms,
        ready_transition=current.get("lastTransitionTime") if current else None,
    )
    written = {**node, "status": {**status, "conditions": conditions}}
    return health, observed, current, written


def _pods_on(context: Context[NodePrivate], name: str) -> list[Any]:
    return [
        pod
        for pod in every(context.cache, "pods")
        if pod.spec is not None and pod.spec.node_name == name and _ready_true(pod)
    ]


def _ready_true(pod: Any) -> bool:
    conditions = (pod.status.conditions or ()) if pod.status is not None else ()
    return any(c.type == "Ready" and c.status != "False" for c in conditions)


def _mark_pods_not_ready(
    context: Context[NodePrivate], name: str, now_ms: int
) -> list[tuple[str, Planned]]:
    """``MarkPodsNotReady``: each pod on the node with Ready not False gets Ready=False."""
    calls = []
    for pod in every(context.cache, "pods"):
        if pod.spec is None or pod.spec.node_name != name:
            continue
        body = plain(pod)
        conditions = list((body.get("status") or {}).get("conditions") or [])
        ready = _condition(conditions, "Ready")
        if ready is None or ready.get("status") == "False":
            continue
        changed = {**ready, "status": "False", "lastTransitionTime": timestamp(now_ms)}
        body["status"]["conditions"] = [changed if c is ready else c for c in conditions]
        path = f"/api/v1/namespaces/{meta(pod).namespace}/pods/{meta(pod).name}/status"
        call = ApiCall(
            method="PUT", path=path, content_type="application/json", body=msgspec.json.encode(body)
        )
        calls.append((name, Planned(call=call, any_answer=True)))
    return calls


def compute_zone_state(ready_statuses: list[str]) -> str:
    """``ComputeZoneState``."""
    ready = sum(1 for s in ready_statuses if s == "True")
    not_ready = len(ready_statuses) - ready
    if ready == 0 and not_ready > 0:
        return FULL
    if not_ready > 2 and not_ready / (not_ready + ready) >= 0.55:
        return PARTIAL
    return NORMAL


def _zone_qps(config: ControllerConfig, state: str, size: int) -> float:
    """``setLimiterInZone``."""
    if state == PARTIAL:
        return (
            config.secondary_node_eviction_rate
            if size > config.large_cluster_size_threshold
            else 0.0
        )
    return config.node_eviction_rate


def _accept(limiter: Limiter, now_ms: int) -> tuple[Limiter, bool]:
    if limiter.qps <= 0:
        return limiter, False
    tokens = min(1.0, limiter.tokens + (now_ms - limiter.at_ms) / 1000 * limiter.qps)
    if tokens >= 1.0:
        return Limiter(qps=limiter.qps, tokens=tokens - 1.0, at_ms=now_ms), True
    return Limiter(qps=limiter.qps, tokens=tokens, at_ms=now_ms), False


def sync(context: Context[NodePrivate], key: str) -> Outcome[NodePrivate]:
    if key.startswith(NO_SCHEDULE_KEY):
        return _no_schedule_sync(context, key.removeprefix(NO_SCHEDULE_KEY))
    run = Pass(context)
    private = context.private
    nodes = {meta(n).name or "": n for n in every(context.cache, "nodes")}
    run.nodes = {name: plain(node) for name, node in nodes.items()}
    zones = dict(private.zones)
    limiters = dict(private.limiters)
    for name in sorted(set(nodes) - private.known):
        run.record(
            nodes[name],
            "Node",
            "RegisteredNode",
            f"Node {name} event: Registered Node {name} in Controller",
        )
        zone = zone_of(nodes[name])
        if zone not in zones:
            zones[zone] = INITIAL
            limiters[zone] = Limiter(qps=context.config.node_eviction_rate, at_ms=run.now)
        run.reachable(name)
    for name in private.known - set(nodes):
        run.health.pop(name, None)
        if name in run.queue:
            run.queue.remove(name)
    by_zone: dict[str, list[str]] = {}
    for name in sorted(nodes):
        node = run.nodes[name]
        lease = get(context.cache, "leases", LEASE_NAMESPACE, name)
        renew = lease.spec.renew_time if lease is not None and lease.spec is not None else None
        health, observed, current, written = try_update_health(
            node, run.health.get(name), renew, run.now, context.config
        )
        run.health[name] = health
        if written is not None:
            call = ApiCall(
                method="PUT",
                path=f"/api/v1/nodes/{name}/status",
                content_type="application/json",
                body=msgspec.json.encode(written),
            )
            run.status_calls.append(Planned(call=call, any_answer=True))
        if EXCLUDE_DISRUPTION not in labels(nodes[name]):
            by_zone.setdefault(zone_of(nodes[name]), []).append(
                (current or {}).get("status") or "Unknown"
            )
        if current is None:
            continue
        run.current_ready[name] = str(current.get("status"))
        _taint_based_eviction(run, name, str(observed.get("status")))
        left_ready = current.get("status") != "True" and observed.get("status") == "True"
        if left_ready:
            run.record(
                nodes[name], "Node", "NodeNotReady", f"Node {name} status is now: NodeNotReady"
            )
        if left_ready or (name in run.retry and observed.get("status") != "True"):
            for pod in _pods_on(context, name):
                run.record(pod, "Pod", "NodeNotReady", "Node is not ready", warning=True)
            run.pod_calls += _mark_pods_not_ready(context, name, run.now)
        run.retry.discard(name)
    zones = _handle_disruption(run, nodes, zones, limiters, by_zone)
    _tainting_pass(run, nodes, limiters, zones)
    private = NodePrivate(
        started=True,
        health=immutables.Map(run.health),
        known=frozenset(nodes),
        zones=immutables.Map(zones),
        limiters=immutables.Map(limiters),
        queue=tuple(run.queue),
        retry=frozenset(run.retry),
    )
    batch = (
        *run.events,
        *run.status_calls,
        *(_patch_call(name, patch) for name, patch in sorted(run.taint_patches.items())),
        *(planned for _, planned in run.pod_calls),
    )
    if not batch:
        return Outcome(
            expectations=context.expectations,
            private=private,
            requeue_after_ms=context.config.node_monitor_period_ms,
        )
    return Outcome(
        expectations=context.expectations,
        private=private,
        batches=(batch,),
        resume=True,
        memo=tuple(name for name, _ in run.pod_calls),
    )


def _taint_based_eviction(run: Pass, name: str, observed: str) -> None:
    """``processTaintBaseEviction`` with the Ready status seen at the start of the pass."""
    node = run.nodes[name]
    if observed == "False":
        if has_taint(node, UNREACHABLE):
            run.taint(name, NOT_READY, (UNREACHABLE,))
        elif name not in run.queue:
            run.queue.append(name)
    elif observed == "Unknown":
        if has_taint(node, NOT_READY):
            run.taint(name, UNREACHABLE, (NOT_READY,))
        elif name not in run.queue:
            run.queue.append(name)
    elif observed == "True":
        run.reachable(name)


def _handle_disruption(
    run: Pass,
    nodes: dict[str, Node],
    zones: dict[str, str],
    limiters: dict[str, Limiter],
    by_zone: dict[str, list[str]],
) -> dict[str, str]:
    """``handleDisruption``: zone states and their tainting rates."""
    fresh = {zone: compute_zone_state(statuses) for zone, statuses in by_zone.items()}
    all_now = all(state == FULL for state in fresh.values())
    for zone in [z for z in zones if z not in by_zone]:
        zones.pop(zone)
    all_before = all(state == FULL for state in zones.values())
    if all_now and all_before:
        return zones
    if all_now:
        for name in sorted(nodes):
            run.reachable(name)
        for zone in zones:
            limiters[zone] = Limiter(qps=0.0, at_ms=run.now)
            zones[zone] = FULL
        return zones
    if all_before:
        for name in nodes:
            if name in run.health:
                run.health[name] = msgspec.structs.replace(
                    run.health[name], probe_ms=run.now, transition_ms=run.now
                )
        for zone in zones:
            state = fresh.get(zone, NORMAL)
            qps = _zone_qps(run.config, state, len(by_zone.get(zone, ())))
            limiters[zone] = Limiter(qps=qps, at_ms=run.now)
            zones[zone] = state
        return zones
    for zone, state in list(zones.items()):
        new = fresh.get(zone, state)
        if new == state:
            continue
        qps = _zone_qps(run.config, new, len(by_zone.get(zone, ())))
        if limiters.get(zone, Limiter(qps=-1)).qps != qps:
            limiters[zone] = Limiter(qps=qps, at_ms=run.now)
        zones[zone] = new
    return zones


def _tainting_pass(
    run: Pass, nodes: dict[str, Node], limiters: dict[str, Limiter], zones: dict[str, str]
) -> None:
    """``doNoExecuteTaintingPass``: queued nodes, as each zone's rate allows."""
    del zones
    blocked: set[str] = set()
    for name in list(run.queue):
        node = nodes.get(name)
        if node is None:
            run.queue.remove(name)
            continue
        zone = zone_of(node)
        if zone in blocked:
            continue
        limiter = limiters.get(zone, Limiter(qps=run.config.node_eviction_rate, at_ms=run.now))
        limiter, ok = _accept(limiter, run.now)
        limiters[zone] = limiter
        if not ok:
            blocked.add(zone)
            continue
        run.queue.remove(name)
        status = run.current_ready.get(name)
        if status == "False":
            run.taint(name, NOT_READY, (UNREACHABLE,))
        elif status == "Unknown":
            run.taint(name, UNREACHABLE, (NOT_READY,))


def resume(
    context: Context[NodePrivate], key: str, memo: Any, replies: tuple[Reply, ...], failed: bool
) -> Outcome[NodePrivate]:
    """Nodes whose pods could not all be marked not ready are retried next pass."""
    del key, failed
    private = context.private
    pod_nodes: tuple[str, ...] = memo
    pod_replies = replies[len(replies) - len(pod_nodes) :] if pod_nodes else ()
    retry = set(private.retry)
    for name, reply in zip(pod_nodes, pod_replies, strict=False):
        status = reply.answer.status
        if not (200 <= status < 300 or status == 404):
            retry.add(name)
    return Outcome(
        expectations=context.expectations,
        private=msgspec.structs.replace(private, retry=frozenset(retry)),
        requeue_after_ms=context.config.node_monitor_period_ms,
    )


def _workers(config: ControllerConfig) -> int:
    del config
    return 1


DEFINITION: ControllerDef[NodePrivate] = ControllerDef(
    name=NAME,
    watches=(Watch("nodes"), Watch("pods"), Watch("leases")),
    initial=lambda _config: NodePrivate(),
    handle=handle,
    sync=sync,
    resume=resume,
    workers=_workers,
    aliases=("nodelifecycle",),
)
