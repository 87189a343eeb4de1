"""Subresources: scale (autoscaling/v1 Scale), binding, eviction, status
(``registry/apps/deployment/storage``, ``registry/core/pod/storage`` BindingREST and
EvictionREST)."""

from __future__ import annotations

from runner.apiserver.local import LocalApiServer
from tests.apiserver.helpers import DEPLOYMENTS, PODS, deployment, pod

MERGE = "application/merge-patch+json"


def test_get_scale_of_a_deployment(server: LocalApiServer) -> None:
    created = server.call("POST", DEPLOYMENTS, deployment(replicas=2)).body
    answer = server.call("GET", f"{DEPLOYMENTS}/web/scale")
    assert answer.status == 200
    scale = answer.body
    assert scale["kind"] == "Scale"
    assert scale["apiVersion"] == "autoscaling/v1"
    assert scale["metadata"]["name"] == "web"
    assert scale["metadata"]["namespace"] == "default"
    assert scale["metadata"]["uid"] == created["metadata"]["uid"]
    assert scale["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert scale["spec"] == {"replicas": 2}
    assert scale["status"] == {"replicas": 0, "selector": "app=web"}


def test_kubectl_scale_patches_the_scale(server: LocalApiServer) -> None:
    server.call("POST", DEPLOYMENTS, deployment(replicas=1))
    answer = server.call(
        "PATCH", f"{DEPLOYMENTS}/web/scale", {"spec": {"replicas": 3}}, content_type=MERGE
    )
    assert answer.status == 200
    assert answer.body["kind"] == "Scale"
    assert answer.body["spec"] == {"replicas": 3}
    deployed = server.call("GET", f"{DEPLOYMENTS}/web").body
    assert deployed["spec"]["replicas"] == 3
    assert deployed["metadata"]["generation"] == 2
    assert answer.body["metadata"]["resourceVersion"] == deployed["metadata"]["resourceVersion"]


def test_scale_update_with_a_stale_resource_version_conflicts(server: LocalApiServer) -> None:
    server.call("POST", DEPLOYMENTS, deployment(replicas=1))
    scale = server.call("GET", f"{DEPLOYMENTS}/web/scale").body
    server.call("PATCH", f"{DEPLOYMENTS}/web/scale", {"spec": {"replicas": 2}}, content_type=MERGE)
    scale["spec"]["replicas"] = 5
    answer = server.call("PUT", f"{DEPLOYMENTS}/web/scale", scale)
    assert answer.status == 409
    assert answer.body["reason"] == "Conflict"


def test_negative_replicas_are_invalid(server: LocalApiServer) -> None:
    server.call("POST", DEPLOYMENTS, deployment())
    answer = server.call(
        "PATCH", f"{DEPLOYMENTS}/web/scale", {"spec": {"replicas": -1}}, content_type=MERGE
    )
    assert answer.status == 422
    assert answer.body["message"] == (
        'Scale.autoscaling "web" is invalid: spec.replicas: Invalid value: -1: '
        "must be greater than or equal to 0"
    )


def test_scale_of_a_missing_deployment_is_404(server: LocalApiServer) -> None:
    answer = server.call("GET", f"{DEPLOYMENTS}/nope/scale")
    assert answer.status == 404
    assert answer.body["message"] == 'deployments.apps "nope" not found'


def _binding(node: str, name: str = "p1") -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": name},
        "target": {"kind": "Node", "name": node},
    }


def test_binding_assigns_the_node_and_marks_the_pod_scheduled(server: LocalApiServer) -> None:
    server.call("POST", PODS, pod("p1"))
    answer = server.call("POST", f"{PODS}/p1/binding", _binding("n1"))
    assert answer.status == 201
    assert answer.body["kind"] == "Status"
    assert answer.body["status"] == "Success"
    bound = server.call("GET", f"{PODS}/p1").body
    assert bound["spec"]["nodeName"] == "n1"
    conditions = {c["type"]: c["status"] for c in bound["status"].get("conditions", [])}
    assert conditions["PodScheduled"] == "True"


def test_binding_an_assigned_pod_is_409(server: LocalApiServer) -> None:
    server.call("POST", PODS, pod("p1"))
    server.call("POST", f"{PODS}/p1/binding", _binding("n1"))
    answer = server.call("POST", f"{PODS}/p1/binding", _binding("n2"))
    assert answer.status == 409
    assert answer.body["message"] == (
        'Operation cannot be fulfilled on pods/binding "p1": pod p1 is already assigned to node '
        '"n1"'
    )


def test_binding_a_missing_pod_is_404(server: LocalApiServer) -> None:
    answer = server.call("POST", f"{PODS}/nope/binding", _binding("n1", "nope"))
    assert answer.status == 404
    assert answer.body["message"] == 'pods "nope" not found'


def test_eviction_deletes_the_pod(server: LocalApiServer) -> None:
    server.call("POST", PODS, pod("p1"))
    eviction = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": "p1", "namespace": "default"},
    }
    answer = server.call("POST", f"{PODS}/p1/eviction", eviction)
    assert answer.status == 201
    assert answer.body["status"] == "Success"
    assert server.call("GET", f"{PODS}/p1").status == 404


def test_a_deployments_status_write_keeps_spec_and_labels(server: LocalApiServer) -> None:
    server.call("POST", DEPLOYMENTS, deployment())
    patch = {
        "status": {"replicas": 1},
        "spec": {"replicas": 7},
        "metadata": {"labels": {"sneaky": "yes"}, "annotations": {"a": "b"}},
    }
    answer = server.call("PATCH", f"{DEPLOYMENTS}/web/status", patch, content_type=MERGE)
    assert answer.status == 200
    assert answer.body["status"]["replicas"] == 1
    assert answer.body["spec"]["replicas"] == 1
    assert "labels" not in answer.body["metadata"]
    # Annotations are not reset by the deployment status strategy.
    assert answer.body["metadata"]["annotations"] == {"a": "b"}


def test_a_pods_status_write_keeps_owner_references_but_not_labels(
    server: LocalApiServer,
) -> None:
    server.call("POST", PODS, pod("p1"))
    owner = {"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "u"}
    patch = {
        "status": {"phase": "Running"},
        "metadata": {"labels": {"l": "v"}, "ownerReferences": [owner]},
    }
    answer = server.call("PATCH", f"{PODS}/p1/status", patch, content_type=MERGE)
    assert answer.body["status"]["phase"] == "Running"
    assert answer.body["metadata"]["labels"] == {"l": "v"}
    assert "ownerReferences" not in answer.body["metadata"]


def test_unknown_subresource_is_404(server: LocalApiServer) -> None:
    server.call("POST", PODS, pod("p1"))
    assert server.call("GET", f"{PODS}/p1/nonsense").status == 404


def test_a_scale_write_is_owned_through_the_scale_subresource(server: LocalApiServer) -> None:
    server.call("POST", DEPLOYMENTS, deployment())
    server.call(
        "PATCH",
        f"{DEPLOYMENTS}/web/scale",
        {"spec": {"replicas": 3}},
        content_type=MERGE,
        query={"fieldManager": "scaler"},
    )
    entries = server.call("GET", f"{DEPLOYMENTS}/web").body["metadata"]["managedFields"]
    scaler = next(entry for entry in entries if entry["manager"] == "scaler")
    assert scaler["subresource"] == "scale"
    assert scaler["operation"] == "Update"
    assert scaler["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
