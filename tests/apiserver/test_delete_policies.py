"""Propagation policies, the garbage collector's finalizers and DELETE on a collection, as kube's
generic store decides them (``registry/generic/registry/store.go``: ``Delete``,
``shouldOrphanDependents``, ``shouldDeleteDependents``,
``deletionFinalizersForGarbageCollection``, ``markAsDeleting``,
``updateForGracefulDeletionAndFinalizers``, ``DeleteCollection``; ``rest.BeforeDelete``; the
delete handler's 202 rule). Without kube-controller-manager nothing removes the GC finalizers:
the objects stay, marked, as on a real API server alone."""

from __future__ import annotations

from typing import Any

from runner.apiserver.local import LocalApiServer
from tests.apiserver.helpers import CONFIGMAPS, DEPLOYMENTS, PODS, configmap, deployment, pod

NOW = "2026-01-01T00:00:00Z"


def _events(server: LocalApiServer, watch: int) -> list[tuple[str, str]]:
    return [(e["type"], e["object"]["metadata"]["name"]) for e in server.events(watch)]


def _delete(server: LocalApiServer, name: str, **options: Any) -> dict[str, Any]:
    answer = server.call("DELETE", f"{DEPLOYMENTS}/{name}", options)
    assert answer.status in (200, 202), answer.body
    return answer.body  # type: ignore[no-any-return]


def test_marking_bumps_generation_and_sets_grace_zero(server: LocalApiServer) -> None:
    server.call("POST", DEPLOYMENTS, deployment("web"))
    marked = _delete(server, "web", propagationPolicy="Foreground")["metadata"]
    assert marked["finalizers"] == ["foregroundDeletion"]
    assert marked["deletionTimestamp"] == NOW
    assert marked["deletionGracePeriodSeconds"] == 0
    assert marked["generation"] == 2  # markAsDeleting: generation + 1 on the first marking


def test_a_second_delete_switches_the_gc_finalizer(server: LocalApiServer) -> None:
    server.call("POST", DEPLOYMENTS, deployment("web"))
    _delete(server, "web", propagationPolicy="Foreground")
    switched = _delete(server, "web", propagationPolicy="Orphan")["metadata"]
    assert switched["finalizers"] == ["orphan"]
    assert switched["generation"] == 2  # already marked: no second bump
    # No policy: the object's own GC finalizer decides, so nothing changes.
    again = _delete(server, "web")["metadata"]
    assert again["finalizers"] == ["orphan"]
    assert again["resourceVersion"] == switched["resourceVersion"]


def test_background_drops_the_gc_finalizer_and_deletes(server: LocalApiServer) -> None:
    server.call("POST", DEPLOYMENTS, deployment("web"))
    _delete(server, "web", propagationPolicy="Orphan")
    answer = server.call("DELETE", f"{DEPLOYMENTS}/web", {"propagationPolicy": "Background"})
    assert answer.status == 200
    assert answer.body["kind"] == "Status"
    assert server.call("GET", f"{DEPLOYMENTS}/web").status == 404


def test_other_finalizers_stay_and_keep_their_order(server: LocalApiServer) -> None:
    body = configmap("a", finalizers=["x.io/b", "x.io/a"])
    server.call("POST", CONFIGMAPS, body)
    held = server.call("DELETE", f"{CONFIGMAPS}/a", {"propagationPolicy": "Foreground"}).body
    assert held["metadata"]["finalizers"] == ["x.io/b", "x.io/a", "foregroundDeletion"]
    back = server.call("DELETE", f"{CONFIGMAPS}/a", {"propagationPolicy": "Background"}).body
    assert back["metadata"]["finalizers"] == ["x.io/b", "x.io/a"]
    assert server.call("GET", f"{CONFIGMAPS}/a").status == 200


def test_orphan_dependents_false_is_accepted_while_the_object_stays(
    server: LocalApiServer,
) -> None:
    server.call("POST", CONFIGMAPS, configmap("a", finalizers=["x.io/hold"]))
    kept = server.call("DELETE", f"{CONFIGMAPS}/a", {"orphanDependents": False})
    assert kept.status == 202
    assert kept.body["metadata"]["finalizers"] == ["x.io/hold"]
    orphaned = server.call("DELETE", f"{CONFIGMAPS}/a", {"orphanDependents": True})
    assert orphaned.status == 200
    assert orphaned.body["metadata"]["finalizers"] == ["x.io/hold", "orphan"]


def test_an_unscheduled_pod_is_marked_then_removed(server: LocalApiServer) -> None:
    server.call("POST", PODS, pod("p1"))
    watch = server.watch(PODS, {"resourceVersion": "1"})
    answer = server.call("DELETE", f"{PODS}/p1")
    assert answer.status == 200
    # CheckGracefulDelete always answers true for pods (grace 0 here): the store writes the
    # mark, then deletes; the answer is the last state.
    assert answer.body["metadata"]["deletionTimestamp"] == NOW
    assert answer.body["metadata"]["deletionGracePeriodSeconds"] == 0
    assert _events(server, watch) == [("ADDED", "p1"), ("MODIFIED", "p1"), ("DELETED", "p1")]
    assert server.call("GET", f"{PODS}/p1").status == 404


def test_delete_collection_deletes_the_selected_objects(server: LocalApiServer) -> None:
    for name, team in (("a", "x"), ("b", "x"), ("c", "y")):
        server.call("POST", CONFIGMAPS, configmap(name, labels={"team": team}))
    server.call("POST", CONFIGMAPS, configmap("held", labels={"team": "x"}, finalizers=["x.io/h"]))
    answer = server.call("DELETE", CONFIGMAPS, {}, query={"labelSelector": "team=x"})
    assert answer.status == 200
    # DeleteCollection answers the list it read before deleting.
    assert answer.body["kind"] == "ConfigMapList"
    listed = [item["metadata"]["name"] for item in answer.body["items"]]
    assert listed == ["a", "b", "held"]
    assert all("deletionTimestamp" not in item["metadata"] for item in answer.body["items"])
    left = server.call("GET", CONFIGMAPS).body["items"]
    assert [item["metadata"]["name"] for item in left] == ["c", "held"]
    assert left[1]["metadata"]["deletionTimestamp"] == NOW


def test_delete_collection_refuses_a_bad_selector(server: LocalApiServer) -> None:
    server.call("POST", CONFIGMAPS, configmap("a"))
    answer = server.call("DELETE", CONFIGMAPS, {}, query={"fieldSelector": "spec.x=1"})
    assert answer.status == 400
    assert answer.body["message"] == "field label not supported: spec.x"
    assert server.call("GET", f"{CONFIGMAPS}/a").status == 200


def test_delete_collection_stops_at_the_first_refusal(server: LocalApiServer) -> None:
    server.call("POST", CONFIGMAPS, configmap("a"))
    server.call("POST", CONFIGMAPS, configmap("b"))
    options = {"preconditions": {"uid": "nobody"}}
    answer = server.call("DELETE", CONFIGMAPS, options)
    assert answer.status == 409
    assert len(server.call("GET", CONFIGMAPS).body["items"]) == 2
