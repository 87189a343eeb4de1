"""What must hold across the components of a whole cluster, judged from what each one holds.

Every predicate here takes plain observations (Kubernetes objects from ``models``, revisions,
uids), never a component's implementation, so it can judge any cluster's components:

- **one binding** (``pod-bound-once``): a pod, once bound, stays on its node (a Binding is
  refused for a pod whose ``spec.nodeName`` is set: Kubernetes API conventions, pods/binding);
- **one runner** (``pod-runs-once``): no pod's containers run on two nodes at once;
- **no overcommit** (``node-not-overcommitted``): the cpu requested by the pods a node runs fits
  its allocatable (the kubelet's admission and the scheduler's
  NodeResourcesFit filter);
- **committed cache** (``cache-at-committed-revision``): every object in the API server's
  watch cache is at a revision some etcd member applied, with that key changed there (the
  watch cache is fed only by etcd's watch, which reports only committed revisions: etcd API
  guarantees, "Watch");
- **taints** (``binding-respects-seen-taints``): a scheduler never binds a pod to a node whose
  NoSchedule taint the pod does not tolerate, once its node informer delivered that taint
  (TaintToleration filter; a taint set after the informer's last delivery is the documented
  propagation delay);
- **synced leader** (``leader-acts-on-synced-cache``): a controller-manager leader writes only
  once each of its informers listed at or after the revision of the Lease write that made it
  leader (client-go's leader election then ``WaitForCacheSync``);
- **deleted pods stop** (``deleted-pod-stops``): once a kubelet's informer delivered a pod's
  deletion (``deletionTimestamp`` with its grace period), no container of that pod runs there
  after the grace period; once it delivered that the pod is gone from the API server, none
  runs after the kubelet's minimum grace period (pod termination, "Termination of Pods"); the
  times are the node's clock, as the kubelet measures a grace period.

- **proxy routes** (``proxy-routes-to-ready-endpoints``): every backend a kube-proxy forwards a
  Service to is the address of a pod that matched the Service's selector while Ready (the
  EndpointSlice controller publishes only such pods; the proxy's rules may lag behind a pod that
  stopped being ready, which is the documented propagation, but never invent a backend).
- **budgets** (``eviction-within-budget``): an eviction spends a PodDisruptionBudget only
  where the budget's stored status allowed a disruption: each change of a budget in etcd that
  records newly evicted pods in ``status.disruptedPods`` follows a version whose
  ``disruptionsAllowed`` (as the disruption controller computed it, less the evictions since)
  covers them (the eviction subresource's ``checkAndDecrement``: a budget allowing no
  disruption refuses with 429; API-initiated eviction, "How API eviction works").
- **jobs** (``job-counts-succeeded-pods``): a Job's ``status.succeeded`` never exceeds the
  number of distinct pods it controls that ever succeeded (the Job controller counts each
  finished pod once, through the ``batch.kubernetes.io/job-tracking`` finalizer; Jobs,
  "Job tracking with finalizers").

Each safety property has a ``sometimes`` companion (``*-arises``) showing its situation
occurs in runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from models.k8s.core.node import Node
from models.k8s.core.pod import Pod
from models.scheduling.amounts import amount
from models.scheduling.matching import NO_SCHEDULE, tolerated
from spec.property import Property
from spec.scheduler.properties import reference_requests

DELETED_POD_STOP_BOUND_MS: Final = 2_000
"""How long after its kubelet learned that a pod is gone from the API server the pod's
containers may still run. A pod leaves the API server after its containers stopped (the
kubelet's final delete) or when forced (``gracePeriodSeconds: 0``); the kubelet then kills
what still runs with the object's grace period, 0, raised to its 2 s minimum."""

POD_BOUND_ONCE: Final = Property[tuple[str, str, str]](
    "pod-bound-once",
    "always",
    lambda bound: not bound[1] or not bound[2] or bound[1] == bound[2],
    "a bound pod (uid) keeps its node: (uid, node before, node now)",
)
POD_RUNS_ONCE: Final = Property[Mapping[str, frozenset[str]]](
    "pod-runs-once",
    "always",
    lambda running: all(len(nodes) <= 1 for nodes in running.values()),
    "each running pod uid runs on at most one node",
)


def cpu_millis(pod: Pod) -> int:
    """The cpu a pod requests (millicores), as the scheduler counts it."""
    return reference_requests(pod).get("cpu", 0)


def allocatable_cpu_millis(node: Node) -> int:
    """A node's allocatable cpu (millicores), 0 when it says none."""
    status = node.node_status
    found = status.allocatable if status.allocatable is not None else status.capacity
    quantity = None if found is None else found.get("cpu")
    return 0 if quantity is None else amount("cpu", quantity)


def fits(requested_millis: Iterable[int], allocatable_millis: int) -> bool:
    return sum(requested_millis) <= allocatable_millis


NODE_NOT_OVERCOMMITTED: Final = Property[tuple[tuple[int, ...], int]](
    "node-not-overcommitted",
    "always",
    lambda observed: fits(observed[0], observed[1]),
    "(cpu requests of the pods a node runs, its allocatable cpu)",
)


def cached_at_committed(
    key: str, mod_revision: int, applied_revision: int, changed_keys: frozenset[str] | None
) -> bool:
    """The cache's ``key`` at ``mod_revision`` was applied by etcd: some member reached that
    revision and its change there names the key (``changed_keys``: None when every member
    that reached it has compacted it away, so only the revision can be judged)."""
    if mod_revision > applied_revision:
        return False
    return changed_keys is None or key in changed_keys


def untolerated_no_schedule(pod: Pod, node: Node) -> tuple[str, ...]:
    """The NoSchedule taints of ``node`` that ``pod`` does not tolerate, as ``key=value``."""
    tolerations = pod.pod_spec.tolerations or ()
    return tuple(
        f"{taint.key}={taint.value or ''}:{taint.effect}"
        for taint in node.node_spec.taints or ()
        if taint.effect == NO_SCHEDULE
        and not tolerated(tolerations, taint, comparison_operators=False)
    )


def synced_leader(acquired_revision: int, listed: Iterable[tuple[str, int]]) -> tuple[str, ...]:
    """The informers a leader's write was based on that listed before it became leader
    (``acquired_revision`` < 0: it is not leading at all, which is reported as ``lease``)."""
    if acquired_revision < 0:
        return ("lease",)
    return tuple(resource for resource, revision in listed if revision < acquired_revision)


def deleted_too_long(deleted_ms: int, now_ms: int, grace_seconds: int = 0) -> bool:
    """A pod whose deletion (with ``grace_seconds``) its kubelet learned at ``deleted_ms`` has
    run past its grace period and the kubelet's minimum."""
    return now_ms - deleted_ms > grace_seconds * 1000 + DELETED_POD_STOP_BOUND_MS


def selected(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """A Service's equality selector matches ``labels`` (an empty selector matches nothing:
    such a Service has no managed endpoints)."""
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def routes_to_ready(
    backend_address: str,
    selector: Mapping[str, str],
    ready_labels: Mapping[str, Iterable[Mapping[str, str]]],
) -> bool:
    """``backend_address`` belonged to a pod that was Ready with labels the selector matches
    (``ready_labels``: for each pod address, the label sets it had while Ready)."""
    return any(selected(selector, labels) for labels in ready_labels.get(backend_address, ()))


def evicted_within_budget(
    allowed_before: int, evicted_before: Iterable[str], evicted_after: Iterable[str]
) -> bool:
    """A budget's change that adds pods to ``disruptedPods`` (evictions) came from a version
    whose ``disruptionsAllowed`` (``allowed_before``) covered each of them."""
    added = set(evicted_after) - set(evicted_before)
    return not added or allowed_before >= len(added)


EVICTION_WITHIN_BUDGET: Final = Property[tuple[int, tuple[str, ...], tuple[str, ...]]](
    "eviction-within-budget",
    "always",
    lambda change: evicted_within_budget(*change),
    "(disruptionsAllowed before, disruptedPods before, disruptedPods after) of a budget",
)


JOB_COUNTS_SUCCEEDED_PODS: Final = Property[tuple[int, int]](
    "job-counts-succeeded-pods",
    "always",
    lambda counts: counts[0] <= counts[1],
    "(a Job's status.succeeded, the distinct pods it controls that ever succeeded)",
)
