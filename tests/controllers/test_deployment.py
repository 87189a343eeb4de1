"""The Deployment and ReplicaSet controllers together, on the reference API server, against
what the Kubernetes Deployment docs and controller sources say a rollout does."""

from __future__ import annotations

from typing import Any

from models.controllers.messages import Call
from runner.controllers.local import LocalCluster
from tests.controllers.cluster import (
    DEPLOYMENTS,
    annotation,
    cluster,
    create,
    deployment_body,
    image_of,
    live_pods,
    merge_patch,
    ready,
    replica_sets,
    set_image,
)

REVISION = "deployment.kubernetes.io/revision"


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in obj["status"].get("conditions") or () if c["type"] == kind), None)


def deployed(c: LocalCluster, name: str = "web") -> dict[str, Any]:
    found: dict[str, Any] | None = c.get(f"{DEPLOYMENTS}/{name}")
    assert found is not None
    return found


def test_a_new_deployment_gets_one_replica_set_with_revision_1_and_all_its_pods() -> None:
    c = cluster()
    create(c, DEPLOYMENTS, deployment_body(replicas=10))
    c.settle()
    (rs,) = replica_sets(c).values()
    assert rs["metadata"]["name"].startswith("web-")
    assert rs["metadata"]["labels"]["pod-template-hash"] == rs["metadata"]["name"][4:]
    assert annotation(rs, REVISION) == "1"
    assert annotation(rs, "deployment.kubernetes.io/desired-replicas") == "10"
    assert annotation(rs, "deployment.kubernetes.io/max-replicas") == "13"  # 10 + ceil(25%)
    pods = live_pods(c)
    assert len(pods) == 10
    assert all(ready(p) for p in pods)
    d = deployed(c)
    assert annotation(d, REVISION) == "1"
    status = d["status"]
    assert (status["replicas"], status["updatedReplicas"], status["availableReplicas"]) == (
        10,
        10,
        10,
    )
    assert status["observedGeneration"] == d["metadata"]["generation"]
    progressing = condition(d, "Progressing")
    assert progressing is not None
    assert progressing["reason"] == "NewReplicaSetAvailable"
    available = condition(d, "Available")
    assert available is not None
    assert available["reason"] == "MinimumReplicasAvailable"


def bounds_watcher(c: LocalCluster, replicas: int, surge: int, unavailable: int) -> list[str]:
    """Record every moment a controller call left more than replicas + surge live pods or fewer
    than replicas - unavailable ready ones."""
    broken: list[str] = []

    def check(name: str, command: Call, status: int) -> None:
        del name, status
        pods = live_pods(c)
        if len(pods) > replicas + surge:
            broken.append(f"{len(pods)} pods after {command.call.method} {command.call.path}")
        if sum(1 for p in pods if ready(p)) < replicas - unavailable:
            broken.append(f"too few ready after {command.call.method} {command.call.path}")

    c.after_call.append(check)
    return broken


def test_a_rolling_update_stays_within_max_surge_and_max_unavailable() -> None:
    c = cluster()
    create(c, DEPLOYMENTS, deployment_body(replicas=10))
    c.settle()
    broken = bounds_watcher(c, replicas=10, surge=3, unavailable=2)
    set_image(c, "web", "nginx:2")
    c.settle()
    assert broken == []
    sets = replica_sets(c)
    assert sorted((annotation(rs, REVISION), rs["spec"]["replicas"]) for rs in sets.values()) == [
        ("1", 0),
        ("2", 10),
    ]
    assert {image_of(p) for p in live_pods(c)} == {"nginx:2"}
    assert annotation(deployed(c), REVISION) == "2"


def test_rolling_back_reuses_the_old_replica_set_with_the_next_revision() -> None:
    c = cluster()
    create(c, DEPLOYMENTS, deployment_body(replicas=3))
    c.settle()
    set_image(c, "web", "nginx:2")
    c.settle()
    set_image(c, "web", "nginx:1")  # what kubectl rollout undo writes: the old template
    c.settle()
    sets = replica_sets(c)
    assert len(sets) == 2
    back = next(rs for rs in sets.values() if rs["spec"]["replicas"] == 3)
    assert annotation(back, REVISION) == "3"
    assert annotation(back, "deployment.kubernetes.io/revision-history") == "1"
    assert {image_of(p) for p in live_pods(c)} == {"nginx:1"}


def test_recreate_never_runs_old_and_new_pods_together() -> None:
    c = cluster()
    create(c, DEPLOYMENTS, deployment_body(replicas=4, strategy={"type": "Recreate"}))
    c.settle()
    mixed: list[set[str]] = []

    def check(name: str, command: Call, status: int) -> None:
        del name, command, status
        images = {image_of(p) for p in c.items("/api/v1/namespaces/default/pods")}
        if len(images) > 1:
            mixed.append(images)

    c.after_call.append(check)
    set_image(c, "web", "nginx:2")
    c.settle()
    assert mixed == []
    assert {image_of(p) for p in live_pods(c)} == {"nginx:2"}
    assert len(live_pods(c)) == 4


def test_a_paused_deployment_does_not_roll_out_until_resumed() -> None:
    c = cluster()
    create(c, DEPLOYMENTS, deployment_body(replicas=3))
    c.settle()
    merge_patch(c, f"{DEPLOYMENTS}/web", {"spec": {"paused": True}})
    set_image(c, "web", "nginx:2")
    c.settle()
    assert len(replica_sets(c)) == 1
    progressing = condition(deployed(c), "Progressing")
    assert progressing is not None
    assert (progressing["status"], progressing["reason"]) == ("Unknown", "DeploymentPaused")
    merge_patch(c, f"{DEPLOYMENTS}/web", {"spec": {"paused": False}})
    c.settle()
    assert {image_of(p) for p in live_pods(c)} == {"nginx:2"}
    progressing = condition(deployed(c), "Progressing")
    assert progressing is not None
    assert progressing["reason"] == "NewReplicaSetAvailable"


def test_a_stuck_rollout_exceeds_its_progress_deadline() -> None:
    c = cluster()
    create(c, DEPLOYMENTS, deployment_body(replicas=3, progressDeadlineSeconds=60))
    c.settle()
    c.unready_images = frozenset({"nginx:broken"})
    set_image(c, "web", "nginx:broken")
    c.settle()
    c.advance(59)
    c.settle()
    progressing = condition(deployed(c), "Progressing")
    assert progressing is not None
    assert progressing["status"] == "True"
    c.advance(3)  # the controller queued itself for lastUpdateTime + 60 s + 1 s
    c.settle()
    progressing = condition(deployed(c), "Progressing")
    assert progressing is not None
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")


def test_scaling_mid_rollout_is_proportional_as_the_docs_example() -> None:
    # Deployment docs, "Proportional scaling": 10 replicas, maxSurge 3, maxUnavailable 2, a new
    # image that never becomes ready leaves the old ReplicaSet at 8 and the new one at 5; scaling
    # to 15 adds 3 to the old and 2 to the new.
    c = cluster()
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2}}
    create(c, DEPLOYMENTS, deployment_body(replicas=10, strategy=strategy))
    c.settle()
    c.unready_images = frozenset({"nginx:missing"})
    set_image(c, "web", "nginx:missing")
    c.settle()
    sizes = sorted(rs["spec"]["replicas"] for rs in replica_sets(c).values())
    assert sizes == [5, 8]
    merge_patch(c, f"{DEPLOYMENTS}/web", {"spec": {"replicas": 15}})
    c.settle()
    by_image = {
        rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs["spec"]["replicas"]
        for rs in replica_sets(c).values()
    }
    assert by_image == {"nginx:1": 11, "nginx:missing": 7}


def test_old_replica_sets_beyond_the_history_limit_are_deleted() -> None:
    c = cluster()
    create(c, DEPLOYMENTS, deployment_body(replicas=2, revisionHistoryLimit=1))
    c.settle()
    for image in ("nginx:2", "nginx:3", "nginx:4"):
        set_image(c, "web", image)
        c.settle()
    sets = replica_sets(c)
    assert sorted(str(annotation(rs, REVISION)) for rs in sets.values()) == ["3", "4"]
