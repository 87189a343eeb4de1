"""Issue 18's kubectl session, with the real kubectl v1.32, against ``kubeoracle serve cluster
--nodes 3``, asserting on what kubectl prints by its documented semantics: a Deployment rolls
out, ``get pods -o wide -w`` shows each pod unscheduled, then bound to a node, then Running,
``get events`` shows the scheduler's and the kubelet's events, ``expose`` creates endpoints
(and kube-proxy a route), and ``drain`` cordons and evicts, retrying while a
PodDisruptionBudget forbids the eviction. One cluster for the module."""

from __future__ import annotations

import json
import re
import ssl
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apiserver.kubectl import require_kubectl
from tests.served.cluster import RunningCluster, kubectl, kubectl_watch, serve_cluster, table

pytestmark = [pytest.mark.kubectl, pytest.mark.slow]

NODES = {f"kubeoracle-node-{i}" for i in range(3)}


@pytest.fixture(autouse=True)
def _kubectl_installed() -> None:
    require_kubectl()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCluster]:
    with serve_cluster(tmp_path_factory.mktemp("cluster"), "--nodes", "3") as running:
        yield running


def _ok(cluster: RunningCluster, *args: str) -> str:
    result = kubectl(cluster, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _pods(cluster: RunningCluster) -> dict[str, list[str]]:
    """``get pods -o wide`` rows by pod name."""
    rows = table(_ok(cluster, "get", "pods", "-o", "wide"))
    return {row[0]: row for row in rows[1:]}


def _until(what: str, check: object, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.5)
    pytest.fail(f"not within {seconds} s: {what}")


def test_the_supervisor_says_what_runs_and_the_nodes_are_ready(cluster: RunningCluster) -> None:
    pids = cluster.pids()
    assert set(pids) == {"apiserver", "controller-manager-1", "controller-manager-2",
                         "scheduler", "kubelet", "proxy"}  # fmt: skip
    assert any(re.search(r"ready in [\d.]+ s: 3/3 nodes Ready", line) for line in cluster.lines)
    rows = table(_ok(cluster, "get", "nodes", "-o", "wide"))
    assert rows[0][:6] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP"]
    assert {row[0] for row in rows[1:]} == NODES
    assert {(row[1], row[4]) for row in rows[1:]} == {("Ready", "v1.35.0")}
    # the secure port: the admin kubeconfig is a client certificate over HTTPS
    text = cluster.kubeconfig.read_text()
    assert "server: https://127.0.0.1:" in text
    assert "client-certificate-data" in text


def test_two_controller_managers_one_leading(cluster: RunningCluster) -> None:
    logs = [cluster.folder / "logs" / f"controller-manager-{i}.log" for i in (1, 2)]
    leading = [log for log in logs if "leading as " in log.read_text()]
    assert len(leading) == 1, [log.read_text() for log in logs]
    identity = leading[0].read_text().split("leading as ", 1)[1].split()[0]
    lease = _ok(cluster, "get", "lease", "-n", "kube-system", "kube-controller-manager",
                "-o", "jsonpath={.spec.holderIdentity}")  # fmt: skip
    assert lease == identity


def test_create_deployment_rolls_out_and_the_watch_shows_pods_placed_and_running(
    cluster: RunningCluster,
) -> None:
    watch = kubectl_watch(cluster, "get", "pods", "-o", "wide", "-w")
    time.sleep(2)  # the watch lists (nothing) before the Deployment exists
    created = _ok(cluster, "create", "deployment", "web", "--image=nginx", "--replicas=3")
    assert created == "deployment.apps/web created\n"
    rollout = kubectl(cluster, "rollout", "status", "deployment/web", "--timeout=90s")
    assert rollout.returncode == 0, rollout.stderr
    assert rollout.stdout.splitlines()[-1] == 'deployment "web" successfully rolled out'
    time.sleep(2)
    watch.terminate()
    printed, _ = watch.communicate(timeout=10)
    rows = table(printed)
    assert rows[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE",
                       "NOMINATED NODE", "READINESS GATES"]  # fmt: skip
    by_pod: dict[str, list[list[str]]] = {}
    for row in rows[1:]:
        by_pod.setdefault(row[0], []).append(row)
    assert len(by_pod) == 3
    assert all(name.startswith("web-") for name in by_pod)
    for name, seen in by_pod.items():
        # created unscheduled, then bound (NODE set, not yet running), then Running
        assert seen[0][2] == "Pending"
        assert seen[0][6] == "<none>"
        first_bound = next(i for i, row in enumerate(seen) if row[6] != "<none>")
        assert seen[first_bound][2] in ("Pending", "ContainerCreating"), seen
        last = seen[-1]
        assert (last[1], last[2]) == ("1/1", "Running"), (name, seen)
        assert last[6] in NODES
        assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", last[5]), last
        assert {row[6] for row in seen[first_bound:]} == {last[6]}  # never moved
    pods = _pods(cluster)
    assert set(pods) == set(by_pod)
    assert {(row[1], row[2]) for row in pods.values()} == {("1/1", "Running")}


def test_events_show_the_scheduler_and_the_kubelet(cluster: RunningCluster) -> None:
    pods = _pods(cluster)
    rows = table(_ok(cluster, "get", "events", "-o", "wide"))
    assert rows[0] == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "SUBOBJECT", "SOURCE",
                       "MESSAGE", "FIRST SEEN", "COUNT", "NAME"]  # fmt: skip
    for name, pod in pods.items():
        node = pod[6]
        mine = [row for row in rows[1:] if row[3] == f"pod/{name}"]
        scheduled = [row for row in mine if row[2] == "Scheduled"]
        assert len(scheduled) == 1, mine
        # no SUBOBJECT: the cell is empty and kubectl prints nothing there
        assert scheduled[0][1] == "Normal"
        assert scheduled[0][4].startswith("default-scheduler")
        assert scheduled[0][5] == f"Successfully assigned default/{name} to {node}"
        kubelet = [(row[2], row[4], row[5], row[6]) for row in mine if row[2] != "Scheduled"]
        source = f"kubelet, {node}"
        path = "spec.containers{nginx}"
        pulled = (
            'Successfully pulled image "nginx" in 0s (0s including waiting). Image size: 0 bytes.'
        )
        assert kubelet == [
            ("Pulling", path, source, 'Pulling image "nginx"'),
            ("Pulled", path, source, pulled),
            ("Created", path, source, "Container created"),
            ("Started", path, source, "Container started"),
        ]
    # each kubelet's start: its node's events, from the kubelet on that node
    pressures = ("NodeHasSufficientMemory", "NodeHasNoDiskPressure", "NodeHasSufficientPID")
    for node in NODES:
        source = f"kubelet, {node}"
        node_rows = [(r[2], r[4], r[5]) for r in rows[1:]
                     if r[3] == f"node/{node}" and r[4] == source]  # fmt: skip
        assert node_rows == [
            ("Starting", source, "Starting kubelet."),
            *((reason, source, f"Node {node} status is now: {reason}") for reason in pressures),
            ("NodeAllocatableEnforced", source, "Updated Node Allocatable limit across pods"),
            ("NodeReady", source, f"Node {node} status is now: NodeReady"),
        ]
    plain = table(_ok(cluster, "get", "events"))
    assert plain[0] == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]


def _endpoints(cluster: RunningCluster) -> set[str]:
    """The ready ``IP:PORT`` of endpoints/web."""
    ips = "jsonpath={range .subsets[*]}{range .addresses[*]}{.ip}{' '}{end}{end}"
    found = kubectl(cluster, "get", "endpoints", "web", "-o", ips)
    return {f"{ip}:80" for ip in found.stdout.split()} if found.returncode == 0 else set()


def _pod_ips(cluster: RunningCluster) -> set[str]:
    return {f"{row[5]}:80" for row in _pods(cluster).values() if row[2] == "Running"}


def test_expose_creates_endpoints_and_the_proxy_routes_the_service(
    cluster: RunningCluster,
) -> None:
    exposed = _ok(cluster, "expose", "deployment", "web", "--port", "80")
    assert exposed == "service/web exposed\n"
    _until("endpoints/web lists the three pods", lambda: _endpoints(cluster) == _pod_ips(cluster))
    assert len(_endpoints(cluster)) == 3
    rows = table(_ok(cluster, "get", "endpoints", "web"))
    assert rows[0] == ["NAME", "ENDPOINTS", "AGE"]
    assert set(rows[1][1].split(",")) == _pod_ips(cluster)
    service = table(_ok(cluster, "get", "service", "web"))[1]
    assert service[1:5] == ["ClusterIP", service[2], "<none>", "80/TCP"]
    # the API server's own endpoints, as its endpoint reconciler writes them
    secure = re.search(r"server: https://(127\.0\.0\.1:\d+)", cluster.kubeconfig.read_text())
    assert secure is not None
    kubernetes = table(_ok(cluster, "get", "endpoints", "kubernetes"))[1]
    assert kubernetes[1] == secure.group(1)
    # kube-proxy (userspace, over the secure port) opened a local port for the Service
    log = cluster.folder / "logs" / "proxy.log"
    _until(
        "the proxy routes the Service",
        lambda: f"# TCP {service[2]}:80 on 127.0.0.1:" in log.read_text(),
    )


def test_the_kubernetes_service_reaches_the_api_server_through_kube_proxy(
    cluster: RunningCluster,
) -> None:
    # 10.0.0.1:443, the kubernetes Service, is relayed to the secure port: the API server
    # answers /version (public to anyone) over TLS with its own certificate
    log = cluster.folder / "logs" / "proxy.log"
    route = re.compile(r"# TCP 10\.0\.0\.1:443 on 127\.0\.0\.1:(\d+)")
    _until("the proxy routes kubernetes", lambda: route.search(log.read_text()) is not None)
    port = route.findall(log.read_text())[-1]
    context = ssl.create_default_context(cafile=str(cluster.folder / "pki" / "ca.crt"))
    body = b""
    deadline = time.monotonic() + 30
    while not body and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"https://127.0.0.1:{port}/version", timeout=5,
                                        context=context) as answer:  # fmt: skip
                body = answer.read()
        except OSError:
            time.sleep(0.5)
    assert json.loads(body)["gitVersion"] == "v1.35.0"


def _pdb(cluster: RunningCluster) -> list[str]:
    """MIN AVAILABLE, MAX UNAVAILABLE, ALLOWED DISRUPTIONS of pdb/web."""
    return table(_ok(cluster, "get", "pdb", "web"))[1][1:4]


def test_drain_retries_while_a_pdb_forbids_and_evicts_once_allowed(
    cluster: RunningCluster,
) -> None:
    pods = _pods(cluster)
    victim, node = next((name, row[6]) for name, row in sorted(pods.items()))
    created = _ok(cluster, "create", "pdb", "web", "--selector=app=web", "--min-available=3")
    assert created == "poddisruptionbudget.policy/web created\n"
    _until("the disruption controller counts the pods", lambda: _pdb(cluster) == ["3", "N/A", "0"])
    refused = kubectl(cluster, "drain", node, "--ignore-daemonsets", "--timeout=8s")
    assert refused.returncode == 1
    assert f"node/{node} cordoned" in refused.stdout
    retry = (
        f'error when evicting pods/"{victim}" -n "default" (will retry after 5s): '
        "Cannot evict pod as it would violate the pod's disruption budget."
    )
    assert retry in refused.stderr, refused.stderr
    assert f'error: unable to drain node "{node}"' in refused.stderr
    assert _pods(cluster)[victim][2] == "Running"  # still there
    nodes = {row[0]: row[1] for row in table(_ok(cluster, "get", "nodes"))[1:]}
    assert nodes[node] == "Ready,SchedulingDisabled"
    # two of three may stay: one disruption allowed
    _ok(cluster, "patch", "pdb", "web", "--type=merge", "-p", '{"spec":{"minAvailable":2}}')
    _until("one disruption allowed", lambda: _pdb(cluster) == ["2", "N/A", "1"])
    drained = kubectl(cluster, "drain", node, "--ignore-daemonsets", "--timeout=60s")
    assert drained.returncode == 0, drained.stderr
    assert f"pod/{victim} evicted" in drained.stdout
    assert drained.stdout.splitlines()[-1] == f"node/{node} drained"

    def replaced() -> bool:
        now = _pods(cluster)
        running = [row for row in now.values() if row[2] == "Running"]
        return victim not in now and len(running) == 3

    _until("the evicted pod replaced", replaced)
    assert node not in {row[6] for row in _pods(cluster).values()}  # cordoned: nothing new
    _until("endpoints follow the pods", lambda: _endpoints(cluster) == _pod_ips(cluster))
    killing = table(
        _ok(cluster, "get", "events", "--field-selector", f"involvedObject.name={victim}")
    )
    reasons = {(row[2], row[4]) for row in killing[1:]}
    assert ("Killing", "Stopping container nginx") in reasons
    _ok(cluster, "uncordon", node)


def test_the_kubeconfig_file_is_private(cluster: RunningCluster) -> None:
    assert Path(cluster.kubeconfig).stat().st_mode & 0o777 == 0o600
