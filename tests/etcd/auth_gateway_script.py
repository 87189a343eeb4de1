"""One script of etcd's auth over the JSON gateway (``/v3/auth/*`` and KV requests carrying the
token in the ``Authorization`` header), and of ``/v3/election/observe``, run against any
endpoint; statuses and bodies are recorded with the IDs and tokens each server picks masked."""

from __future__ import annotations

import base64
import http.client
import json
import re
import threading
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

TIMEOUT = 10.0
_IDS = re.compile(r'"(cluster_id|member_id|raft_term)":"\d+"')
_TOKEN = re.compile(r'"token":"[A-Za-z]+\.\d+"')


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class Gateway:
    """Posts to one endpoint and records ``path status body`` lines."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.lines: list[str] = []

    def post(self, path: str, body: object, token: str | None = None, note: str = "") -> Any:
        headers = {} if token is None else {"Authorization": token}
        request = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode(), headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
                status, text = answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode()
        masked = _TOKEN.sub('"token":"<token>"', _IDS.sub(r'"\1":"<id>"', text))
        self.lines.append(f"{path}{note} {status} {masked}")
        try:
            return json.loads(text)
        except ValueError:
            return None


def _token(answer: Any) -> str:
    return str(answer.get("token", "")) if isinstance(answer, dict) else ""


def run_auth_gateway_script(url: str) -> list[str]:
    """Users, roles and permissions through ``/v3/auth/*``, tokens in ``Authorization``."""
    g = Gateway(url)
    g.post("/v3/auth/enable", {})
    g.post("/v3/auth/user/add", {"name": "root", "password": "rootpw"})
    g.post("/v3/auth/user/add", {"name": "u", "password": "upw"})
    g.post("/v3/auth/user/add", {"name": ""})
    g.post("/v3/auth/user/add", {"name": 5})
    g.post("/v3/auth/role/add", {"name": "root"})
    g.post("/v3/auth/user/grant", {"user": "root", "role": "root"})
    g.post("/v3/auth/role/add", {"name": "r"})
    g.post("/v3/auth/role/add", {})
    perm = {"permType": "READWRITE", "key": b64("k"), "range_end": b64("l")}
    g.post("/v3/auth/role/grant", {"name": "r", "perm": perm})
    g.post("/v3/auth/role/grant", {"name": "r", "perm": {"key": b64("e")}})
    g.post("/v3/auth/role/grant", {"name": "r", "perm": {"permType": "NOPE"}})
    g.post("/v3/auth/role/get", {"role": "r"})
    g.post("/v3/auth/role/list", {})
    g.post("/v3/auth/user/grant", {"user": "u", "role": "r"})
    g.post("/v3/auth/user/get", {"name": "u"})
    g.post("/v3/auth/user/list", {})
    g.post("/v3/auth/authenticate", {"name": "u", "password": "upw"})
    g.post("/v3/auth/enable", {})
    g.post("/v3/auth/authenticate", {"name": "u", "password": "bad"})
    g.post("/v3/auth/authenticate", {"name": "nobody", "password": "x"})
    user = _token(g.post("/v3/auth/authenticate", {"name": "u", "password": "upw"}))
    root = _token(g.post("/v3/auth/authenticate", {"name": "root", "password": "rootpw"}))
    g.post("/v3/kv/put", {"key": b64("k1"), "value": b64("v")}, user)
    g.post("/v3/kv/put", {"key": b64("z"), "value": b64("v")}, user)
    g.post("/v3/kv/put", {"key": b64("k1"), "value": b64("v")})
    g.post("/v3/election/observe", {"name": b64("k-election")}, note=" (no token)")
    g.post("/v3/election/campaign", {"name": b64("k-election"), "value": b64("x")})
    g.post("/v3/lock/lock", {"name": b64("k-lock")})
    g.post("/v3/lock/lock", {"name": b64("z-lock")}, user, note=" (no permission)")
    g.post("/v3/kv/put", {"key": b64("k1"), "value": b64("v")}, "abc.1")
    g.post("/v3/kv/put", {"key": b64("k1"), "value": b64("v")}, "garbage")
    g.post("/v3/kv/range", {"key": b64("k"), "range_end": b64("l")}, user)
    g.post("/v3/kv/range", {"key": b64("e")}, user)
    g.post("/v3/kv/range", {"key": b64("k"), "range_end": b64("k")}, user)
    g.post("/v3/kv/deleterange", {"key": b64("k"), "range_end": b64("m")}, user)
    g.post("/v3/lease/grant", {"TTL": "60", "ID": "7"}, "abc.1")
    g.post("/v3/lease/timetolive", {"ID": "7"}, "abc.1")
    g.post("/v3/auth/user/list", {}, user)
    g.post("/v3/auth/user/get", {"name": "u"}, user)
    g.post("/v3/auth/role/get", {"role": "r"}, user)
    g.post("/v3/auth/user/list", {}, root)
    g.post("/v3/auth/role/revoke", {"role": "r", "key": b64("e")}, root)
    g.post("/v3/auth/role/revoke", {"role": "r", "key": b64("e")}, root)
    g.post("/v3/auth/user/revoke", {"name": "u", "role": "r"}, root)
    g.post("/v3/kv/range", {"key": b64("k1")}, user, note=" (role revoked)")
    g.post("/v3/auth/user/changepw", {"name": "u", "password": "new"}, root)
    g.post("/v3/kv/range", {"key": b64("k1")}, user, note=" (password changed)")
    g.post("/v3/auth/user/delete", {"name": "root"}, root)
    g.post("/v3/auth/role/delete", {"role": "r"}, root)
    g.post("/v3/auth/user/delete", {"name": "u"}, root)
    g.post("/v3/auth/disable", {}, root)
    g.post("/v3/kv/range", {"key": b64("k1")})
    g.post("/v3/kv/range", {"key": b64("k1")}, root, note=" (auth disabled)")
    g.post("/v3/auth/authenticate", {"name": "root", "password": "rootpw"})
    return g.lines


def _read_observed(url: str, name: str, seen: list[str], wanted: int) -> None:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=TIMEOUT)
    try:
        connection.request("POST", "/v3/election/observe", json.dumps({"name": b64(name)}))
        answer = connection.getresponse()
        seen.append(f"observe status {answer.status}")
        while len(seen) <= wanted:
            line = answer.readline()
            if not line:
                break
            seen.append(_IDS.sub(r'"\1":"<id>"', line.decode().strip()))
    except OSError as error:
        seen.append(f"observe ended: {type(error).__name__}")
    finally:
        connection.close()


def _wait_until(seen: list[str], count: int) -> None:
    deadline = time.monotonic() + TIMEOUT
    while len(seen) < count and time.monotonic() < deadline:
        time.sleep(0.02)


def run_observe_script(url: str) -> list[str]:
    """``/v3/election/observe``: an observer sees the leader, its new value, and the next
    leader after a resignation (each step waits for the previous one to be seen)."""
    g = Gateway(url)
    g.post("/v3/lease/grant", {"TTL": "60", "ID": "257"})
    g.post("/v3/lease/grant", {"TTL": "60", "ID": "258"})
    first = g.post("/v3/election/campaign", {"name": b64("O"), "lease": "257", "value": b64("a")})
    leader = first.get("leader", {}) if isinstance(first, dict) else {}
    seen: list[str] = []
    observer = threading.Thread(target=_read_observed, args=(url, "O", seen, 3))
    observer.start()
    _wait_until(seen, 2)
    g.post("/v3/election/proclaim", {"leader": leader, "value": b64("b")})
    _wait_until(seen, 3)
    candidate = threading.Thread(
        target=g.post,
        args=("/v3/election/campaign", {"name": b64("O"), "lease": "258", "value": b64("c")}),
    )
    candidate.start()
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        found = g.post("/v3/kv/range", {"key": b64("O/102")}, note=" (waiting)")
        g.lines.pop()
        if isinstance(found, dict) and found.get("count") == "1":
            break
        time.sleep(0.02)
    g.post("/v3/election/resign", {"leader": leader})
    candidate.join(TIMEOUT)
    observer.join(TIMEOUT)
    g.post("/v3/election/observe", {"name": 5})
    return g.lines + [f"observed: {line}" for line in seen]
