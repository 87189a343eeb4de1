"""Helpers for tests that run controllers on the reference API server."""

from __future__ import annotations

from typing import Any

from impl.controllers import deployment, garbagecollector, replicaset
from impl.controllers.plan import ControllerDef
from models.controllers.config import ControllerConfig
from runner.controllers.local import LocalCluster

NAMESPACE = "default"
DEPLOYMENTS = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments"
REPLICASETS = f"/apis/apps/v1/namespaces/{NAMESPACE}/replicasets"
PODS = f"/api/v1/namespaces/{NAMESPACE}/pods"
MERGE = "application/merge-patch+json"


def cluster(mutant: str = "", seed: int = 0) -> LocalCluster:
    config = ControllerConfig(mutant=mutant)
    definitions: list[ControllerDef[Any]] = [
        replicaset.DEFINITION,
        deployment.DEFINITION,
        garbagecollector.DEFINITION,
    ]
    return LocalCluster(definitions, config, seed=seed)


def deployment_body(
    name: str = "web",
    replicas: int = 10,
    image: str = "nginx:1",
    strategy: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
            **spec,
        },
    }
    if strategy is not None:
        body["spec"]["strategy"] = strategy
    return body


def create(c: LocalCluster, path: str, body: dict[str, Any]) -> None:
    answer = c.api.call("POST", path, body)
    assert answer.status == 201, answer.body


def merge_patch(c: LocalCluster, path: str, body: dict[str, Any]) -> None:
    answer = c.api.call("PATCH", path, body, content_type=MERGE)
    assert answer.status == 200, answer.body


def set_image(c: LocalCluster, name: str, image: str) -> None:
    containers = [{"name": "main", "image": image}]
    merge_patch(
        c, f"{DEPLOYMENTS}/{name}", {"spec": {"template": {"spec": {"containers": containers}}}}
    )


def replica_sets(c: LocalCluster) -> dict[str, dict[str, Any]]:
    return {rs["metadata"]["name"]: rs for rs in c.items(REPLICASETS)}


def live_pods(c: LocalCluster) -> list[dict[str, Any]]:
    """Pods not being deleted."""
    return [p for p in c.items(PODS) if not p["metadata"].get("deletionTimestamp")]


def ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions") or ()
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def image_of(pod: dict[str, Any]) -> str:
    return str(pod["spec"]["containers"][0]["image"])


def annotation(obj: dict[str, Any], key: str) -> str | None:
    value = (obj["metadata"].get("annotations") or {}).get(key)
    return None if value is None else str(value)
