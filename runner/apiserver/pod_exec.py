"""``.../pods/<name>/exec`` (what ``kubectl exec`` asks): the connect subresource, relayed to the
kubelet's ``/exec/<namespace>/<pod>/<container>`` over WebSocket.

Before anything is streamed, in kube-apiserver's order: the request is authorized
(:func:`impl.apiserver.connect.authorize_connect`: its own verb, then ``create`` on
``pods/exec``); the server reads the pod as itself (404 ``pods "x" not found``); the container
must be named unless the pod has one (400 ``a container name must be specified for pod P,
choose one of: [a b]``) and must be one of the pod's (400 ``container c is not valid for pod
P``); the pod must be bound (400 ``pod P does not have a host assigned``); its node is read for
its InternalIP and ``kubeletEndpoint`` port. A refusal answers the upgrade request with that
Status (kubectl then tries SPDY, gets the same answer and prints it).

A WebSocket request offering ``v5.channel.k8s.io`` (or ``v4.channel.k8s.io``) is then accepted
with that subprotocol and the server opens the same subprotocol to the kubelet (the
``websockets`` client), passing ``command`` and the streams as the kubelet's ``input``,
``output``, ``error`` and ``tty``; messages go both ways unchanged (the kubelet writes the
final Status on the error channel and closes; kubectl exits with the command's code). When the
kubelet cannot be reached or refuses, the client gets kube's InternalError on the error channel
(``error dialing backend: ...`` or ``unable to upgrade connection: <kubelet's answer>``); a node
whose status names no kubelet port reads as one that cannot be dialled. A plain
GET or POST is answered ``Upgrade request required`` (400), and SPDY's POST with a 400 saying
that this server streams over WebSocket only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Final, cast
from urllib.parse import quote, urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, InvalidStatus, WebSocketException
from websockets.typing import Subprotocol

from models.apiserver.messages import ApiRequest, ApiResponse
from models.apiserver.status import failure
from models.k8s.codec import encode_json
from models.k8s.meta_ops import Status
from models.k8s.remotecommand import (
    ERROR,
    KUBELET_STREAM_PARAMS,
    PROTOCOLS,
    frame,
    internal_error,
)
from runner.apiserver.pod_logs import kubelet_endpoint, server_read

EXEC_PATH: Final = re.compile(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/exec$")
DIAL_SECONDS: Final = 10.0
MAX_MESSAGE_BYTES: Final = 16 * 1024 * 1024

Ask = Callable[[ApiRequest], Awaitable[ApiResponse]]
Authorize = Callable[[ApiRequest], ApiRequest | Status]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class Located:
    """Where the session goes: the kubelet's ``/exec`` URL (None: the node serves no kubelet
    API) and the node's name."""

    url: str | None
    node: str


def is_exec_path(path: str) -> bool:
    return EXEC_PATH.match(path) is not None


def _answer(status: Status) -> ApiResponse:
    return ApiResponse(status=status.code or 500, body=encode_json(status))


def _flag(request: ApiRequest, name: str) -> bool:
    """A ``PodExecOptions`` boolean from the query, as kube converts it (``false``, ``0`` or
    nothing: false)."""
    value = request.param(name)
    return value is not None and value.lower() not in ("", "false", "0")


def _container_names(spec: dict[str, Any]) -> list[str]:
    """Init containers, containers, ephemeral containers (``VisitContainers``' order)."""
    names: list[str] = []
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for item in spec.get(field) or []:
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                names.append(item["name"])
    return names


async def locate(request: ApiRequest, ask: Ask, authorize: Authorize) -> Located | ApiResponse:
    """Authorize and check the request, then find the kubelet; or the refusal."""
    match = EXEC_PATH.match(request.path)
    assert match is not None
    namespace, name = match.group(1), match.group(2)
    judged = authorize(request)
    if isinstance(judged, Status):
        return _answer(judged)
    got = await ask(server_read(request, f"/api/v1/namespaces/{namespace}/pods/{name}"))
    if got.status != 200:
        return got
    pod = json.loads(got.body)
    spec = pod.get("spec") or {}
    container = request.param("container") or ""
    names = _container_names(spec)
    if not container:
        containers = spec.get("containers") or []
        if len(containers) == 1:
            container = str(containers[0].get("name") or "")
        elif not containers:
            message = f"a container name must be specified for pod {name}"
            return _answer(failure(400, "BadRequest", message))
        else:
            choices = "[" + " ".join(names) + "]"
            message = f"a container name must be specified for pod {name}, choose one of: {choices}"
            return _answer(failure(400, "BadRequest", message))
    elif container not in names:
        message = f"container {container} is not valid for pod {name}"
        return _answer(failure(400, "BadRequest", message))
    node_name = str(spec.get("nodeName") or "")
    if not node_name:
        return _answer(failure(400, "BadRequest", f"pod {name} does not have a host assigned"))
    node = await ask(server_read(request, f"/api/v1/nodes/{node_name}"))
    if node.status != 200:
        return node
    endpoint = kubelet_endpoint(json.loads(node.body))
    if endpoint is None:
        return Located(url=None, node=node_name)
    params = [
        (kubelet, "1")
        for api, kubelet in zip(
            ("stdin", "stdout", "stderr", "tty"), KUBELET_STREAM_PARAMS, strict=True
        )
        if _flag(request, api)
    ]
    params += [("command", value) for key, value in request.query if key == "command"]
    params.sort(key=lambda item: item[0])  # url.Values.Encode: keys sorted, values in order
    path = "/".join(quote(part, safe="") for part in ("exec", namespace, name, container))
    url = f"ws://{endpoint[0]}:{endpoint[1]}/{path}?{urlencode(params)}"
    return Located(url=url, node=node_name)


def refusal_for_plain_request(upgrade: str) -> ApiResponse:
    """The answer to a request that passed every check but did not ask for WebSocket."""
    if "spdy" in upgrade.lower():
        message = (
            "kubeoracle's API server streams pods/exec over WebSocket "
            f"({', '.join(PROTOCOLS)}), not {upgrade}"
        )
        return _answer(failure(400, "BadRequest", message))
    return _answer(failure(400, "BadRequest", "Upgrade request required"))


async def _dial(url: str, protocol: str) -> ClientConnection | str:
    """The kubelet's WebSocket, or kube's wording of why not."""
    try:
        return await connect(
            url,
            subprotocols=[cast(Subprotocol, protocol)],
            compression=None,
            open_timeout=DIAL_SECONDS,
            max_size=MAX_MESSAGE_BYTES,
        )
    except InvalidStatus as error:
        text = bytes(error.response.body or b"").decode(errors="replace").strip()
        return f"unable to upgrade connection: {text or error.response.reason_phrase}"
    except (OSError, TimeoutError, InvalidHandshake) as error:
        return f"error dialing backend: {error}"


async def relay(located: Located, protocol: str, receive: Receive, send: Send) -> None:
    """An accepted client WebSocket to the kubelet and back, until either side ends."""
    if located.url is None:
        kubelet: ClientConnection | str = (
            f"error dialing backend: node {located.node} has no kubelet endpoint "
            "(its status names no daemonEndpoints.kubeletEndpoint port)"
        )
    else:
        kubelet = await _dial(located.url, protocol)
    if isinstance(kubelet, str):
        with contextlib.suppress(OSError, RuntimeError):
            await send(
                {
                    "type": "websocket.send",
                    "bytes": frame(ERROR, encode_json(internal_error(kubelet))),
                }
            )
            await send({"type": "websocket.close", "code": 1000})
        return
    upstream = asyncio.ensure_future(_client_to_kubelet(receive, kubelet))
    downstream = asyncio.ensure_future(_kubelet_to_client(kubelet, send))
    try:
        await asyncio.wait({upstream, downstream}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (upstream, downstream):
            task.cancel()
        await kubelet.close()


async def _client_to_kubelet(receive: Receive, kubelet: ClientConnection) -> None:
    with contextlib.suppress(WebSocketException, OSError):
        while True:
            message = await receive()
            if message.get("type") != "websocket.receive":
                return
            data = message.get("bytes")
            if data is None:
                data = str(message.get("text") or "").encode()
            if data:
                await kubelet.send(bytes(data))


async def _kubelet_to_client(kubelet: ClientConnection, send: Send) -> None:
    with contextlib.suppress(WebSocketException, OSError, RuntimeError):
        async for message in kubelet:
            data = message.encode() if isinstance(message, str) else bytes(message)
            await send({"type": "websocket.send", "bytes": data})
    with contextlib.suppress(OSError, RuntimeError):
        await send({"type": "websocket.close", "code": 1000})
