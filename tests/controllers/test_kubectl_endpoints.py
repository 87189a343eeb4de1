"""kubectl v1.32 against ``serve apiserver`` plus ``serve controller-manager`` (all
controllers), with the pod runner standing in for scheduler and kubelets: ``kubectl expose``
of a Deployment gives an Endpoints object and EndpointSlices listing exactly the ready pods'
IPs (the Service docs: "the control plane creates EndpointSlices for any Service that has a
selector"; the Endpoints object carries the same name as the Service)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.apiserver.kubectl import Served, require_kubectl, serve
from tests.controllers.manager_process import Manager, controller_manager
from tests.controllers.pod_runner import PodRunner
from tests.controllers.test_kubectl_manager import eventually, objects, ok, rolled_out

pytestmark = [pytest.mark.kubectl]


@pytest.fixture(autouse=True)
def _kubectl_installed() -> None:
    require_kubectl()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Manager]]:
    tmp = tmp_path_factory.mktemp("endpoints")
    with (
        serve(tmp) as served,
        PodRunner(served.url),
        controller_manager(served.kubeconfig, tmp, "--controllers", "*") as manager,
    ):
        manager.wait_for_line("leading as")
        yield served, manager


def _pods(served: Served) -> dict[str, str]:
    """Ready, non-terminating pods of app=web: name -> IP."""
    return {
        p["metadata"]["name"]: p["status"]["podIP"]
        for p in objects(served, "pods", "-l", "app=web")
        if not p["metadata"].get("deletionTimestamp")
        and any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in p.get("status", {}).get("conditions", ())
        )
    }


def _endpoints(served: Served) -> dict[str, str]:
    (found,) = [e for e in objects(served, "endpoints") if e["metadata"]["name"] == "web"]
    return {
        a["targetRef"]["name"]: a["ip"]
        for s in found.get("subsets") or ()
        for a in s.get("addresses") or ()
        if [p["port"] for p in s["ports"]] == [80]
    }


def _slices(served: Served) -> dict[str, str]:
    found = objects(served, "endpointslices", "-l", "kubernetes.io/service-name=web")
    return {
        e["targetRef"]["name"]: e["addresses"][0]
        for s in found
        if s["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"]
        == "endpointslice-controller.k8s.io"
        for e in s.get("endpoints") or ()
        if e["conditions"]["ready"]
    }


def test_expose_lists_the_ready_pods_in_endpoints_and_slices(
    cluster: tuple[Served, Manager],
) -> None:
    served, _ = cluster
    ok(served, "create", "deployment", "web", "--image=nginx", "--replicas=3")
    rolled_out(served, "web")
    # The controllers' events, as kubectl get events shows them.
    reasons = {(e["reason"], e["message"].split(" ")[0]) for e in objects(served, "events")}
    assert {("ScalingReplicaSet", "Scaled"), ("SuccessfulCreate", "Created")} <= reasons
    assert "service/web exposed" in ok(served, "expose", "deployment", "web", "--port", "80")
    eventually(lambda: len(_endpoints(served)) == 3, "three ready addresses in endpoints/web")
    pods = _pods(served)
    assert len(pods) == 3
    assert _endpoints(served) == pods
    eventually(lambda: _slices(served) == pods, "the slices list the same pods")
    table = ok(served, "get", "endpoints", "web")
    assert all(f"{ip}:80" in table for ip in pods.values()), table

    ok(served, "scale", "deployment/web", "--replicas=1")
    eventually(lambda: len(_endpoints(served)) == 1, "one address after scaling to 1")
    eventually(lambda: _endpoints(served) == _pods(served), "endpoints match the pods")
    eventually(lambda: _slices(served) == _pods(served), "slices match the pods")

    ok(served, "delete", "service", "web")
    eventually(
        lambda: [e for e in objects(served, "endpoints") if e["metadata"]["name"] == "web"] == [],
        "endpoints/web deleted with its Service",
    )
    eventually(
        lambda: objects(served, "endpointslices", "-l", "kubernetes.io/service-name=web") == [],
        "the slices collected with their Service",
    )
