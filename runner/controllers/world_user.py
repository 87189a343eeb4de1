"""A user's desired-state changes in the controllers' world, as the requests kubectl sends:
``create deployment`` (with a strategy), ``scale`` and ``set image`` and ``rollout
pause|resume`` (merge patches), ``delete --cascade`` (a DELETE with a propagation policy)."""

from __future__ import annotations

from typing import Any, Final

import msgspec

from models.apiserver.messages import ApiRequest
from models.controllers.world import User

NAMESPACE: Final = "default"
COLLECTION: Final = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments"
MERGE: Final = "application/merge-patch+json"
CONTAINER: Final = "app"


def _int_or_percent(text: str) -> int | str:
    return text if text.endswith("%") else int(text)


def deployment_body(action: User) -> dict[str, Any]:
    labels = {"app": action.name}
    strategy: dict[str, Any] = {"type": "Recreate"}
    if not action.recreate:
        strategy = {
            "type": "RollingUpdate",
            "rollingUpdate": {
                "maxSurge": _int_or_percent(action.surge),
                "maxUnavailable": _int_or_percent(action.unavailable),
            },
        }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": action.name, "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "replicas": action.replicas,
            "selector": {"matchLabels": labels},
            "strategy": strategy,
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": CONTAINER, "image": action.image}]},
            },
        },
    }


def _patch(name: str, body: dict[str, Any]) -> ApiRequest:
    return ApiRequest(
        method="PATCH",
        path=f"{COLLECTION}/{name}",
        content_type=MERGE,
        body=msgspec.json.encode(body),
    )


def user_request(action: User) -> ApiRequest:
    match action.verb:
        case "create":
            body = msgspec.json.encode(deployment_body(action))
            return ApiRequest(
                method="POST", path=COLLECTION, content_type="application/json", body=body
            )
        case "scale":
            return _patch(action.name, {"spec": {"replicas": action.replicas}})
        case "image":
            containers = [{"name": CONTAINER, "image": action.image}]
            return _patch(action.name, {"spec": {"template": {"spec": {"containers": containers}}}})
        case "pause" | "resume":
            return _patch(action.name, {"spec": {"paused": action.verb == "pause"}})
        case "delete":
            options = {"propagationPolicy": action.policy}
            return ApiRequest(
                method="DELETE",
                path=f"{COLLECTION}/{action.name}",
                content_type="application/json",
                body=msgspec.json.encode(options),
            )
    raise AssertionError(action.verb)
