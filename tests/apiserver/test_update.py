"""Update (PUT) and optimistic concurrency (api-concepts "Resource versions";
``registry/generic/registry/store.go`` Update; ``OptimisticLockErrorMsg``)."""

from __future__ import annotations

from typing import Any

from runner.apiserver.local import LocalApiServer
from tests.apiserver.helpers import CONFIGMAPS, DEPLOYMENTS, PODS, configmap, deployment, pod

MODIFIED = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


def _put(server: LocalApiServer, path: str, body: dict[str, Any]) -> Any:
    return server.call("PUT", path, body)


def test_update_with_the_current_resource_version_succeeds(server: LocalApiServer) -> None:
    created = server.call("POST", CONFIGMAPS, configmap("a", {"k": "1"})).body
    created["data"] = {"k": "2"}
    answer = _put(server, f"{CONFIGMAPS}/a", created)
    assert answer.status == 200
    assert answer.body["data"] == {"k": "2"}
    assert int(answer.body["metadata"]["resourceVersion"]) > int(
        created["metadata"]["resourceVersion"]
    )
    assert answer.body["metadata"]["uid"] == created["metadata"]["uid"]


def test_update_with_a_stale_resource_version_is_409_conflict(server: LocalApiServer) -> None:
    created = server.call("POST", CONFIGMAPS, configmap("a", {"k": "1"})).body
    first = dict(created, data={"k": "2"})
    assert _put(server, f"{CONFIGMAPS}/a", first).status == 200
    stale = dict(created, data={"k": "3"})
    answer = _put(server, f"{CONFIGMAPS}/a", stale)
    assert answer.status == 409
    assert answer.body["reason"] == "Conflict"
    assert answer.body["message"] == f'Operation cannot be fulfilled on configmaps "a": {MODIFIED}'
    assert answer.body["details"] == {"name": "a", "kind": "configmaps"}
    assert server.call("GET", f"{CONFIGMAPS}/a").body["data"] == {"k": "2"}


def test_conflict_names_the_group_resource(server: LocalApiServer) -> None:
    created = server.call("POST", DEPLOYMENTS, deployment()).body
    server.call("PUT", f"{DEPLOYMENTS}/web", dict(created, spec=deployment(replicas=2)["spec"]))
    answer = server.call("PUT", f"{DEPLOYMENTS}/web", created)
    assert answer.status == 409
    assert answer.body["message"] == (
        f'Operation cannot be fulfilled on deployments.apps "web": {MODIFIED}'
    )


def test_update_without_resource_version_is_unconditional_for_builtin_kinds(
    server: LocalApiServer,
) -> None:
    server.call("POST", CONFIGMAPS, configmap("a", {"k": "1"}))
    answer = _put(server, f"{CONFIGMAPS}/a", configmap("a", {"k": "9"}))
    assert answer.status == 200
    assert answer.body["data"] == {"k": "9"}


def test_update_of_a_missing_object_is_404(server: LocalApiServer) -> None:
    answer = _put(server, f"{CONFIGMAPS}/nope", configmap("nope"))
    assert answer.status == 404
    assert answer.body["message"] == 'configmaps "nope" not found'


def test_update_creates_kinds_that_allow_create_on_update(server: LocalApiServer) -> None:
    endpoints = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "e"}}
    answer = _put(server, "/api/v1/namespaces/default/endpoints/e", endpoints)
    assert answer.status == 201


def test_update_keeps_uid_and_creation_timestamp(server: LocalApiServer) -> None:
    created = server.call("POST", CONFIGMAPS, configmap("a")).body
    body = configmap("a", {"k": "v"})
    body["metadata"]["uid"] = "forged"
    body["metadata"]["creationTimestamp"] = "2001-01-01T00:00:00Z"
    updated = _put(server, f"{CONFIGMAPS}/a", body).body
    assert updated["metadata"]["uid"] == created["metadata"]["uid"]
    assert updated["metadata"]["creationTimestamp"] == created["metadata"]["creationTimestamp"]


def test_name_in_body_must_match_the_url(server: LocalApiServer) -> None:
    server.call("POST", CONFIGMAPS, configmap("a"))
    answer = _put(server, f"{CONFIGMAPS}/a", configmap("b"))
    assert answer.status == 400
    assert answer.body["message"] == (
        "the name of the object (b) does not match the name on the URL (a)"
    )


def test_generation_moves_on_spec_changes_only(server: LocalApiServer) -> None:
    created = server.call("POST", DEPLOYMENTS, deployment(replicas=1)).body
    assert created["metadata"]["generation"] == 1
    relabelled = dict(created, metadata=dict(created["metadata"], labels={"x": "y"}))
    after_labels = _put(server, f"{DEPLOYMENTS}/web", relabelled).body
    assert after_labels["metadata"]["generation"] == 1
    scaled = dict(after_labels, spec=dict(after_labels["spec"], replicas=3))
    assert _put(server, f"{DEPLOYMENTS}/web", scaled).body["metadata"]["generation"] == 2


def test_status_is_ignored_by_the_main_resource_and_written_by_status(
    server: LocalApiServer,
) -> None:
    created = server.call("POST", DEPLOYMENTS, deployment()).body
    with_status = dict(created, status={"replicas": 5})
    main = _put(server, f"{DEPLOYMENTS}/web", with_status).body
    assert main.get("status", {}).get("replicas") is None
    status = _put(server, f"{DEPLOYMENTS}/web/status", dict(main, status={"replicas": 5})).body
    assert status["status"]["replicas"] == 5
    assert status["metadata"]["generation"] == 1


def test_status_update_ignores_spec_changes(server: LocalApiServer) -> None:
    created = server.call("POST", PODS, pod("p1")).body
    body = dict(created, status={"phase": "Running"})
    body["spec"] = dict(created["spec"], activeDeadlineSeconds=5)
    answer = _put(server, f"{PODS}/p1/status", body).body
    assert answer["status"]["phase"] == "Running"
    assert "activeDeadlineSeconds" not in answer["spec"]


def test_an_unchanged_update_does_not_write(server: LocalApiServer) -> None:
    created = server.call("POST", CONFIGMAPS, configmap("a", {"k": "1"})).body
    answer = _put(server, f"{CONFIGMAPS}/a", created).body
    assert answer["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
