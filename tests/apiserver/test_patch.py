"""PATCH: JSON patch (RFC 6902), JSON merge patch (RFC 7386), strategic merge patch with the
built-in types' patch strategies, and server-side apply with managedFields and conflicts
(api-concepts "Server-Side Apply"; ``endpoints/handlers/patch.go``;
``util/managedfields/internal/conflict.go``)."""

from __future__ import annotations

from typing import Any

from runner.apiserver.local import Answer, LocalApiServer
from tests.apiserver.helpers import CONFIGMAPS, DEPLOYMENTS, PODS, configmap, deployment, pod

JSON_PATCH = "application/json-patch+json"
MERGE = "application/merge-patch+json"
SMP = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"


def _patch(server: LocalApiServer, path: str, body: Any, kind: str, **query: str) -> Answer:
    return server.call("PATCH", path, body, content_type=kind, query=query or None)


def _two_containers(server: LocalApiServer) -> None:
    body = pod("p1")
    body["spec"]["containers"].append({"name": "d", "image": "busybox:1"})
    server.call("POST", PODS, body)


def test_merge_patch_merges_maps_and_null_deletes(server: LocalApiServer) -> None:
    server.call("POST", CONFIGMAPS, configmap("a", {"x": "1", "y": "2"}, labels={"l": "1"}))
    answer = _patch(
        server,
        f"{CONFIGMAPS}/a",
        {"data": {"x": "9", "y": None}, "metadata": {"labels": {"m": "2"}}},
        MERGE,
    )
    assert answer.status == 200
    assert answer.body["data"] == {"x": "9"}
    assert answer.body["metadata"]["labels"] == {"l": "1", "m": "2"}


def test_merge_patch_replaces_lists_whole(server: LocalApiServer) -> None:
    _two_containers(server)
    patch = {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}
    answer = _patch(server, f"{PODS}/p1", patch, MERGE)
    # Replacing the container list drops container d: pod containers may not change that way.
    assert answer.status == 422


def test_strategic_merge_patch_merges_containers_by_name(server: LocalApiServer) -> None:
    _two_containers(server)
    patch = {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}
    answer = _patch(server, f"{PODS}/p1", patch, SMP)
    assert answer.status == 200
    images = {c["name"]: c["image"] for c in answer.body["spec"]["containers"]}
    assert images == {"c": "nginx:2", "d": "busybox:1"}


def test_strategic_merge_patch_on_a_deployment_template(server: LocalApiServer) -> None:
    server.call("POST", DEPLOYMENTS, deployment())
    # kubectl set image web c=nginx:2 sends exactly this body.
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "c"}],
                    "containers": [{"image": "nginx:2", "name": "c"}],
                }
            }
        }
    }
    answer = _patch(server, f"{DEPLOYMENTS}/web", patch, SMP, fieldManager="kubectl-set")
    assert answer.status == 200
    containers = answer.body["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("c", "nginx:2")]
    assert answer.body["metadata"]["generation"] == 2


def test_strategic_delete_directive_removes_a_list_element(server: LocalApiServer) -> None:
    server.call("POST", DEPLOYMENTS, deployment())
    add = {"spec": {"template": {"spec": {"containers": [{"name": "e", "image": "x:1"}]}}}}
    _patch(server, f"{DEPLOYMENTS}/web", add, SMP)
    remove = {"spec": {"template": {"spec": {"containers": [{"name": "e", "$patch": "delete"}]}}}}
    answer = _patch(server, f"{DEPLOYMENTS}/web", remove, SMP)
    names = [c["name"] for c in answer.body["spec"]["template"]["spec"]["containers"]]
    assert names == ["c"]


def test_json_patch_operations(server: LocalApiServer) -> None:
    server.call("POST", CONFIGMAPS, configmap("a", {"x": "1"}))
    ops = [
        {"op": "test", "path": "/data/x", "value": "1"},
        {"op": "add", "path": "/data/y", "value": "2"},
        {"op": "replace", "path": "/data/x", "value": "3"},
        {"op": "copy", "from": "/data/y", "path": "/data/z"},
        {"op": "remove", "path": "/data/y"},
    ]
    answer = _patch(server, f"{CONFIGMAPS}/a", ops, JSON_PATCH)
    assert answer.status == 200
    assert answer.body["data"] == {"x": "3", "z": "2"}


def test_a_failing_json_patch_is_422_and_changes_nothing(server: LocalApiServer) -> None:
    server.call("POST", CONFIGMAPS, configmap("a", {"x": "1"}))
    ops = [
        {"op": "add", "path": "/data/y", "value": "2"},
        {"op": "test", "path": "/data/x", "value": "0"},
    ]
    answer = _patch(server, f"{CONFIGMAPS}/a", ops, JSON_PATCH)
    assert answer.status == 422
    assert answer.body["reason"] == "Invalid"
    assert (
        answer.body["message"] == "the server rejected our request due to an error in our request"
    )
    assert server.call("GET", f"{CONFIGMAPS}/a").body["data"] == {"x": "1"}


def test_patch_with_a_stale_resource_version_conflicts(server: LocalApiServer) -> None:
    server.call("POST", CONFIGMAPS, configmap("a"))
    answer = _patch(server, f"{CONFIGMAPS}/a", {"metadata": {"resourceVersion": "1"}}, MERGE)
    assert answer.status == 409
    assert answer.body["reason"] == "Conflict"


def test_patch_of_a_missing_object_is_404(server: LocalApiServer) -> None:
    answer = _patch(server, f"{CONFIGMAPS}/nope", {"data": {}}, MERGE)
    assert answer.status == 404


def test_unknown_patch_type_is_415(server: LocalApiServer) -> None:
    server.call("POST", CONFIGMAPS, configmap("a"))
    answer = _patch(server, f"{CONFIGMAPS}/a", {"data": {}}, "text/plain")
    assert answer.status == 415
    assert answer.body["reason"] == "UnsupportedMediaType"


def test_force_on_a_non_apply_patch_is_invalid(server: LocalApiServer) -> None:
    server.call("POST", CONFIGMAPS, configmap("a"))
    answer = _patch(server, f"{CONFIGMAPS}/a", {"data": {}}, MERGE, force="true")
    assert answer.status == 422
    assert answer.body["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for '
        "non-apply patch"
    )


def test_label_patch_records_the_field_manager(server: LocalApiServer) -> None:
    server.call("POST", CONFIGMAPS, configmap("a"))
    patch = {"metadata": {"labels": {"a": "b"}}}
    answer = _patch(server, f"{CONFIGMAPS}/a", patch, MERGE, fieldManager="kubectl-label")
    entries = {e["manager"]: e for e in answer.body["metadata"]["managedFields"]}
    label = entries["kubectl-label"]
    assert label["operation"] == "Update"
    assert label["apiVersion"] == "v1"
    assert label["fieldsType"] == "FieldsV1"
    assert label["fieldsV1"] == {"f:metadata": {"f:labels": {".": {}, "f:a": {}}}}


# Server-side apply ---------------------------------------------------------------------------


def _apply(
    server: LocalApiServer, body: dict[str, Any], manager: str, force: bool = False
) -> Answer:
    query = {"fieldManager": manager}
    if force:
        query["force"] = "true"
    return _patch(server, f"{CONFIGMAPS}/a", body, APPLY, **query)


def test_apply_creates_a_missing_object_owned_by_the_applier(server: LocalApiServer) -> None:
    answer = _apply(server, configmap("a", {"k": "1"}), "kubectl")
    assert answer.status == 201
    [entry] = answer.body["metadata"]["managedFields"]
    assert entry["manager"] == "kubectl"
    assert entry["operation"] == "Apply"
    assert entry["fieldsV1"] == {"f:data": {".": {}, "f:k": {}}}


def test_apply_without_a_field_manager_is_invalid(server: LocalApiServer) -> None:
    answer = _patch(server, f"{CONFIGMAPS}/a", configmap("a"), APPLY)
    assert answer.status == 422
    assert answer.body["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for '
        "apply patch"
    )


def test_apply_conflicts_with_a_field_another_manager_changed(server: LocalApiServer) -> None:
    _apply(server, configmap("a", {"k": "1"}), "kubectl")
    edit = {"data": {"k": "2"}}
    assert _patch(server, f"{CONFIGMAPS}/a", edit, MERGE, fieldManager="editor").status == 200
    answer = _apply(server, configmap("a", {"k": "3"}), "kubectl")
    assert answer.status == 409
    assert answer.body["reason"] == "Conflict"
    assert answer.body["message"] == (
        'Apply failed with 1 conflict: conflict with "editor" using v1: .data.k'
    )
    assert answer.body["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "editor" using v1',
            "field": ".data.k",
        }
    ]
    assert server.call("GET", f"{CONFIGMAPS}/a").body["data"] == {"k": "2"}


def test_force_takes_the_field_over(server: LocalApiServer) -> None:
    _apply(server, configmap("a", {"k": "1"}), "kubectl")
    _patch(server, f"{CONFIGMAPS}/a", {"data": {"k": "2"}}, MERGE, fieldManager="editor")
    answer = _apply(server, configmap("a", {"k": "3"}), "kubectl", force=True)
    assert answer.status == 200
    assert answer.body["data"] == {"k": "3"}
    owners = {e["manager"]: e["fieldsV1"] for e in answer.body["metadata"]["managedFields"]}
    assert owners["kubectl"] == {"f:data": {".": {}, "f:k": {}}}
    assert "editor" not in owners  # it owned nothing else


def test_two_appliers_agreeing_on_a_value_share_it(server: LocalApiServer) -> None:
    _apply(server, configmap("a", {"k": "1"}), "one")
    answer = _apply(server, configmap("a", {"k": "1"}), "two")
    assert answer.status == 200
    assert {e["manager"] for e in answer.body["metadata"]["managedFields"]} == {"one", "two"}


def test_conflicts_between_appliers_name_no_api_version(server: LocalApiServer) -> None:
    _apply(server, configmap("a", {"k": "1", "j": "1"}), "one")
    answer = _apply(server, configmap("a", {"k": "2", "j": "2"}), "two")
    assert answer.status == 409
    assert answer.body["message"] == (
        'Apply failed with 2 conflicts: conflicts with "one":\n- .data.j\n- .data.k'
    )


def test_dropping_a_field_from_the_configuration_removes_it(server: LocalApiServer) -> None:
    _apply(server, configmap("a", {"k": "1", "j": "1"}), "kubectl")
    answer = _apply(server, configmap("a", {"k": "1"}), "kubectl")
    assert answer.body["data"] == {"k": "1"}


def test_an_update_never_conflicts_and_moves_ownership(server: LocalApiServer) -> None:
    _apply(server, configmap("a", {"k": "1"}), "kubectl")
    current = server.call("GET", f"{CONFIGMAPS}/a").body
    current["data"] = {"k": "5"}
    answer = server.call("PUT", f"{CONFIGMAPS}/a", current, query={"fieldManager": "editor"})
    assert answer.status == 200
    owners = {e["manager"]: e["fieldsV1"] for e in answer.body["metadata"]["managedFields"]}
    assert owners["editor"] == {"f:data": {"f:k": {}}}
