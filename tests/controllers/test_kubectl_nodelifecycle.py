"""kubectl v1.32 against ``serve apiserver`` plus ``serve controller-manager``: a node whose
kubelet stops reporting goes Ready=Unknown after the 50 s node-monitor-grace-period, its pods
become not ready, it is tainted node.kubernetes.io/unreachable:NoExecute and a pod without a
matching toleration is evicted (the "Nodes" and "Taints and Tolerations" docs). A second node
keeps renewing its Lease in kube-node-lease, as a kubelet does, so that the zone is not
fully disrupted. About 70 s of real time."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from models.controllers.messages import ApiCall
from runner.apiserver.client import Endpoint
from runner.served.rest import RestClient
from tests.apiserver.kubectl import Served, kubectl, require_kubectl, serve
from tests.controllers.manager_process import Manager, controller_manager
from tests.controllers.pod_runner import PodRunner
from tests.controllers.test_kubectl_manager import eventually, ok

pytestmark = [pytest.mark.kubectl, pytest.mark.slow]
LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"


@pytest.fixture(autouse=True)
def _kubectl_installed() -> None:
    require_kubectl()


def _micro_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _node(name: str) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    ready = {
        "type": "Ready",
        "status": "True",
        "reason": "KubeletReady",
        "lastHeartbeatTime": now,
        "lastTransitionTime": now,
    }
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name},
            "status": {"conditions": [ready]},
        }
    )


class LeaseRenewer:
    """A kubelet's heartbeat: the node's Lease renewed every 5 s."""

    def __init__(self, url: str, name: str) -> None:
        self.client = RestClient(Endpoint(url=url))
        self.name = name
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": "kube-node-lease"},
            "spec": {
                "holderIdentity": self.name,
                "leaseDurationSeconds": 40,
                "renewTime": _micro_now(),
            },
        }
        self.client.send(
            ApiCall(
                method="POST",
                path=LEASES,
                content_type="application/json",
                body=json.dumps(body).encode(),
            )
        )
        while not self.stopped.wait(5):
            patch = {"spec": {"renewTime": _micro_now()}}
            self.client.send(
                ApiCall(
                    method="PATCH",
                    path=f"{LEASES}/{self.name}",
                    content_type="application/merge-patch+json",
                    body=json.dumps(patch).encode(),
                )
            )
        self.client.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Manager]]:
    tmp = tmp_path_factory.mktemp("nodelifecycle")
    with serve(tmp) as served:
        renewer = LeaseRenewer(served.url, "alive")
        for name in ("alive", "silent"):
            path = tmp / f"{name}.json"
            path.write_text(_node(name))
            ok(served, "create", "-f", str(path))
        renewer.thread.start()
        try:
            with (
                PodRunner(served.url),
                controller_manager(served.kubeconfig, tmp, "--controllers", "*") as manager,
            ):
                manager.wait_for_line("leading as")
                yield served, manager
        finally:
            renewer.stopped.set()


def _get(served: Served, *args: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(ok(served, "get", *args, "-o", "json"))
    return found


def test_a_silent_node_is_marked_tainted_and_its_pod_evicted(
    cluster: tuple[Served, Manager],
) -> None:
    served, _ = cluster
    overrides = json.dumps({"spec": {"nodeName": "silent"}})
    ok(served, "run", "web", "--image=nginx", f"--overrides={overrides}")
    ok(served, "wait", "--for=condition=Ready", "pod/web", "--timeout=30s")
    started = time.monotonic()
    waited = kubectl(
        served, "wait", "--for=condition=Ready=Unknown", "node/silent", "--timeout=120s"
    )
    assert waited.returncode == 0, waited.stderr
    # The grace period: 50 s without news (the controller saw the node at start).
    assert time.monotonic() - started > 40
    conditions = {c["type"]: c for c in _get(served, "node", "silent")["status"]["conditions"]}
    assert conditions["Ready"]["reason"] == "NodeStatusUnknown"
    alive = {c["type"]: c for c in _get(served, "node", "alive")["status"]["conditions"]}
    assert alive["Ready"]["status"] == "True"

    def taints() -> list[dict[str, Any]]:
        spec = _get(served, "node", "silent").get("spec") or {}
        return list(spec.get("taints") or [])

    eventually(
        lambda: any(t["key"] == "node.kubernetes.io/unreachable" for t in taints()), "tainted"
    )
    eventually(
        lambda: (
            kubectl(served, "get", "pod", "web").returncode != 0
            or bool(_get(served, "pod", "web")["metadata"].get("deletionTimestamp"))
        ),
        "the pod evicted",
    )
