"""StatefulSets and PodDisruptionBudgets, and evictions that budgets guard (kube v1.35:
``SetDefaults_StatefulSet`` with MaxUnavailableStatefulSet beta; ``ValidateStatefulSetUpdate``;
``ValidatePodDisruptionBudgetSpec``; the StatefulSet and PDB printers; ``EvictionREST.Create``
with ``canIgnorePDB``, ``checkAndDecrement`` and ``UpdateDisruptionAllowedCondition``)."""

from __future__ import annotations

from typing import Any

from runner.apiserver.local import LocalApiServer
from tests.apiserver.helpers import PODS, pod

STS = "/apis/apps/v1/namespaces/default/statefulsets"
PDBS = "/apis/policy/v1/namespaces/default/poddisruptionbudgets"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
NOW = "2026-01-01T00:00:00Z"


def _stateful_set(name: str = "db") -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name},
        "spec": {
            "serviceName": name,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "postgres:17"}]},
            },
        },
    }


def _budget(name: str = "b", **spec: Any) -> dict[str, Any]:
    spec.setdefault("selector", {"matchLabels": {"app": "db"}})
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
            "spec": spec}  # fmt: skip


def test_a_stateful_set_is_defaulted_printed_and_scaled(server: LocalApiServer) -> None:
    created = server.call("POST", STS, _stateful_set())
    assert created.status == 201
    spec = created.body["spec"]
    assert spec["replicas"] == 1
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"partition": 0, "maxUnavailable": 1},
    }
    assert spec["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }
    assert spec["revisionHistoryLimit"] == 10
    scaled = server.call(
        "PATCH", f"{STS}/db/scale", {"spec": {"replicas": 3}},
        content_type="application/merge-patch+json",
    )  # fmt: skip
    assert scaled.status == 200
    assert scaled.body["status"]["selector"] == "app=db"
    table = server.call("GET", STS, accept=TABLE).body
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name", "Ready", "Age", "Containers", "Images",
    ]  # fmt: skip
    assert table["rows"][0]["cells"][:2] == ["db", "0/3"]


def test_a_stateful_set_update_may_change_only_some_spec_fields(server: LocalApiServer) -> None:
    live = server.call("POST", STS, _stateful_set()).body
    live["spec"]["serviceName"] = "other"
    answer = server.call("PUT", f"{STS}/db", live)
    assert answer.status == 422
    assert answer.body["message"] == (
        'StatefulSet.apps "db" is invalid: spec: Forbidden: updates to statefulset spec for '
        "fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', "
        "'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' "
        "are forbidden"
    )


def test_a_budget_takes_a_count_or_a_percentage_not_both(server: LocalApiServer) -> None:
    both = server.call("POST", PDBS, _budget(minAvailable=1, maxUnavailable="200%"))
    assert both.status == 422
    fields = [cause["field"] for cause in both.body["details"]["causes"]]
    assert fields == ["spec", "spec.maxUnavailable"]
    assert server.call("POST", PDBS, _budget(minAvailable="50%")).status == 201
    row = server.call("GET", PDBS, accept=TABLE).body["rows"][0]["cells"]
    assert row[:4] == ["b", "50%", "N/A", 0]


def _running_pod(server: LocalApiServer, name: str, ready: bool = True) -> None:
    live = server.call("POST", PODS, pod(name, labels={"app": "db"}, nodeName="n1")).body
    condition = {"type": "Ready", "status": "True" if ready else "False"}
    live["status"] = {"phase": "Running", "conditions": [condition]}
    assert server.call("PUT", f"{PODS}/{name}/status", live).status == 200


def _observed(server: LocalApiServer, name: str, allowed: int, current: int = 2) -> None:
    live = server.call("GET", f"{PDBS}/{name}").body
    live["status"] = {
        "observedGeneration": live["metadata"]["generation"],
        "disruptionsAllowed": allowed,
        "currentHealthy": current,
        "desiredHealthy": 2,
        "expectedPods": 2,
    }
    assert server.call("PUT", f"{PDBS}/{name}/status", live).status == 200


def _evict(server: LocalApiServer, name: str) -> Any:
    body = {"apiVersion": "policy/v1", "kind": "Eviction",
            "metadata": {"name": name, "namespace": "default"}}  # fmt: skip
    return server.call("POST", f"{PODS}/{name}/eviction", body)


def test_a_budget_with_no_disruption_left_refuses_with_429(server: LocalApiServer) -> None:
    _running_pod(server, "p1")
    server.call("POST", PDBS, _budget(minAvailable=2))
    fresh = _evict(server, "p1")  # the budget's controller has not observed it yet
    assert fresh.status == 429
    assert fresh.body["details"]["causes"] == [
        {"reason": "DisruptionBudget",
         "message": "The disruption budget b is still being processed by the server."},
    ]  # fmt: skip
    _observed(server, "b", allowed=0)
    refused = _evict(server, "p1")
    assert refused.status == 429
    assert refused.body["reason"] == "TooManyRequests"
    assert refused.body["message"] == (
        "Cannot evict pod as it would violate the pod's disruption budget."
    )
    assert refused.body["details"]["causes"][0]["message"] == (
        "The disruption budget b needs 2 healthy pods and has 2 currently"
    )
    assert "deletionTimestamp" not in server.call("GET", f"{PODS}/p1").body["metadata"]


def test_an_allowed_eviction_spends_the_budget(server: LocalApiServer) -> None:
    _running_pod(server, "p1")
    server.call("POST", PDBS, _budget(maxUnavailable=1))
    _observed(server, "b", allowed=1)
    answer = _evict(server, "p1")
    assert answer.status == 201
    # A bound pod is deleted gracefully (30 s by default).
    assert server.call("GET", f"{PODS}/p1").body["metadata"]["deletionGracePeriodSeconds"] == 30
    status = server.call("GET", f"{PDBS}/b").body["status"]
    assert status["disruptionsAllowed"] == 0
    assert status["disruptedPods"] == {"p1": NOW}
    assert status["conditions"][0]["type"] == "DisruptionAllowed"
    assert status["conditions"][0]["status"] == "False"
    assert status["conditions"][0]["reason"] == "InsufficientPods"


def test_pods_a_budget_does_not_guard(server: LocalApiServer) -> None:
    server.call("POST", PDBS, _budget(minAvailable=2))
    _observed(server, "b", allowed=0, current=2)
    server.call("POST", PODS, pod("pending", labels={"app": "db"}))
    assert _evict(server, "pending").status == 201  # canIgnorePDB: a pending pod
    _running_pod(server, "unready", ready=False)
    # Unready, and the application is healthy (currentHealthy >= desiredHealthy > 0).
    assert _evict(server, "unready").status == 201


def test_two_budgets_for_one_pod_are_an_internal_error(server: LocalApiServer) -> None:
    _running_pod(server, "p1")
    server.call("POST", PDBS, _budget("b1", minAvailable=1))
    server.call("POST", PDBS, _budget("b2", minAvailable=1))
    answer = _evict(server, "p1")
    assert answer.status == 500
    assert answer.body["message"] == (
        "Internal error occurred: This pod has more than one PodDisruptionBudget, which the "
        "eviction subresource does not support."
    )
