"""Raw HTTP/1.1 exchanges for gateway tests: bytes out, the parsed answer (or None) back."""

import contextlib
import socket
import urllib.parse

import msgspec


class Answer(msgspec.Struct, frozen=True, kw_only=True):
    """An HTTP answer: status, lower-cased headers, and the body (chunks joined)."""

    status: int
    headers: dict[str, str]
    body: bytes


def address(base: str) -> tuple[str, int]:
    url = urllib.parse.urlsplit(base)
    assert url.hostname is not None
    assert url.port is not None
    return url.hostname, url.port


def _dechunk(data: bytes) -> bytes:
    body = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        body += data[:size]
        data = data[size + 2 :]
    return body


def exchange(base: str, request: bytes, timeout: float = 10.0) -> Answer | None:
    """Send ``request`` on a new connection and read one answer; None if the connection was
    dropped without one. Reads until the server closes or the answer is complete."""
    with socket.create_connection(address(base), timeout=timeout) as connection:
        with contextlib.suppress(OSError):
            connection.sendall(request)
        data = b""
        while True:
            try:
                chunk = connection.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            data += chunk
            answer = _parse(data)
            if answer is not None and _complete(answer, data):
                return answer
    return _parse(data)


def _parse(data: bytes) -> Answer | None:
    head, separator, rest = data.partition(b"\r\n\r\n")
    if not separator:
        return None
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    if 100 <= status < 200:  # an interim answer (100 Continue): the final one follows
        return _parse(rest)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        return Answer(status=status, headers=headers, body=_dechunk(rest))
    return Answer(status=status, headers=headers, body=rest)


def _complete(answer: Answer, data: bytes) -> bool:
    if "content-length" in answer.headers:
        return len(answer.body) >= int(answer.headers["content-length"])
    return data.endswith(b"0\r\n\r\n")


def post(path: str, body: bytes, extra_headers: bytes = b"") -> bytes:
    """A POST with a Content-Length."""
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n".encode()
        + extra_headers
        + b"\r\n"
        + body
    )
