"""Delete: immediate, graceful (pods), finalizers, preconditions, propagation policies and
namespace termination (api-concepts "Resource deletion"; ``registry/generic/registry/store.go``
Delete, finalizeDelete, ShouldDeleteDuringUpdate; ``pod/strategy.go`` CheckGracefulDelete;
the NamespaceLifecycle admission plugin)."""

from __future__ import annotations

from typing import Any

from runner.apiserver.local import LocalApiServer
from tests.apiserver.helpers import CONFIGMAPS, DEPLOYMENTS, PODS, configmap, deployment, pod

NOW = "2026-01-01T00:00:00Z"


def _summary(server: LocalApiServer, watch: int) -> list[tuple[str, str]]:
    return [(e["type"], e["object"]["metadata"]["name"]) for e in server.events(watch)]


def test_delete_answers_a_success_status_for_most_kinds(server: LocalApiServer) -> None:
    uid = server.call("POST", CONFIGMAPS, configmap("a")).body["metadata"]["uid"]
    answer = server.call("DELETE", f"{CONFIGMAPS}/a", {"propagationPolicy": "Background"})
    assert answer.status == 200
    assert answer.body["kind"] == "Status"
    assert answer.body["status"] == "Success"
    assert answer.body["details"] == {"name": "a", "kind": "configmaps", "uid": uid}
    assert server.call("GET", f"{CONFIGMAPS}/a").status == 404
    again = server.call("DELETE", f"{CONFIGMAPS}/a")
    assert again.status == 404
    assert again.body["message"] == 'configmaps "a" not found'


def test_deleting_a_deployment_names_its_group(server: LocalApiServer) -> None:
    server.call("POST", DEPLOYMENTS, deployment())
    answer = server.call("DELETE", f"{DEPLOYMENTS}/web")
    assert answer.body["details"]["group"] == "apps"
    assert answer.body["details"]["kind"] == "deployments"


def test_deleting_an_unscheduled_pod_is_immediate_and_returns_it(server: LocalApiServer) -> None:
    created = server.call("POST", PODS, pod("p1")).body
    answer = server.call("DELETE", f"{PODS}/p1")
    assert answer.status == 200
    assert answer.body["kind"] == "Pod"
    assert answer.body["metadata"]["uid"] == created["metadata"]["uid"]
    assert server.call("GET", f"{PODS}/p1").status == 404


def test_a_scheduled_pod_waits_out_its_grace_period(server: LocalApiServer) -> None:
    server.call("POST", PODS, pod("p1", nodeName="n1"))
    watch = server.watch(PODS, {"resourceVersion": "1"})
    answer = server.call("DELETE", f"{PODS}/p1")
    assert answer.status == 200
    meta = answer.body["metadata"]
    assert meta["deletionTimestamp"] == "2026-01-01T00:00:30Z"  # now + the default 30 s
    assert meta["deletionGracePeriodSeconds"] == 30
    assert server.call("GET", f"{PODS}/p1").status == 200
    # The kubelet's final delete: grace 0 removes it.
    final = server.call("DELETE", f"{PODS}/p1", {"gracePeriodSeconds": 0})
    assert final.status == 200
    assert server.call("GET", f"{PODS}/p1").status == 404
    # BeforeDelete shortens the running grace period to 0, the store writes that (MODIFIED),
    # then deletes (DELETED): updateForGracefulDeletionAndFinalizers, then Storage.Delete.
    assert _summary(server, watch) == [
        ("ADDED", "p1"),
        ("MODIFIED", "p1"),
        ("MODIFIED", "p1"),
        ("DELETED", "p1"),
    ]


def test_a_second_delete_may_only_shorten_the_grace_period(server: LocalApiServer) -> None:
    server.call("POST", PODS, pod("p1", nodeName="n1"))
    server.call("DELETE", f"{PODS}/p1", {"gracePeriodSeconds": 10})
    longer = server.call("DELETE", f"{PODS}/p1", {"gracePeriodSeconds": 60}).body
    assert longer["metadata"]["deletionGracePeriodSeconds"] == 10
    shorter = server.call("DELETE", f"{PODS}/p1", {"gracePeriodSeconds": 5}).body
    assert shorter["metadata"]["deletionGracePeriodSeconds"] == 5
    assert shorter["metadata"]["deletionTimestamp"] == "2026-01-01T00:00:05Z"


def _finalized(server: LocalApiServer) -> dict[str, Any]:
    body = configmap("a", finalizers=["example.com/hold"])
    return server.call("POST", CONFIGMAPS, body).body  # type: ignore[no-any-return]


def test_a_finalizer_holds_the_object_until_removed(server: LocalApiServer) -> None:
    _finalized(server)
    watch = server.watch(CONFIGMAPS, {"fieldSelector": "metadata.name=a", "resourceVersion": "1"})
    answer = server.call("DELETE", f"{CONFIGMAPS}/a")
    assert answer.status == 200
    held = answer.body
    assert held["metadata"]["deletionTimestamp"] == NOW
    assert held["metadata"]["deletionGracePeriodSeconds"] == 0
    assert held["metadata"]["finalizers"] == ["example.com/hold"]
    assert server.call("GET", f"{CONFIGMAPS}/a").status == 200
    released = dict(held, metadata=dict(held["metadata"], finalizers=[]))
    assert server.call("PUT", f"{CONFIGMAPS}/a", released).status == 200
    assert server.call("GET", f"{CONFIGMAPS}/a").status == 404
    assert _summary(server, watch) == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]


def test_no_new_finalizer_once_deleting(server: LocalApiServer) -> None:
    _finalized(server)
    held = server.call("DELETE", f"{CONFIGMAPS}/a").body
    more = dict(held, metadata=dict(held["metadata"], finalizers=["example.com/hold", "x.io/y"]))
    answer = server.call("PUT", f"{CONFIGMAPS}/a", more)
    assert answer.status == 422
    assert answer.body["details"]["causes"][0]["field"] == "metadata.finalizers"


def test_deletion_timestamp_cannot_be_changed_by_update(server: LocalApiServer) -> None:
    _finalized(server)
    held = server.call("DELETE", f"{CONFIGMAPS}/a").body
    moved = dict(held, metadata=dict(held["metadata"], deletionTimestamp="2030-01-01T00:00:00Z"))
    answer = server.call("PUT", f"{CONFIGMAPS}/a", moved)
    assert answer.body["metadata"]["deletionTimestamp"] == NOW


def test_foreground_and_orphan_add_their_finalizers(server: LocalApiServer) -> None:
    server.call("POST", DEPLOYMENTS, deployment("fg"))
    server.call("POST", DEPLOYMENTS, deployment("or"))
    fg = server.call("DELETE", f"{DEPLOYMENTS}/fg", {"propagationPolicy": "Foreground"}).body
    assert fg["metadata"]["finalizers"] == ["foregroundDeletion"]
    orphan = server.call("DELETE", f"{DEPLOYMENTS}/or", {"propagationPolicy": "Orphan"}).body
    assert orphan["metadata"]["finalizers"] == ["orphan"]


def test_uid_precondition_mismatch_is_409(server: LocalApiServer) -> None:
    uid = server.call("POST", CONFIGMAPS, configmap("a")).body["metadata"]["uid"]
    answer = server.call("DELETE", f"{CONFIGMAPS}/a", {"preconditions": {"uid": "other"}})
    assert answer.status == 409
    assert answer.body["message"] == (
        'Operation cannot be fulfilled on configmaps "a": Precondition failed: '
        f"UID in precondition: other, UID in object meta: {uid}"
    )
    assert server.call("GET", f"{CONFIGMAPS}/a").status == 200


def test_resource_version_precondition(server: LocalApiServer) -> None:
    rv = server.call("POST", CONFIGMAPS, configmap("a")).body["metadata"]["resourceVersion"]
    stale = server.call("DELETE", f"{CONFIGMAPS}/a", {"preconditions": {"resourceVersion": "1"}})
    assert stale.status == 409
    fresh = server.call("DELETE", f"{CONFIGMAPS}/a", {"preconditions": {"resourceVersion": rv}})
    assert fresh.status == 200


def test_a_terminating_namespace_refuses_creates(server: LocalApiServer) -> None:
    server.call("POST", "/api/v1/namespaces", {"metadata": {"name": "doomed"}})
    path = "/api/v1/namespaces/doomed/configmaps"
    server.call("POST", path, configmap("before"))
    answer = server.call("DELETE", "/api/v1/namespaces/doomed")
    assert answer.status == 200
    assert answer.body["status"]["phase"] == "Terminating"
    refused = server.call("POST", path, configmap("after"))
    assert refused.status == 403
    assert refused.body["reason"] == "Forbidden"
    assert refused.body["message"] == (
        'configmaps "after" is forbidden: unable to create new content in namespace doomed '
        "because it is being terminated"
    )
    cause = refused.body["details"]["causes"][0]
    assert cause == {
        "reason": "NamespaceTerminating",
        "message": "namespace doomed is being terminated",
        "field": "metadata.namespace",
    }
    # Existing content can still be read and changed while the namespace terminates.
    assert server.call("GET", f"{path}/before").status == 200


def test_system_namespaces_may_not_be_deleted(server: LocalApiServer) -> None:
    answer = server.call("DELETE", "/api/v1/namespaces/kube-system")
    assert answer.status == 403
    assert answer.body["message"] == (
        'namespaces "kube-system" is forbidden: this namespace may not be deleted'
    )
