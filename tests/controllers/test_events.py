"""The Events the controllers record (with ``record_events``, as ``serve controller-manager``
runs them), with kube-controller-manager's reasons and messages: the Deployment's
ScalingReplicaSet "Scaled up replica set X from 0 to 3", the ReplicaSet's SuccessfulCreate
"Created pod: P" and SuccessfulDelete "Deleted pod: P", the Job's SuccessfulCreate and
"Job completed", the node controller's RegisteredNode "Node N event: Registered Node N in
Controller"."""

from __future__ import annotations

from typing import Any

from impl.controllers import deployment, garbagecollector, job, nodelifecycle, replicaset
from impl.controllers.plan import ControllerDef
from models.controllers.config import ControllerConfig
from runner.controllers.local import LocalCluster
from tests.controllers.cluster import (
    DEPLOYMENTS,
    PODS,
    REPLICASETS,
    create,
    deployment_body,
    merge_patch,
)
from tests.controllers.test_job import JOBS, finish, live

EVENTS = "/api/v1/namespaces/default/events"
CONFIG = ControllerConfig(record_events=True)


def recorded(c: LocalCluster) -> list[tuple[str, str, str, str, str]]:
    found = c.items(EVENTS)
    return sorted(
        (
            e["involvedObject"]["kind"],
            e["involvedObject"]["name"],
            e["reason"],
            e["message"],
            e["source"]["component"],
        )
        for e in found
    )


def test_deployment_and_replicaset_events() -> None:
    definitions: list[ControllerDef[Any]] = [
        deployment.DEFINITION,
        replicaset.DEFINITION,
        garbagecollector.DEFINITION,
    ]
    c = LocalCluster(definitions, CONFIG)
    create(c, DEPLOYMENTS, deployment_body(replicas=3))
    c.settle()
    (rs,) = c.items(REPLICASETS)
    name = rs["metadata"]["name"]
    pods = sorted(p["metadata"]["name"] for p in c.items(PODS))
    assert recorded(c) == sorted(
        [
            (
                "Deployment",
                "web",
                "ScalingReplicaSet",
                f"Scaled up replica set {name} from 0 to 3",
                "deployment-controller",
            ),
            *(
                (
                    "ReplicaSet",
                    name,
                    "SuccessfulCreate",
                    f"Created pod: {p}",
                    "replicaset-controller",
                )
                for p in pods
            ),
        ]
    )
    merge_patch(c, f"{DEPLOYMENTS}/web", {"spec": {"replicas": 2}})
    c.settle()
    events = recorded(c)
    assert (
        "Deployment",
        "web",
        "ScalingReplicaSet",
        f"Scaled down replica set {name} from 3 to 2",
        "deployment-controller",
    ) in events
    (deleted,) = [e for e in events if e[2] == "SuccessfulDelete"]
    assert deleted[3].removeprefix("Deleted pod: ") in pods
    first: dict[str, Any] = c.items(EVENTS)[0]
    assert (first["type"], first["count"]) == ("Normal", 1)
    assert first["firstTimestamp"] == first["lastTimestamp"]


def test_job_events() -> None:
    c = LocalCluster([job.DEFINITION], CONFIG, run_pods=False)
    body = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "pi", "namespace": "default"},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "perl"}]}
            }
        },
    }
    create(c, JOBS, body)
    c.settle(pods=False)
    (pod,) = live(c)
    finish(c, pod, "Succeeded")
    for _ in range(3):
        c.advance(1)
        c.settle(pods=False)
    assert recorded(c) == [
        ("Job", "pi", "Completed", "Job completed", "job-controller"),
        (
            "Job",
            "pi",
            "SuccessfulCreate",
            f"Created pod: {pod['metadata']['name']}",
            "job-controller",
        ),
    ]


def test_the_node_controller_registers_nodes() -> None:
    c = LocalCluster([nodelifecycle.DEFINITION], CONFIG)
    c.settle(pods=False)
    assert recorded(c) == [
        (
            "Node",
            "node-1",
            "RegisteredNode",
            "Node node-1 event: Registered Node node-1 in Controller",
            "node-controller",
        )
    ]
