"""Cascading deletion as the Kubernetes garbage-collection docs describe it, driven by the
reference garbage collector against the reference API server."""

from __future__ import annotations

from typing import Any

from impl.controllers.garbagecollector import FORGETS_ORPHANING
from models.controllers.messages import Call
from runner.controllers.local import LocalCluster
from tests.controllers.cluster import (
    DEPLOYMENTS,
    PODS,
    cluster,
    create,
    deployment_body,
    live_pods,
    replica_sets,
)

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


def delete(c: LocalCluster, path: str, policy: str) -> None:
    answer = c.api.call("DELETE", path, {"propagationPolicy": policy})
    assert answer.status in (200, 202), answer.body


def running_deployment(mutant: str = "") -> LocalCluster:
    c = cluster(mutant=mutant)
    create(c, DEPLOYMENTS, deployment_body(replicas=3))
    c.settle()
    return c


def test_background_deletes_the_owner_at_once_and_the_dependents_after() -> None:
    c = running_deployment()
    delete(c, f"{DEPLOYMENTS}/web", "Background")
    assert c.get(f"{DEPLOYMENTS}/web") is None
    assert len(replica_sets(c)) == 1  # not yet collected
    c.settle()
    assert replica_sets(c) == {}
    assert c.items(PODS) == []


def test_foreground_keeps_the_owner_until_its_blocking_dependents_are_gone() -> None:
    c = running_deployment()
    delete(c, f"{DEPLOYMENTS}/web", "Foreground")
    owner = c.get(f"{DEPLOYMENTS}/web")
    assert owner is not None
    assert owner["metadata"]["deletionTimestamp"]
    assert "foregroundDeletion" in owner["metadata"]["finalizers"]
    early: list[str] = []

    def check(name: str, command: Call, status: int) -> None:
        del name, command, status
        if c.get(f"{DEPLOYMENTS}/web") is None and (replica_sets(c) or c.items(PODS)):
            early.append("the owner went before its dependents")

    c.after_call.append(check)
    c.settle()
    assert early == []
    assert c.get(f"{DEPLOYMENTS}/web") is None
    assert replica_sets(c) == {}
    assert c.items(PODS) == []


def test_orphan_keeps_the_dependents_without_the_owner_reference() -> None:
    c = running_deployment()
    (name,) = replica_sets(c)
    delete(c, f"{DEPLOYMENTS}/web", "Orphan")
    c.settle()
    assert c.get(f"{DEPLOYMENTS}/web") is None
    rs = replica_sets(c)[name]
    assert not rs["metadata"].get("ownerReferences")
    assert len(live_pods(c)) == 3
    # a Deployment with the same selector and template adopts the orphan instead of rolling out
    create(c, DEPLOYMENTS, deployment_body(replicas=3))
    c.settle()
    assert list(replica_sets(c)) == [name]
    (reference,) = replica_sets(c)[name]["metadata"]["ownerReferences"]
    assert reference["kind"] == "Deployment"
    assert reference["controller"] is True
    assert reference["blockOwnerDeletion"] is True


def test_a_collector_that_forgets_orphaning_loses_the_dependents() -> None:
    c = running_deployment(mutant=FORGETS_ORPHANING)
    delete(c, f"{DEPLOYMENTS}/web", "Orphan")
    c.settle()
    assert replica_sets(c) == {}


def configmap(
    name: str, owner: dict[str, Any] | None = None, block: bool = True, hold: bool = False
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": "default"}
    if owner is not None:
        metadata["ownerReferences"] = [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "name": owner["metadata"]["name"],
                "uid": owner["metadata"]["uid"],
                "blockOwnerDeletion": block,
            }
        ]
    if hold:
        metadata["finalizers"] = ["example.com/hold"]
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}


def held_child(block: bool) -> LocalCluster:
    c = cluster()
    answer = c.api.call("POST", CONFIGMAPS, configmap("parent"))
    create(c, CONFIGMAPS, configmap("child", owner=answer.body, block=block, hold=True))
    c.settle()
    delete(c, f"{CONFIGMAPS}/parent", "Foreground")
    c.settle()
    return c


def test_only_dependents_with_block_owner_deletion_hold_a_foreground_deletion() -> None:
    blocked = held_child(block=True)
    assert blocked.get(f"{CONFIGMAPS}/parent") is not None  # waits for the held child
    child = blocked.get(f"{CONFIGMAPS}/child")
    assert child is not None
    assert child["metadata"].get("deletionTimestamp")
    free = held_child(block=False)
    assert free.get(f"{CONFIGMAPS}/parent") is None


def test_a_dependent_whose_owner_never_existed_is_collected() -> None:
    c = cluster()
    ghost = {"metadata": {"name": "ghost", "uid": "no-such-uid"}}
    create(c, CONFIGMAPS, configmap("orphaned", owner=ghost))
    c.settle()
    assert c.get(f"{CONFIGMAPS}/orphaned") is None
