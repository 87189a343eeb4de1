"""The kubelet's ``/exec/<namespace>/<pod>/<container>`` over WebSocket (the process runtime):
runs ``command`` as a local process in the container's context and streams it with the remote
command protocol (:mod:`models.k8s.remotecommand`, ``v5.channel.k8s.io`` or
``v4.channel.k8s.io``).

Before the upgrade, as the kubelet answers: no stream asked for (``input``, ``output``,
``error``) or no ``command`` is 400; a pod not on the node 404 ``pod does not exist``; a
container with no running process 500 ``container not found ("<name>")``. Then the command runs
in the container's working directory (its sandbox folder without one) with the kubelet's
environment plus the container's literal ``env`` values, as its own process group; stdin is
the client's channel 0 (closed by v5's close signal, or when the client leaves) or
``/dev/null``; stdout and stderr go out on channels 1 and 2 as they come (discarded when not
asked for). When it has exited and both outputs are drained, the error channel carries the
Status (Success, or NonZeroExitCode with the exit code; a signal N reads as 128 + N) and the
connection closes. A command that cannot start gets an InternalError Status. A client that
leaves before the end has the process group killed. A ``tty`` request runs the command on a
pseudo-terminal (stdout and stderr merged on channel 1, the resize channel's
``{"Width": W, "Height": H}`` sets its size).

Frames that break the protocol (text, an unknown channel, a bad close signal, an empty
message) are ignored; the WebSocket library answers malformed framing by closing.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import struct
import termios
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs

from models.k8s.codec import encode_json
from models.k8s.meta_ops import Status
from models.k8s.remotecommand import (
    CLOSE,
    ERROR,
    KUBELET_STREAM_PARAMS,
    PROTOCOLS,
    RESIZE,
    STDERR,
    STDIN,
    STDOUT,
    V5,
    choose_protocol,
    exited,
    frame,
    internal_error,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

CHUNK_BYTES: Final = 32 * 1024
"""The most output one message carries (client-go's read buffer)."""
CLOSE_WAIT_SECONDS: Final = 2.0


@dataclass(frozen=True)
class ExecTarget:
    """Where a command runs: the container's working directory and environment."""

    cwd: Path
    env: dict[str, str]


@dataclass(frozen=True)
class Refusal:
    """A pre-upgrade answer: the HTTP code and its text."""

    code: int
    text: str


Lookup = Callable[[str, str, str], ExecTarget | Refusal]
"""``(namespace, pod, container)``: where to run, or why not."""


@dataclass(frozen=True)
class ExecRequest:
    command: tuple[str, ...]
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool


def parse_request(query: bytes) -> ExecRequest | Refusal:
    """The kubelet's query parameters (``command`` repeated, ``input``/``output``/``error``/
    ``tty`` = 1)."""
    params = parse_qs(query.decode("latin-1"), keep_blank_values=True)
    flags = [params.get(name, [""])[-1] in ("1", "true") for name in KUBELET_STREAM_PARAMS]
    stdin, stdout, stderr, tty = flags
    if tty and stderr:
        stderr = False  # as the kubelet: a terminal merges stderr into stdout
    if not (stdin or stdout or stderr):
        return Refusal(400, "you must specify at least 1 of stdin, stdout, stderr")
    command = tuple(params.get("command", []))
    if not command or not command[0]:
        return Refusal(400, "you must specify at least one command for the container")
    return ExecRequest(command=command, stdin=stdin, stdout=stdout, stderr=stderr, tty=tty)


async def reject(send: Send, refusal: Refusal) -> None:
    """Answer the upgrade request with a plain HTTP error."""
    body = (refusal.text + "\n").encode()
    await send(
        {
            "type": "websocket.http.response.start",
            "status": refusal.code,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    await send({"type": "websocket.http.response.body", "body": body})


def exec_path(path: str) -> tuple[str, str, str] | None:
    """``/exec/<namespace>/<pod>/<container>``'s parts."""
    parts = [p for p in path.split("/") if p]
    if len(parts) == 4 and parts[0] == "exec":
        return parts[1], parts[2], parts[3]
    return None


async def serve_exec(scope: Scope, receive: Receive, send: Send, lookup: Lookup) -> None:
    """One WebSocket exec session, from the handshake to the close."""
    connect = await receive()
    if connect.get("type") != "websocket.connect":
        return
    where = exec_path(str(scope.get("path", "")))
    if where is None:
        await reject(send, Refusal(404, "404 page not found"))
        return
    request = parse_request(scope.get("query_string", b""))
    if isinstance(request, Refusal):
        await reject(send, request)
        return
    protocol = choose_protocol(list(scope.get("subprotocols") or []))
    if protocol is None:
        offered = list(scope.get("subprotocols") or [])
        await reject(
            send,
            Refusal(
                400,
                f"requested protocol(s) are not supported: {offered}; supports {list(PROTOCOLS)}",
            ),
        )
        return
    target = lookup(*where)
    if isinstance(target, Refusal):
        await reject(send, target)
        return
    await send({"type": "websocket.accept", "subprotocol": protocol})
    session = _Session(send, request, protocol)
    await session.run(receive, target)


class _Session:
    def __init__(self, send: Send, request: ExecRequest, protocol: str) -> None:
        self.send_message = send
        self.request = request
        self.protocol = protocol
        self.lock = asyncio.Lock()
        self.gone = False

    async def send(self, channel: int, data: bytes = b"") -> None:
        if self.gone:
            return
        async with self.lock:
            try:
                await self.send_message({"type": "websocket.send", "bytes": frame(channel, data)})
            except (OSError, RuntimeError):
                self.gone = True

    async def finish(self, status: Status) -> None:
        await self.send(ERROR, encode_json(status))
        if not self.gone:
            with contextlib.suppress(OSError, RuntimeError):
                await self.send_message({"type": "websocket.close", "code": 1000})

    async def run(self, receive: Receive, target: ExecTarget) -> None:
        request = self.request
        # The first message tells the client the streams are there (kube sends it empty, on
        # the lowest channel it writes).
        await self.send(STDOUT if request.stdout else STDERR if request.stderr else ERROR)
        master: int | None = None
        try:
            if request.tty:
                master, slave = os.openpty()
                process = await asyncio.create_subprocess_exec(
                    *request.command,
                    stdin=slave,
                    stdout=slave,
                    stderr=slave,
                    cwd=target.cwd,
                    env=target.env,
                    start_new_session=True,
                )
                os.close(slave)
            else:
                pipe, null = asyncio.subprocess.PIPE, asyncio.subprocess.DEVNULL
                process = await asyncio.create_subprocess_exec(
                    *request.command,
                    stdin=pipe if request.stdin else null,
                    stdout=pipe if request.stdout else null,
                    stderr=pipe if request.stderr else null,
                    cwd=target.cwd,
                    env=target.env,
                    start_new_session=True,
                )
        except OSError as error:
            if master is not None:
                os.close(master)
            reason = error.strerror or str(error)
            await self.finish(
                internal_error(
                    f'error executing command in container: exec: "{request.command[0]}": {reason}'
                )
            )
            return
        outputs: list[asyncio.Task[None]] = []
        if master is not None:
            outputs.append(asyncio.ensure_future(self._pump_terminal(master)))
        else:
            if process.stdout is not None:
                outputs.append(asyncio.ensure_future(self._pump(process.stdout, STDOUT)))
            if process.stderr is not None:
                outputs.append(asyncio.ensure_future(self._pump(process.stderr, STDERR)))
        inputs = asyncio.ensure_future(self._read_client(receive, process, master))
        ended = asyncio.ensure_future(self._ended(process, outputs))
        done, _ = await asyncio.wait({inputs, ended}, return_when=asyncio.FIRST_COMPLETED)
        if ended not in done:
            # The client left first: nothing is listening, end the command.
            _kill(process)
            await process.wait()
            if outputs:
                # The terminal's reader ends once its other end is gone; only then close it.
                await asyncio.wait(outputs, timeout=CLOSE_WAIT_SECONDS)
            for task in outputs:
                task.cancel()
            if master is not None:
                os.close(master)
            return
        inputs.cancel()
        code = ended.result()
        if master is not None:
            os.close(master)
        await self.finish(exited(code))

    async def _ended(self, process: asyncio.subprocess.Process, outputs: list[Any]) -> int:
        code = await process.wait()
        if outputs:
            await asyncio.wait(outputs)
        return 128 - code if code < 0 else code

    async def _pump(self, stream: asyncio.StreamReader, channel: int) -> None:
        while True:
            data = await stream.read(CHUNK_BYTES)
            if not data:
                return
            await self.send(channel, data)

    async def _pump_terminal(self, master: int) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                data = await loop.run_in_executor(None, os.read, master, CHUNK_BYTES)
            except OSError:  # EIO: every holder of the terminal's other end is gone
                return
            if not data:
                return
            await self.send(STDOUT, data)

    async def _read_client(
        self, receive: Receive, process: asyncio.subprocess.Process, master: int | None
    ) -> None:
        """Until the client leaves: its stdin (and close signal, and resizes) to the command."""
        stdin = process.stdin
        while True:
            message = await receive()
            if message.get("type") == "websocket.disconnect":
                self.gone = True
                return
            data = message.get("bytes")
            if not isinstance(data, bytes | bytearray) or not data:
                continue
            channel, payload = data[0], bytes(data[1:])
            if channel == STDIN and self.request.stdin:
                await self._write_stdin(stdin, master, payload)
            elif channel == RESIZE and master is not None:
                _resize(master, payload)
            elif channel == CLOSE and self.protocol == V5 and payload[:1] == bytes((STDIN,)):
                if stdin is not None and not stdin.is_closing():
                    stdin.close()
                elif master is not None:
                    with contextlib.suppress(OSError):
                        os.write(master, b"\x04")  # end of input on a terminal

    async def _write_stdin(
        self, stdin: asyncio.StreamWriter | None, master: int | None, payload: bytes
    ) -> None:
        if master is not None:
            with contextlib.suppress(OSError):
                os.write(master, payload)
            return
        if stdin is None or stdin.is_closing():
            return
        try:
            stdin.write(payload)
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            stdin.close()


def _resize(master: int, payload: bytes) -> None:
    try:
        size = json.loads(payload)
        width, height = int(size.get("Width", 0)), int(size.get("Height", 0))
        if 0 < width < 65536 and 0 < height < 65536:
            fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
    except (ValueError, TypeError, AttributeError, OSError):
        pass


def _kill(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
