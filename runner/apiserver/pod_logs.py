"""``GET .../pods/<name>/log`` (what ``kubectl logs`` asks): the machine first judges the request
itself (authentication, and RBAC's ``get`` on ``pods/log``: a 401 or 403 is the answer); then
the server reads the pod and its node as itself, takes the node's InternalIP and
``kubeletEndpoint`` port, and relays the kubelet's
``/containerLogs/<namespace>/<pod>/<container>`` answer (``container`` defaults to the pod's only
container; ``tailLines`` is passed on). The kubelet is asked over plain HTTP, as kubeoracle's
kubelets serve it (``runner.kubelet.api``).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any, Final
from urllib.parse import quote, urlencode

import msgspec

from models.apiserver.messages import ApiRequest, ApiResponse

LOG_PATH: Final = re.compile(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/log$")
TEXT: Final = "text/plain"
Ask = Callable[[ApiRequest], Awaitable[ApiResponse]]


def is_log_request(request: ApiRequest) -> bool:
    return request.method.upper() == "GET" and LOG_PATH.match(request.path) is not None


def _status(code: int, reason: str, message: str) -> ApiResponse:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    return ApiResponse(status=code, body=json.dumps(body).encode())


def server_read(request: ApiRequest, path: str) -> ApiRequest:
    """A GET by the server itself (no credentials: neither authenticated nor authorized)."""
    return msgspec.structs.replace(
        request,
        method="GET",
        path=path,
        query=(),
        accept="application/json",
        body=b"",
        content_type="",
        credentials=None,
        user=None,
    )


def kubelet_endpoint(node: dict[str, Any]) -> tuple[str, int] | None:
    status = node.get("status") or {}
    addresses = [
        a.get("address") for a in status.get("addresses") or [] if a.get("type") == "InternalIP"
    ]
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    if not addresses or not isinstance(port, int) or port <= 0:
        return None
    return str(addresses[0]), port


def fetch_url(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return int(answer.status), bytes(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, bytes(error.read())
    except OSError as error:
        return 0, str(error).encode()


async def pod_log(
    request: ApiRequest, ask: Ask, fetch: Callable[[str], Awaitable[tuple[int, bytes]]]
) -> ApiResponse:
    """The answer to a pod log request."""
    match = LOG_PATH.match(request.path)
    assert match is not None
    namespace, name = match.group(1), match.group(2)
    judged = await ask(request)
    if judged.status in (401, 403):
        return judged
    got = await ask(server_read(request, f"/api/v1/namespaces/{namespace}/pods/{name}"))
    if got.status != 200:
        return got
    pod = json.loads(got.body)
    containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    container = request.param("container") or (containers[0] if len(containers) == 1 else "")
    if not container:
        return _status(
            400,
            "BadRequest",
            f"a container name must be specified for pod {name}, choose one of: {containers}",
        )
    node_name = (pod.get("spec") or {}).get("nodeName") or ""
    if not node_name:
        return _status(400, "BadRequest", f"pod {name} does not have a host assigned")
    node = await ask(server_read(request, f"/api/v1/nodes/{node_name}"))
    endpoint = kubelet_endpoint(json.loads(node.body)) if node.status == 200 else None
    if endpoint is None:
        return _status(500, "InternalError", f"node {node_name} has no kubelet endpoint")
    query = {"tailLines": request.param("tailLines")} if request.param("tailLines") else {}
    path = "/".join(quote(part, safe="") for part in ("containerLogs", namespace, name, container))
    url = f"http://{endpoint[0]}:{endpoint[1]}/{path}" + (f"?{urlencode(query)}" if query else "")
    code, body = await fetch(url)
    if code == 200:
        return ApiResponse(status=200, content_type=TEXT, body=body)
    if code == 0:
        return _status(500, "InternalError", f'Get "{url}": {body.decode(errors="replace")}')
    return _status(
        code if code in (400, 404) else 500,
        "BadRequest" if code == 400 else "NotFound" if code == 404 else "InternalError",
        body.decode(errors="replace").strip(),
    )
