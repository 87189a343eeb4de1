"""The disruption controller (disruption.go, v1.35) and the API server's eviction gate.
Expected values come from the PodDisruptionBudget docs ("Specifying a Disruption Budget":
minAvailable/maxUnavailable as a number or a percentage of the controller's scale, rounded
up; "Pod disruption budgets": status currentHealthy, desiredHealthy, expectedPods,
disruptionsAllowed, the DisruptionAllowed condition) and the eviction API docs (429 while a
disruption would violate the budget)."""

from __future__ import annotations

from typing import Any

from impl.controllers import deployment, disruption, garbagecollector, replicaset
from runner.controllers.local import LocalCluster
from tests.controllers.cluster import DEPLOYMENTS, PODS, create, deployment_body, live_pods

PDBS = "/apis/policy/v1/namespaces/default/poddisruptionbudgets"


def local() -> LocalCluster:
    return LocalCluster(
        [
            replicaset.DEFINITION,
            deployment.DEFINITION,
            garbagecollector.DEFINITION,
            disruption.DEFINITION,
        ]
    )


def budget(c: LocalCluster, name: str = "web", **spec: Any) -> None:
    body = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec},
    }
    create(c, PDBS, body)


def status(c: LocalCluster, name: str = "web") -> dict[str, Any]:
    found: dict[str, Any] = c.get(f"{PDBS}/{name}")["status"]
    return found


def numbers(found: dict[str, Any]) -> tuple[int, int, int, int]:
    return (
        found["expectedPods"],
        found["desiredHealthy"],
        found["currentHealthy"],
        found["disruptionsAllowed"],
    )


def condition(found: dict[str, Any]) -> tuple[str, str]:
    (cond,) = [c for c in found["conditions"] if c["type"] == "DisruptionAllowed"]
    return cond["status"], cond["reason"]


def running(replicas: int) -> LocalCluster:
    c = local()
    create(c, DEPLOYMENTS, deployment_body(replicas=replicas))
    c.settle()
    return c


def evict(c: LocalCluster, pod: str) -> int:
    body = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": pod, "namespace": "default"},
    }
    return c.api.call("POST", f"{PODS}/{pod}/eviction", body).status


def test_min_available_as_a_number_counts_the_pods() -> None:
    c = running(3)
    budget(c, minAvailable=2)
    c.settle()
    found = status(c)
    assert numbers(found) == (3, 2, 3, 1)
    assert condition(found) == ("True", "SufficientPods")
    assert found["observedGeneration"] == 1


def test_percentages_are_of_the_deployments_scale_rounded_up() -> None:
    c = running(3)
    budget(c, "half", minAvailable="50%")
    budget(c, "third", maxUnavailable="34%")
    c.settle()
    # 50% of 3 is 1.5: at least 2 available. 34% of 3 is 1.02: at most 2 unavailable.
    assert numbers(status(c, "half")) == (3, 2, 3, 1)
    assert numbers(status(c, "third")) == (3, 1, 3, 2)


def test_a_budget_that_allows_nothing_says_insufficient_pods() -> None:
    c = running(2)
    budget(c, maxUnavailable=0)
    c.settle()
    found = status(c)
    assert numbers(found) == (2, 2, 2, 0)
    assert condition(found) == ("False", "InsufficientPods")


def test_a_pod_whose_controller_is_unknown_fails_the_sync_safely() -> None:
    c = LocalCluster([disruption.DEFINITION], run_pods=False)
    orphan = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "lone",
            "namespace": "default",
            "labels": {"app": "web"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "DaemonSet",
                    "name": "ds",
                    "uid": "ds-uid",
                    "controller": True,
                }
            ],
        },
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }
    create(c, PODS, orphan)
    budget(c, maxUnavailable="10%")
    c.settle()
    found = status(c)
    assert found["disruptionsAllowed"] == 0
    (cond,) = found["conditions"]
    assert (cond["status"], cond["reason"], cond["message"]) == (
        "False",
        "SyncFailed",
        'found no controllers for pod "lone"',
    )


def test_evictions_spend_the_budget_and_the_controller_restores_it() -> None:
    c = running(3)
    budget(c, minAvailable=2)
    c.settle()
    first, second = sorted(p["metadata"]["name"] for p in live_pods(c))[:2]
    assert evict(c, first) == 201
    # The API server spent the one allowed disruption; a second eviction must wait.
    assert evict(c, second) == 429
    c.settle()
    # The ReplicaSet replaced the evicted pod; once it is ready one disruption is allowed again.
    assert len(live_pods(c)) == 3
    found = status(c)
    assert numbers(found) == (3, 2, 3, 1)
    assert "disruptedPods" not in found
    assert evict(c, second) == 201


def test_a_disrupted_pod_not_deleted_within_two_minutes_counts_again() -> None:
    c = running(3)
    budget(c, minAvailable=2)
    c.settle()
    pod = sorted(p["metadata"]["name"] for p in live_pods(c))[0]
    spent = {
        "status": {
            "disruptionsAllowed": 0,
            "disruptedPods": {pod: c.get(f"{PDBS}/web")["metadata"]["creationTimestamp"]},
        }
    }
    # What an eviction whose DELETE never happened leaves behind (a webhook refused it).
    answer = c.api.call(
        "PATCH", f"{PDBS}/web/status", spent, content_type="application/merge-patch+json"
    )
    assert answer.status == 200, answer.body
    c.settle()
    found = status(c)
    assert numbers(found) == (3, 2, 2, 0)
    assert list(found["disruptedPods"]) == [pod]
    c.advance(119)
    c.settle()
    assert numbers(status(c)) == (3, 2, 2, 0)
    c.advance(2)
    c.settle()
    found = status(c)
    assert numbers(found) == (3, 2, 3, 1)
    assert "disruptedPods" not in found
