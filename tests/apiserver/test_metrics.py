"""``/metrics`` of ``serve apiserver`` (issue 21): kube-apiserver's family names and labels, and
values that follow what kubectl did. One ``kubectl run`` is one POST of a pod (201) and one
etcd create of type pods; a list is a LIST; an open ``kubectl get -w`` is one long-running
WATCH request, counted in apiserver_request_total when it ends, and the pods created meanwhile
are watch events of kind Pod; apiserver_storage_objects counts the stored pods."""

from __future__ import annotations

import http.client
import json
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.apiserver.kubectl import KUBECTL, Served, kubectl, require_kubectl, serve

pytestmark = [
    pytest.mark.kubectl,
]


@pytest.fixture(autouse=True)
def _kubectl_installed() -> None:
    require_kubectl()


POD_LABELS = 'component="apiserver",dry_run="",group="",resource="pods"'


def request_total(verb: str, scope: str, code: str) -> str:
    return (
        f'apiserver_request_total{{code="{code}",{POD_LABELS},scope="{scope}",subresource="",'
        f'verb="{verb}",version="v1"}}'
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(tmp_path_factory.mktemp("metrics")) as server:
        yield server


def metrics(served: Served) -> str:
    with urllib.request.urlopen(f"{served.url}/metrics", timeout=10) as answer:
        assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return str(answer.read().decode())


def value(served: Served, name: str) -> float:
    """The sample ``name`` (with its labels), 0 when absent."""
    for line in metrics(served).splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def ok(served: Served, *args: str) -> None:
    done = kubectl(served, *args)
    assert done.returncode == 0, done.stderr


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"never: {what}")


def test_requests_and_storage_follow_kubectl(served: Served) -> None:
    names = (
        request_total("POST", "namespace", "201"),
        request_total("LIST", "namespace", "200"),
        request_total("GET", "resource", "200"),
        request_total("GET", "resource", "404"),
        'etcd_request_duration_seconds_count{operation="create",type="pods"}',
        'etcd_requests_total{operation="create",type="pods"}',
        'apiserver_storage_objects{resource="pods"}',
    )
    before = {name: value(served, name) for name in names}
    ok(served, "run", "first", "--image=nginx")
    ok(served, "run", "second", "--image=nginx")
    ok(served, "get", "pods")
    ok(served, "get", "pod", "first")
    assert kubectl(served, "get", "pod", "absent").returncode == 1
    moved = {name: value(served, name) - before[name] for name in names}
    assert moved == dict(zip(names, (2.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0), strict=True))
    text = metrics(served)
    for family in (
        "apiserver_request_duration_seconds_bucket",
        "apiserver_current_inflight_requests",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        'apiserver_storage_objects{resource="deployments.apps"} 0.0',
    ):
        assert family in text, family
    assert "_created" not in text


def test_a_watch_is_long_running_until_it_ends(served: Served, tmp_path: Path) -> None:
    watching = (
        "apiserver_longrunning_requests{"
        + POD_LABELS
        + ',scope="namespace",subresource="",verb="WATCH",version="v1"}'
    )
    events = 'apiserver_watch_events_total{group="",kind="Pod",version="v1"}'
    ended = request_total("WATCH", "namespace", "200")
    before_events, before_ended = value(served, events), value(served, ended)
    command = [KUBECTL, "--kubeconfig", str(served.kubeconfig), "--cache-dir", str(served.cache)]
    watcher = subprocess.Popen(
        [*command, "get", "pods", "--watch-only", "-o", "name"],
        stdout=(tmp_path / "watch.out").open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        eventually(lambda: value(served, watching) == 1, "one open watch")
        ok(served, "run", "watched", "--image=nginx")
        eventually(lambda: "pod/watched" in (tmp_path / "watch.out").read_text(), "event seen")
        assert value(served, events) >= before_events + 1
        assert value(served, ended) == before_ended
    finally:
        watcher.terminate()
        watcher.wait(timeout=10)
    eventually(lambda: value(served, watching) == 0, "the watch closed")
    assert value(served, ended) == before_ended + 1


def test_the_secure_port_serves_metrics_only_to_whom_rbac_allows(tmp_path: Path) -> None:
    """kube's bootstrap policy: system:masters and the group system:monitoring may get
    /metrics; another user gets kube's 403 for a non-resource path."""
    tokens = tmp_path / "tokens.csv"
    tokens.write_text('monitor-token,prometheus,2001,"system:monitoring"\nalice-token,alice,2002\n')
    extra = ("--secure-port", "0", "--cert-dir", str(tmp_path / "pki"))
    with serve(tmp_path, *extra, "--token-auth-file", str(tokens)) as secure:
        assert secure.process.stdout is not None
        secure_url = secure.process.stdout.readline().rsplit(" ", 1)[-1].strip()
        # The admin kubeconfig (a system:masters client certificate) over HTTPS.
        done = kubectl(secure, "get", "--raw", "/metrics")
        assert done.returncode == 0, done.stderr
        assert "apiserver_request_total{" in done.stdout
        ca = ssl.create_default_context(cafile=str(tmp_path / "pki" / "ca.crt"))
        host, port = secure_url.removeprefix("https://").rsplit(":", 1)

        def get(token: str) -> tuple[int, str]:
            connection = http.client.HTTPSConnection(host, int(port), context=ca, timeout=10)
            try:
                connection.request("GET", "/metrics", headers={"Authorization": f"Bearer {token}"})
                response = connection.getresponse()
                return response.status, response.read().decode()
            finally:
                connection.close()

        status, text = get("monitor-token")
        assert status == 200
        assert "etcd_request_duration_seconds_bucket" in text
        status, text = get("alice-token")
        assert status == 403
        assert json.loads(text)["message"] == 'forbidden: User "alice" cannot get path "/metrics"'


def test_bad_requests_do_not_grow_the_metrics(served: Served) -> None:
    """Label values come from bounded sets: paths that name no served resource count as
    non-resource requests, unknown methods as ``other``."""
    host, port = served.url.removeprefix("http://").rsplit(":", 1)
    nonresource = (
        'apiserver_request_total{code="404",component="apiserver",dry_run="",group="",'
        'resource="",scope="",subresource="",verb="GET",version=""}'
    )
    before = value(served, nonresource)
    for index in range(3):
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request("GET", f"/api/v1/namespaces/default/nonsense{index}")
        response = connection.getresponse()
        response.read()
        assert response.status == 404
        connection.request("BREW", "/api/v1/namespaces/default/pods")
        connection.getresponse().read()
        connection.close()
    text = metrics(served)
    assert "nonsense" not in text
    assert "BREW" not in text
    assert value(served, nonresource) == before + 3
    assert 'verb="other"' in text
