"""``spec.cluster.properties`` on hand-made observations: each predicate holds where the
cluster is right and fails where it is not."""

from __future__ import annotations

import msgspec

from models.k8s.base import decode_hook
from models.k8s.core.node import Node
from models.k8s.core.pod import Pod
from spec.cluster import properties as p


def node(taints: list[dict[str, str]], cpu: str = "4") -> Node:
    raw = {
        "metadata": {"name": "n"},
        "spec": {"taints": taints},
        "status": {"allocatable": {"cpu": cpu}},
    }
    return msgspec.convert(raw, Node, dec_hook=decode_hook)


def pod(tolerations: list[dict[str, str]], cpu: str = "250m") -> Pod:
    container = {"name": "c", "image": "i", "resources": {"requests": {"cpu": cpu}}}
    raw = {
        "metadata": {"name": "p"},
        "spec": {"containers": [container], "tolerations": tolerations},
    }
    return msgspec.convert(raw, Pod, dec_hook=decode_hook)


TAINT = {"key": "dedicated", "value": "infra", "effect": "NoSchedule"}


def test_an_untolerated_no_schedule_taint_is_named() -> None:
    assert p.untolerated_no_schedule(pod([]), node([TAINT])) == ("dedicated=infra:NoSchedule",)
    tolerating = pod([{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}])
    assert p.untolerated_no_schedule(tolerating, node([TAINT])) == ()
    prefer = {"key": "dedicated", "value": "infra", "effect": "PreferNoSchedule"}
    assert p.untolerated_no_schedule(pod([]), node([prefer])) == ()


def test_requests_and_allocatable_in_millicores() -> None:
    assert p.cpu_millis(pod([], "250m")) == 250
    assert p.allocatable_cpu_millis(node([], "4")) == 4000
    assert p.NODE_NOT_OVERCOMMITTED.holds(((2000, 2000), 4000))
    assert not p.NODE_NOT_OVERCOMMITTED.holds(((2000, 2001), 4000))


def test_a_pod_keeps_its_node_and_runs_once() -> None:
    assert p.POD_BOUND_ONCE.holds(("u", "", "a"))
    assert p.POD_BOUND_ONCE.holds(("u", "a", "a"))
    assert not p.POD_BOUND_ONCE.holds(("u", "a", "b"))
    assert p.POD_RUNS_ONCE.holds({"u": frozenset({"a"})})
    assert not p.POD_RUNS_ONCE.holds({"u": frozenset({"a", "b"})})


def test_the_cache_holds_only_applied_revisions() -> None:
    assert p.cached_at_committed("/registry/pods/d/p", 7, 9, frozenset({"/registry/pods/d/p"}))
    assert not p.cached_at_committed("/registry/pods/d/p", 10, 9, None)
    assert not p.cached_at_committed("/registry/pods/d/p", 7, 9, frozenset({"/registry/x"}))
    assert p.cached_at_committed("/registry/pods/d/p", 7, 9, None)


def test_a_leader_acts_only_on_caches_listed_since_it_acquired() -> None:
    assert p.synced_leader(10, (("pods", 10), ("replicasets", 12))) == ()
    assert p.synced_leader(10, (("pods", 9), ("replicasets", 12))) == ("pods",)
    assert p.synced_leader(-1, ()) == ("lease",)


def test_a_deleted_pod_may_run_only_briefly() -> None:
    assert not p.deleted_too_long(1000, 1000 + p.DELETED_POD_STOP_BOUND_MS)
    assert p.deleted_too_long(1000, 1001 + p.DELETED_POD_STOP_BOUND_MS)


def test_a_proxy_backend_must_have_been_a_ready_selected_pod() -> None:
    ready = {"10.64.0.2": [{"app": "web-0", "pod-template-hash": "x"}]}
    assert p.routes_to_ready("10.64.0.2", {"app": "web-0"}, ready)
    assert not p.routes_to_ready("10.64.0.2", {"app": "web-1"}, ready)
    assert not p.routes_to_ready("10.64.0.9", {"app": "web-0"}, ready)
    assert not p.routes_to_ready("10.64.0.2", {}, ready)


def test_an_eviction_must_be_covered_by_the_budget_it_spends() -> None:
    assert p.evicted_within_budget(1, ("a",), ("a", "b"))
    assert p.evicted_within_budget(0, ("a",), ("a",))
    assert p.evicted_within_budget(0, ("a", "b"), ("b",))
    assert not p.evicted_within_budget(0, ("a",), ("a", "b"))
    assert not p.evicted_within_budget(1, (), ("a", "b"))


def test_a_job_counts_no_more_successes_than_pods_succeeded() -> None:
    assert p.JOB_COUNTS_SUCCEEDED_PODS.holds((0, 0))
    assert p.JOB_COUNTS_SUCCEEDED_PODS.holds((2, 3))
    assert p.JOB_COUNTS_SUCCEEDED_PODS.holds((3, 3))
    assert not p.JOB_COUNTS_SUCCEEDED_PODS.holds((4, 3))
