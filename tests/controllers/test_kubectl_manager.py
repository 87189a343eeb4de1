"""kubectl v1.32 against ``serve apiserver`` plus ``serve controller-manager`` (issue 15), with a
pod runner standing in for scheduler and kubelets. Expected outcomes come from the Kubernetes
Deployment and garbage-collection docs: a rollout replaces pods through a new ReplicaSet, undo
makes the previous template the newest revision, a paused Deployment starts no rollout, and each
deletion cascade mode treats dependents as documented."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.apiserver.kubectl import Served, kubectl, require_kubectl, serve
from tests.controllers.manager_process import Manager, controller_manager
from tests.controllers.pod_runner import PodRunner

pytestmark = [
    pytest.mark.kubectl,
]


@pytest.fixture(autouse=True)
def _kubectl_installed() -> None:
    require_kubectl()


TIMEOUT_SECONDS = 60.0
REVISION = "deployment.kubernetes.io/revision"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Manager]]:
    tmp = tmp_path_factory.mktemp("controllers")
    with (
        serve(tmp) as served,
        PodRunner(served.url),
        controller_manager(served.kubeconfig, tmp) as manager,
    ):
        manager.wait_for_line("leading as")
        yield served, manager


def ok(served: Served, *args: str) -> str:
    done = kubectl(served, *args)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def objects(served: Served, kind: str, *selector: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(ok(served, "get", kind, *selector, "-o", "json"))[
        "items"
    ]
    return items


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"never: {what}")


def rolled_out(served: Served, name: str) -> None:
    out = ok(served, "rollout", "status", f"deployment/{name}", f"--timeout={TIMEOUT_SECONDS}s")
    assert f'deployment "{name}" successfully rolled out' in out


def live_pods(served: Served, app: str) -> list[dict[str, Any]]:
    return [
        pod
        for pod in objects(served, "pods", "-l", f"app={app}")
        if not pod["metadata"].get("deletionTimestamp")
    ]


def images(pods: list[dict[str, Any]]) -> set[str]:
    """Container images of pods, or of ReplicaSets' pod templates."""
    specs = [obj["spec"].get("template", obj)["spec"] for obj in pods]
    return {c["image"] for spec in specs for c in spec["containers"]}


def replica_set_with(served: Served, app: str, image: str) -> dict[str, Any]:
    (found,) = [rs for rs in objects(served, "rs", "-l", f"app={app}") if images([rs]) == {image}]
    return found


def test_create_scale_set_image_undo_pause_resume(cluster: tuple[Served, Manager]) -> None:
    served, _ = cluster
    assert "deployment.apps/web created" in ok(
        served, "create", "deployment", "web", "--image=nginx", "--replicas=3"
    )
    rolled_out(served, "web")
    pods = live_pods(served, "web")
    assert len(pods) == 3
    assert {p["status"]["phase"] for p in pods} == {"Running"}
    (rs,) = objects(served, "rs", "-l", "app=web")
    owner = rs["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("Deployment", "web", True)
    assert {p["metadata"]["ownerReferences"][0]["name"] for p in pods} == {rs["metadata"]["name"]}

    assert "deployment.apps/web scaled" in ok(served, "scale", "deployment/web", "--replicas=5")
    rolled_out(served, "web")
    assert len(live_pods(served, "web")) == 5
    ok(served, "scale", "deployment/web", "--replicas=2")
    eventually(lambda: len(objects(served, "pods", "-l", "app=web")) == 2, "scaled down to 2")

    assert "image updated" in ok(served, "set", "image", "deployment/web", "nginx=nginx:1.27")
    rolled_out(served, "web")
    assert images(live_pods(served, "web")) == {"nginx:1.27"}
    new, old = (
        replica_set_with(served, "web", "nginx:1.27"),
        replica_set_with(served, "web", "nginx"),
    )
    assert (new["spec"]["replicas"], old["spec"]["replicas"]) == (2, 0)
    assert (new["metadata"]["annotations"][REVISION], old["metadata"]["annotations"][REVISION]) == (
        "2",
        "1",
    )

    assert "rolled back" in ok(served, "rollout", "undo", "deployment/web")
    rolled_out(served, "web")
    eventually(lambda: images(live_pods(served, "web")) == {"nginx"}, "pods back on nginx")
    # The docs: rolling back to revision 1 makes that template revision 3; 1 is gone.
    assert replica_set_with(served, "web", "nginx")["metadata"]["annotations"][REVISION] == "3"
    history = ok(served, "rollout", "history", "deployment/web")
    revisions = [line.split()[0] for line in history.splitlines()[2:] if line.strip()]
    assert revisions == ["2", "3"]

    assert "paused" in ok(served, "rollout", "pause", "deployment/web")
    ok(served, "set", "image", "deployment/web", "nginx=nginx:1.28")
    time.sleep(3)
    assert all(images([rs]) != {"nginx:1.28"} for rs in objects(served, "rs", "-l", "app=web"))
    (deployment,) = objects(served, "deployment", "--field-selector=metadata.name=web")
    progressing = {c["type"]: c for c in deployment["status"]["conditions"]}["Progressing"]
    assert (progressing["status"], progressing["reason"]) == ("Unknown", "DeploymentPaused")
    assert "resumed" in ok(served, "rollout", "resume", "deployment/web")
    rolled_out(served, "web")
    eventually(lambda: images(live_pods(served, "web")) == {"nginx:1.28"}, "pods on nginx:1.28")


def _running(served: Served, name: str, replicas: int = 2) -> str:
    ok(served, "create", "deployment", name, "--image=nginx", f"--replicas={replicas}")
    rolled_out(served, name)
    (rs,) = objects(served, "rs", "-l", f"app={name}")
    return str(rs["metadata"]["name"])


def test_delete_cascade_background(cluster: tuple[Served, Manager]) -> None:
    served, _ = cluster
    _running(served, "bg")
    ok(served, "delete", "deployment", "bg", "--cascade=background")
    assert objects(served, "deployment", "--field-selector=metadata.name=bg") == []
    eventually(lambda: objects(served, "rs", "-l", "app=bg") == [], "the ReplicaSet collected")
    eventually(lambda: objects(served, "pods", "-l", "app=bg") == [], "the pods collected")


def test_delete_cascade_foreground(cluster: tuple[Served, Manager]) -> None:
    served, _ = cluster
    _running(served, "fg")
    ok(served, "delete", "deployment", "fg", "--cascade=foreground", "--wait=false")
    # The owner stays, marked, until its blocking dependents are gone (unless the collector
    # already finished by the time kubectl reads it).
    for owner in objects(served, "deployment", "--field-selector=metadata.name=fg"):
        assert owner["metadata"]["deletionTimestamp"]
        assert "foregroundDeletion" in owner["metadata"]["finalizers"]
    eventually(
        lambda: objects(served, "deployment", "--field-selector=metadata.name=fg") == [],
        "the Deployment removed",
    )
    # By then every dependent it waited for is gone: ReplicaSet and (blocking) pods.
    assert objects(served, "rs", "-l", "app=fg") == []
    assert objects(served, "pods", "-l", "app=fg") == []


def test_delete_cascade_orphan(cluster: tuple[Served, Manager]) -> None:
    served, _ = cluster
    name = _running(served, "orphan")
    ok(served, "delete", "deployment", "orphan", "--cascade=orphan")
    assert objects(served, "deployment", "--field-selector=metadata.name=orphan") == []
    eventually(
        lambda: all(
            not rs["metadata"].get("ownerReferences")
            for rs in objects(served, "rs", "-l", "app=orphan")
        ),
        "the ReplicaSet orphaned",
    )
    time.sleep(2)
    (rs,) = objects(served, "rs", "-l", "app=orphan")
    assert rs["metadata"]["name"] == name
    assert not rs["metadata"].get("deletionTimestamp")
    assert len(live_pods(served, "orphan")) == 2


FAMILIES = (
    "workqueue_depth",
    "workqueue_adds_total",
    "workqueue_retries_total",
    "workqueue_queue_duration_seconds_bucket",
    "workqueue_work_duration_seconds_bucket",
    "rest_client_request_duration_seconds_bucket",
    "rest_client_requests_total",
    "leader_election_master_status",
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "kubeoracle_controller_reconciles_total",
)


def _curl(*args: str) -> str:
    done = subprocess.run(["curl", "-sS", *args], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_metrics_and_healthz_over_http_and_https(cluster: tuple[Served, Manager]) -> None:
    _, manager = cluster
    text = _curl(f"{manager.metrics_url}/metrics")
    samples = [line for line in text.splitlines() if line and not line.startswith("#")]
    for family in FAMILIES:
        assert any(line.startswith(family) for line in samples), family
    assert 'leader_election_master_status{name="kube-controller-manager"} 1.0' in samples
    for controller in ("deployment-controller", "replicaset-controller"):
        assert any(
            line.startswith(f'kubeoracle_controller_reconciles_total{{controller="{controller}"')
            for line in samples
        ), controller
        assert f'workqueue_depth{{name="{controller}"}} 0.0' in samples
    assert _curl(f"{manager.metrics_url}/healthz") == "ok"
    # HTTPS with the self-signed certificate made in --cert-dir.
    assert _curl("-k", f"{manager.secure_url}/healthz") == "ok"
    assert "workqueue_adds_total" in _curl("-k", f"{manager.secure_url}/metrics")
    assert "404" in _curl(f"{manager.metrics_url}/nothing")


SHORT_ELECTION = (
    "--leader-elect-lease-duration=4s",
    "--leader-elect-renew-deadline=3s",
    "--leader-elect-retry-period=1s",
)


def lease_of(served: Served) -> dict[str, Any]:
    args = ("get", "lease", "-n", "kube-system", "kube-controller-manager", "-o", "json")
    lease: dict[str, Any] = json.loads(ok(served, *args))
    return lease


def test_leader_election_failover(tmp_path: Path) -> None:
    """One of two managers leads; when it dies the other takes the Lease over once the lease
    duration has passed without renewal (one transition), and reconciles from then on."""
    with (
        serve(tmp_path) as served,
        PodRunner(served.url),
        controller_manager(served.kubeconfig, tmp_path, *SHORT_ELECTION) as first,
    ):
        first_id = first.wait_for_line("leading as").split()[-1]
        with controller_manager(served.kubeconfig, tmp_path, *SHORT_ELECTION) as second:
            time.sleep(3)
            lease = lease_of(served)
            assert lease["spec"]["holderIdentity"] == first_id
            standby = 'leader_election_master_status{name="kube-controller-manager"} 0.0'
            assert standby in second.metrics().splitlines()
            first.process.kill()
            first.process.wait()
            second_id = second.wait_for_line("leading as").split()[-1]
            lease = lease_of(served)
            assert (lease["spec"]["holderIdentity"], lease["spec"]["leaseTransitions"]) == (
                second_id,
                1,
            )
            _running(served, "after-failover")
