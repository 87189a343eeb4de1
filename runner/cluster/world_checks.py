"""The cluster world's checker, progress and statistics: it reads what each component holds
and hands plain observations to ``spec.cluster.properties`` after every step.

- bindings: the pods the most advanced etcd member applied since the last step (its events),
  each uid's node remembered (``pod-bound-once``);
- runtimes: the pods each node's simulated runtime runs (``pod-runs-once``,
  ``node-not-overcommitted`` against the node's allocatable as its kubelet registered it,
  ``deleted-pod-stops`` against when its informer delivered the deletion);
- the API server's watch cache: each object that changed since the last step against the
  members' stores (``cache-at-committed-revision``);
- outputs: each binding the scheduler posted, with the node as its informer had it
  (``binding-respects-seen-taints``), and each controller write, with the leader's Lease
  revision and its informers' list revisions (``leader-acts-on-synced-cache``).

- budgets: each PodDisruptionBudget change etcd applied against the budget's previous version
  (``eviction-within-budget``); drains' evictions refused with 429 (``eviction-refused-arises``);
- Jobs: each Job version etcd applied against the distinct pods it controls that etcd ever
  held Succeeded (``job-counts-succeeded-pods``);
- kube-proxy's routes: each backend against the pods etcd applied as Ready with labels the
  Service's selector matches (``proxy-routes-to-ready-endpoints``).
- Services: the Services the most advanced etcd member holds, whenever one changed, against
  ``spec.apiserver.service_allocations`` (``service-allocations-distinct``: no two share a
  cluster IP or a node port).

Progress (liveness): every Deployment in the API server's cache has observed its generation
and has as many updated, ready replicas as it asks for, and no more; every Job in it has
finished (Complete or Failed); kube-proxy forwards each
Service with a selector to exactly the addresses of its ready pods; no pod bound to a node is
still terminating; and no node runs a pod the API server does not bind to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import msgspec

from models.cluster_world import ClusterAction, ClusterSetup
from models.k8s.base import decode_hook
from models.k8s.core.node import Node
from models.k8s.core.pod import Pod
from runner.cluster.world_kubelets import node_name, running_uids
from runner.cluster.world_managers import ControllerWrote
from runner.cluster.world_scheduler import BindIssued
from runner.cluster.world_state import ClusterState
from spec.apiserver import service_allocations
from spec.cluster import properties as p
from spec.property import Violation

COMPANIONS: Final = (
    "pod-bound-arises",
    "pod-runs-arises",
    "node-runs-pods-arises",
    "cache-holds-objects-arises",
    "binding-beside-taint-arises",
    "leader-write-after-failover-arises",
    "deleted-pod-running-arises",
    "proxy-routes-arise",
    "eviction-spends-budget-arises",
    "eviction-refused-arises",
    "job-counts-successes-arises",
    "services-hold-addresses-arise",
)


def _pod(raw: bytes) -> Pod:
    return msgspec.json.decode(raw, type=Pod, dec_hook=decode_hook)


class ClusterChecker:
    """Every cross-component property after every step (see the module docstring)."""

    def __init__(self, setup: ClusterSetup) -> None:
        self.setup = setup
        self.checked_revision = 0
        self.bound: dict[str, str] = {}
        self.cpu: dict[str, int] = {}
        self.allocatable: dict[str, int] = {}
        self.cache_seen: Any = None
        self.first_leader_revision: int | None = None
        self.ready_labels: dict[str, list[dict[str, str]]] = {}
        self.selectors: dict[str, dict[str, str]] = {}
        self.routes_seen: Any = None
        self.budgets: dict[str, Any] = {}
        self.job_successes: dict[str, set[str]] = {}
        self.services: dict[str, Any] = {}
        self.seen: dict[str, int | None] = dict.fromkeys(COMPANIONS)
        self.index = 0

    def _saw(self, name: str) -> None:
        if self.seen[name] is None:
            self.seen[name] = self.index

    def start(self, state: ClusterState) -> tuple[Violation, ...]:
        return self._judge(state, ())

    def step(
        self,
        index: int,
        action: ClusterAction,
        before: ClusterState,
        after: ClusterState,
        outputs: tuple[tuple[str, object], ...],
    ) -> tuple[Violation, ...]:
        del action
        self.index = index
        for slot, earlier in zip(after.kubelets, before.kubelets, strict=True):
            learned = {uid for uid in slot.deleted_ms if uid not in earlier.deleted_ms}
            learned |= {uid for uid in slot.terminating if uid not in earlier.terminating}
            if learned & running_uids(earlier.machine):
                self._saw("deleted-pod-running-arises")
        return self._judge(after, outputs)

    def finish(self, state: ClusterState, index: int) -> tuple[Violation, ...]:
        del state, index
        return ()

    def coverage(self) -> Mapping[str, int | None]:
        return dict(self.seen)

    def _judge(
        self, state: ClusterState, outputs: tuple[tuple[str, object], ...]
    ) -> tuple[Violation, ...]:
        found: list[Violation] = []
        found += self._bindings(state)
        found += self._runtimes(state)
        found += self._cache(state)
        found += self._routes(state)
        for _, output in outputs:
            if isinstance(output, BindIssued):
                found += self._taints(output)
            elif isinstance(output, ControllerWrote):
                found += self._leader(output)
            elif (
                isinstance(output, tuple)
                and len(output) == 3
                and str(output[0]).startswith("evict ")
                and output[1] == 429
            ):
                self._saw("eviction-refused-arises")
        return tuple(found)

    # etcd: bindings -----------------------------------------------------------------------

    def _most_applied(self, state: ClusterState) -> Any:
        best = None
        for _, slot in sorted(state.members.nodes.items()):
            if slot.state is not None and (
                best is None or slot.state.etcd.revision > best.revision
            ):
                best = slot.state.etcd
        return best

    def _bindings(self, state: ClusterState) -> list[Violation]:
        store = self._most_applied(state)
        if store is None or store.revision <= self.checked_revision:
            return []
        found: list[Violation] = []
        services_changed = False
        for revision in range(self.checked_revision + 1, store.revision + 1):
            for event in self._events_at(state, store, revision):
                key = event.kv.key.decode()
                if key.startswith("/registry/nodes/") and event.kv.value:
                    node = msgspec.json.decode(event.kv.value, type=Node, dec_hook=decode_hook)
                    self.allocatable[node.meta.name or ""] = p.allocatable_cpu_millis(node)
                if key.startswith("/registry/poddisruptionbudgets/"):
                    found += self._budget(key, event.kv.value, revision)
                if key.startswith("/registry/jobs/") and event.kv.value:
                    found += self._job(key, event.kv.value, revision)
                if key.startswith("/registry/services/specs/"):
                    name = key.removeprefix("/registry/services/specs/")
                    services_changed = True
                    if event.kv.value:
                        service: Any = msgspec.json.decode(event.kv.value)
                        spec = service.get("spec") or {}
                        self.selectors[name] = dict(spec.get("selector") or {})
                        self.services[name] = service
                    else:
                        self.services.pop(name, None)
                if not key.startswith("/registry/pods/") or not event.kv.value:
                    continue
                self._ready(event.kv.value)
                self._job_pod(event.kv.value)
                pod = _pod(event.kv.value)
                uid, node_now = pod.meta.uid or "", pod.pod_spec.node_name or ""
                self.cpu.setdefault(uid, p.cpu_millis(pod))
                before = self.bound.get(uid, "")
                if node_now:
                    self._saw("pod-bound-arises")
                    self.bound.setdefault(uid, node_now)
                if not p.POD_BOUND_ONCE.holds((uid, before, node_now)):
                    found.append(Violation(
                        property_name=p.POD_BOUND_ONCE.name, nodes=(),
                        reason=f"pod {key.removeprefix('/registry/pods/')} (uid {uid}) was bound "
                        f"to {before} and is now bound to {node_now} (etcd revision {revision})",
                    ))  # fmt: skip
        self.checked_revision = store.revision
        if services_changed:
            found += self._allocations(store.revision)
        return found

    def _job_pod(self, raw: bytes) -> None:
        pod: Any = msgspec.json.decode(raw)
        if (pod.get("status") or {}).get("phase") != "Succeeded":
            return
        meta = pod.get("metadata") or {}
        for owner in meta.get("ownerReferences") or ():
            if owner.get("kind") == "Job" and owner.get("controller"):
                self.job_successes.setdefault(str(owner.get("uid")), set()).add(
                    str(meta.get("uid"))
                )

    def _job(self, key: str, raw: bytes, revision: int) -> list[Violation]:
        job: Any = msgspec.json.decode(raw)
        counted = int((job.get("status") or {}).get("succeeded") or 0)
        uid = str((job.get("metadata") or {}).get("uid"))
        succeeded = len(self.job_successes.get(uid, ()))
        if counted:
            self._saw("job-counts-successes-arises")
        if p.JOB_COUNTS_SUCCEEDED_PODS.holds((counted, succeeded)):
            return []
        return [Violation(
            property_name=p.JOB_COUNTS_SUCCEEDED_PODS.name, nodes=(),
            reason=f"job {key.removeprefix('/registry/jobs/')} counts {counted} succeeded pods "
            f"at etcd revision {revision}, but only {succeeded} of its pods ever succeeded",
        )]  # fmt: skip

    def _budget(self, key: str, raw: bytes, revision: int) -> list[Violation]:
        before = self.budgets.pop(key, None)
        if not raw:
            return []
        after: Any = msgspec.json.decode(raw)
        self.budgets[key] = after
        if before is None:
            return []
        old, new = before.get("status") or {}, after.get("status") or {}
        change = (
            int(old.get("disruptionsAllowed") or 0),
            tuple(sorted(old.get("disruptedPods") or {})),
            tuple(sorted(new.get("disruptedPods") or {})),
        )
        if set(change[2]) - set(change[1]):
            self._saw("eviction-spends-budget-arises")
        if p.EVICTION_WITHIN_BUDGET.holds(change):
            return []
        added = sorted(set(change[2]) - set(change[1]))
        return [Violation(
            property_name=p.EVICTION_WITHIN_BUDGET.name, nodes=(),
            reason=f"budget {key.removeprefix('/registry/poddisruptionbudgets/')} recorded the "
            f"eviction of {', '.join(added)} at etcd revision {revision} while its previous "
            f"version allowed {change[0]} disruptions",
        )]  # fmt: skip

    def _allocations(self, revision: int) -> list[Violation]:
        services = [self.services[name] for name in sorted(self.services)]
        addressed = [
            s for s in services if (s.get("spec") or {}).get("clusterIP") not in (None, "", "None")
        ]
        if len(addressed) >= 2:
            self._saw("services-hold-addresses-arise")
        return [
            Violation(
                property_name="service-allocations-distinct",
                nodes=(),
                reason=f"{reason} (etcd revision {revision})",
            )
            for reason in service_allocations.violations(services)
        ]

    def _ready(self, raw: bytes) -> None:
        pod: Any = msgspec.json.decode(raw)
        status = pod.get("status") or {}
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions") or ()
        )
        address = status.get("podIP")
        if ready and address:
            labels = dict((pod.get("metadata") or {}).get("labels") or {})
            known = self.ready_labels.setdefault(address, [])
            if labels not in known:
                known.append(labels)

    # kube-proxy -------------------------------------------------------------------------------

    def _routes(self, state: ClusterState) -> list[Violation]:
        routes = state.proxy.routes
        if routes is self.routes_seen:
            return []
        self.routes_seen = routes
        found: list[Violation] = []
        for route in routes:
            service = route.service.rsplit(":", 1)[0]
            selector = self.selectors.get(service, {})
            if route.backends:
                self._saw("proxy-routes-arise")
            for backend in route.backends:
                address = backend.rsplit(":", 1)[0]
                if p.routes_to_ready(address, selector, self.ready_labels):
                    continue
                found.append(Violation(
                    property_name="proxy-routes-to-ready-endpoints", nodes=(),
                    reason=f"kube-proxy forwards {route.service} ({route.address}:{route.port}) "
                    f"to {backend}, which no pod matching the selector {selector} had while "
                    "Ready",
                ))  # fmt: skip
        return found

    def _events_at(self, state: ClusterState, store: Any, revision: int) -> tuple[Any, ...]:
        """What revision ``revision`` changed, from the most advanced member or, when it
        restarted from a snapshot taken after that revision, from another that has it."""
        events = store.events.get(revision)
        if events is not None:
            return tuple(events)
        for _, slot in sorted(state.members.nodes.items()):
            if slot.state is not None and revision in slot.state.etcd.events:
                return tuple(slot.state.etcd.events[revision])
        return ()

    # Runtimes -----------------------------------------------------------------------------

    def _runtimes(self, state: ClusterState) -> list[Violation]:
        found: list[Violation] = []
        running: dict[str, set[str]] = {}
        for index, slot in enumerate(state.kubelets):
            name = node_name(index)
            uids = running_uids(slot.machine)
            for uid in sorted(uids):
                running.setdefault(uid, set()).add(name)
                raw = slot.known.get(uid)
                if raw is not None and uid not in self.cpu:
                    self.cpu[uid] = p.cpu_millis(_pod(raw))
            if uids:
                self._saw("node-runs-pods-arises")
            found += self._overcommit(name, uids)
            found += self._deleted(state, name, slot, uids)
        if any(len(nodes) > 1 for nodes in running.values()):
            uid = next(u for u, nodes in sorted(running.items()) if len(nodes) > 1)
            found.append(Violation(
                property_name=p.POD_RUNS_ONCE.name, nodes=(),
                reason=f"pod uid {uid} runs on {', '.join(sorted(running[uid]))}",
            ))  # fmt: skip
        if running:
            self._saw("pod-runs-arises")
        return found

    def _overcommit(self, name: str, uids: frozenset[str]) -> list[Violation]:
        allocatable = self.allocatable.get(name)
        if allocatable is None or not uids:
            return []
        requests = tuple(self.cpu.get(uid, 0) for uid in sorted(uids))
        if p.NODE_NOT_OVERCOMMITTED.holds((requests, allocatable)):
            return []
        return [Violation(
            property_name=p.NODE_NOT_OVERCOMMITTED.name, nodes=(),
            reason=f"node {name} runs {len(uids)} pods requesting {sum(requests)}m cpu, "
            f"allocatable {allocatable}m",
        )]  # fmt: skip

    def _deleted(
        self, state: ClusterState, name: str, slot: Any, uids: frozenset[str]
    ) -> list[Violation]:
        """Judged on the node's clock (the world's plus its skew), as the kubelet measures a
        grace period: a node whose clock was set back waits that much longer."""
        found: list[Violation] = []
        now = state.now_ms + slot.skew_ms
        for uid in sorted(uids):
            deleted = slot.deleted_ms.get(uid)
            marked = slot.terminating.get(uid)
            if deleted is not None and p.deleted_too_long(deleted, now):
                what, since = "that the pod is gone", deleted
            elif marked is not None and p.deleted_too_long(marked[0], now, marked[1]):
                what, since = f"the pod's deletion (grace {marked[1]} s)", marked[0]
            else:
                continue
            found.append(Violation(
                property_name="deleted-pod-stops", nodes=(),
                reason=f"node {name} still runs pod uid {uid} {(now - since) / 1000:g} s (on "
                f"its clock) after its informer delivered {what} (the kubelet's minimum grace "
                f"{p.DELETED_POD_STOP_BOUND_MS / 1000:g} s)",
            ))  # fmt: skip
        return found

    # The API server's cache ---------------------------------------------------------------

    def _cache(self, state: ClusterState) -> list[Violation]:
        api = state.api.state
        if api is None:
            return []
        objects = api.cache.objects
        previous = self.cache_seen
        self.cache_seen = objects
        if objects is previous:
            return []
        applied = max(
            (s.state.etcd.revision for s in state.members.nodes.values() if s.state is not None),
            default=0,
        )
        found: list[Violation] = []
        for key, cached in objects.items():
            if previous is not None and previous.get(key) is cached:
                continue
            self._saw("cache-holds-objects-arises")
            if key.startswith("/registry/pods/"):
                self._ready(cached.value)  # a second witness of ready pods beside etcd's events
            changed = self._changed_keys(state, cached.mod_revision)
            if not p.cached_at_committed(key, cached.mod_revision, applied, changed):
                found.append(Violation(
                    property_name="cache-at-committed-revision", nodes=(),
                    reason=f"the API server's cache holds {key} at revision "
                    f"{cached.mod_revision}, which no etcd member applied with that key "
                    f"(members applied up to {applied})",
                ))  # fmt: skip
        return found

    def _changed_keys(self, state: ClusterState, revision: int) -> frozenset[str] | None:
        for _, slot in sorted(state.members.nodes.items()):
            if slot.state is None or slot.state.etcd.revision < revision:
                continue
            events = slot.state.etcd.events.get(revision)
            if events is not None:
                return frozenset(event.kv.key.decode() for event in events)
        return None

    # Outputs ------------------------------------------------------------------------------

    def _taints(self, output: BindIssued) -> list[Violation]:
        if output.tainted:
            self._saw("binding-beside-taint-arises")
        if not output.node_seen or not output.pod:
            return []
        node = msgspec.json.decode(output.node_seen, type=Node, dec_hook=decode_hook)
        untolerated = p.untolerated_no_schedule(_pod(output.pod), node)
        if not untolerated:
            return []
        return [Violation(
            property_name="binding-respects-seen-taints", nodes=(),
            reason=f"the scheduler bound {output.key} to {output.node}, whose taint "
            f"{', '.join(untolerated)} its node informer had delivered and the pod does not "
            "tolerate",
        )]  # fmt: skip

    def _leader(self, output: ControllerWrote) -> list[Violation]:
        if self.first_leader_revision is None and output.acquired_revision > 0:
            self.first_leader_revision = output.acquired_revision
        elif output.acquired_revision > (self.first_leader_revision or 0):
            self._saw("leader-write-after-failover-arises")
        stale = p.synced_leader(output.acquired_revision, output.listed)
        if not stale:
            return []
        listed = ", ".join(f"{r} at revision {v}" for r, v in output.listed)
        role = (
            "while not leading (it lost the Lease)"
            if output.acquired_revision < 0
            else f"as leader since Lease revision {output.acquired_revision}"
        )
        return [Violation(
            property_name="leader-acts-on-synced-cache", nodes=(),
            reason=f"manager-{output.replica}'s {output.controller} sent {output.method} "
            f"{output.path} {role}; its informers last listed {listed}",
        )]  # fmt: skip


class DeploymentsReady:
    """Liveness: every Deployment reached its replicas and kube-proxy forwards each Service to
    exactly its ready endpoints (see the module docstring)."""

    name = "cluster-converges"

    def __init__(self) -> None:
        self.lagging = ""

    def observe(self, state: ClusterState, outputs: tuple[tuple[str, object], ...]) -> bool:
        del outputs
        api = state.api.state
        if api is None or not api.cache.loaded:
            self.lagging = "the API server is down or its cache is not loaded"
            return False
        objects = api.cache.objects
        for key, cached in sorted(objects.items()):
            if key.startswith("/registry/deployments/"):
                self.lagging = _deployment_lag(key, msgspec.json.decode(cached.value))
                if self.lagging:
                    return False
            if key.startswith("/registry/jobs/"):
                self.lagging = _job_lag(key, msgspec.json.decode(cached.value))
                if self.lagging:
                    return False
        self.lagging = _endpoints_lag(state, objects) or _runtime_lag(state, objects)
        return not self.lagging

    def failure(self, bound: int) -> str:
        return f"the cluster did not converge within {bound} steps: {self.lagging}"


def _job_lag(key: str, job: Any) -> str:
    status = job.get("status") or {}
    done = any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in status.get("conditions") or ()
    )
    if done:
        return ""
    return (
        f"job {key.removeprefix('/registry/jobs/')} has not finished "
        f"({status.get('succeeded') or 0} succeeded, {status.get('active') or 0} active)"
    )


def _deployment_lag(key: str, deployment: Any) -> str:
    wanted = (deployment.get("spec") or {}).get("replicas", 1)
    status = deployment.get("status") or {}
    generation = (deployment.get("metadata") or {}).get("generation", 0)
    done = (
        status.get("observedGeneration", 0) >= generation
        and status.get("updatedReplicas", 0) == wanted
        and status.get("readyReplicas", 0) == wanted
        and status.get("replicas", 0) == wanted
    )
    if done:
        return ""
    return (
        f"{key.removeprefix('/registry/deployments/')} wants {wanted}, has "
        f"{status.get('replicas', 0)} ({status.get('updatedReplicas', 0)} updated, "
        f"{status.get('readyReplicas', 0)} ready)"
    )


def _runtime_lag(state: ClusterState, objects: Any) -> str:
    """A node whose runtime runs a pod the API server does not bind to it."""
    bound: dict[str, set[str]] = {}
    for key, cached in objects.items():
        if key.startswith("/registry/pods/"):
            pod: Any = msgspec.json.decode(cached.value)
            node = (pod.get("spec") or {}).get("nodeName") or ""
            bound.setdefault(node, set()).add(str((pod.get("metadata") or {}).get("uid") or ""))
    for key, cached in sorted(objects.items()):
        if key.startswith("/registry/pods/") and b'"deletionTimestamp"' in cached.value:
            pod = msgspec.json.decode(cached.value)
            if (pod.get("spec") or {}).get("nodeName"):
                # An unscheduled pod left terminating (the API server restarted between
                # marking and removing it) waits for kube's PodGC, not in this world.
                return f"pod {key.removeprefix('/registry/pods/')} is still terminating"
    for index, slot in enumerate(state.kubelets):
        name = node_name(index)
        extra = sorted(running_uids(slot.machine) - bound.get(name, set()))
        if extra:
            return f"{name} runs pod uid {extra[0]}, which the API server does not bind to it"
    return ""


def _endpoints_lag(state: ClusterState, objects: Any) -> str:
    """What kube-proxy's routes lack or have too many of, against the ready pods."""
    ready: list[tuple[str, dict[str, str]]] = []
    for key, cached in objects.items():
        if not key.startswith("/registry/pods/"):
            continue
        pod: Any = msgspec.json.decode(cached.value)
        status = pod.get("status") or {}
        if (pod.get("metadata") or {}).get("deletionTimestamp") or not status.get("podIP"):
            continue
        if any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions") or ()
        ):
            ready.append((status["podIP"], dict((pod.get("metadata") or {}).get("labels") or {})))
    routes = {route.service.rsplit(":", 1)[0]: route for route in state.proxy.routes}
    for key, cached in sorted(objects.items()):
        if not key.startswith("/registry/services/specs/"):
            continue
        name = key.removeprefix("/registry/services/specs/")
        selector = dict((msgspec.json.decode(cached.value).get("spec") or {}).get("selector") or {})
        if not selector:
            continue
        wanted = sorted(ip for ip, labels in ready if p.selected(selector, labels))
        route = routes.get(name)
        have = sorted(b.rsplit(":", 1)[0] for b in route.backends) if route else []
        if have != wanted:
            return f"kube-proxy forwards {name} to {have or 'nothing'}, its ready pods are {wanted}"
    return ""


class Tally:
    """Counts of actions by kind and of API writes by component."""

    def __init__(self) -> None:
        self.actions: dict[str, int] = {}
        self.bindings = 0
        self.controller_writes = 0

    def count(self, action: ClusterAction, outputs: tuple[tuple[str, object], ...]) -> None:
        tag = type(action).__struct_config__.tag
        name = str(tag)
        inner = getattr(action, "action", None)
        if inner is not None:
            name = f"etcd-{type(inner).__name__.lower()}"
        self.actions[name] = self.actions.get(name, 0) + 1
        for _, output in outputs:
            if isinstance(output, BindIssued):
                self.bindings += 1
            elif isinstance(output, ControllerWrote):
                self.controller_writes += 1

    def summary(self) -> dict[str, object]:
        return {
            "actions": dict(sorted(self.actions.items())),
            "bindings": self.bindings,
            "controller_writes": self.controller_writes,
        }
