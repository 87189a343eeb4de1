"""kubectl v1.32 against ``serve apiserver`` plus ``serve controller-manager``: a
PodDisruptionBudget made with ``kubectl create pdb`` gets its status from the disruption
controller, and ``kubectl drain`` evicts the node's pods one disruption at a time (the
"Safely Drain a Node" docs: evictions the budget forbids are refused with 429 and retried
until the replacement pods are ready)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.apiserver.kubectl import Served, kubectl, require_kubectl, serve
from tests.controllers.manager_process import Manager, controller_manager
from tests.controllers.pod_runner import PodRunner
from tests.controllers.test_kubectl_manager import eventually, live_pods, objects, ok, rolled_out

pytestmark = [pytest.mark.kubectl]


@pytest.fixture(autouse=True)
def _kubectl_installed() -> None:
    require_kubectl()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Manager]]:
    tmp = tmp_path_factory.mktemp("disruption")
    with (
        serve(tmp) as served,
        PodRunner(served.url),
        controller_manager(served.kubeconfig, tmp, "--controllers", "*") as manager,
    ):
        manager.wait_for_line("leading as")
        yield served, manager


def _status(served: Served) -> dict[str, int]:
    (pdb,) = objects(served, "pdb", "--field-selector=metadata.name=web")
    status = pdb.get("status") or {}
    return {
        k: status.get(k, -1)
        for k in ("expectedPods", "desiredHealthy", "currentHealthy", "disruptionsAllowed")
    }


def test_drain_respects_the_budget(cluster: tuple[Served, Manager]) -> None:
    served, _ = cluster
    ok(served, "create", "deployment", "web", "--image=nginx", "--replicas=3")
    rolled_out(served, "web")
    out = ok(served, "create", "pdb", "web", "--selector=app=web", "--min-available=2")
    assert "poddisruptionbudget.policy/web created" in out
    want = {"expectedPods": 3, "desiredHealthy": 2, "currentHealthy": 3, "disruptionsAllowed": 1}
    eventually(lambda: _status(served) == want, "the budget allows one disruption")
    table = ok(served, "get", "pdb", "web")
    assert table.split("\n")[1].split()[:4] == ["web", "2", "N/A", "1"], table

    before = {p["metadata"]["name"] for p in live_pods(served, "web")}
    drained = kubectl(
        served, "drain", "node-1", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=90s"
    )
    assert drained.returncode == 0, (drained.stdout, drained.stderr)
    assert "node/node-1 drained" in drained.stdout
    for name in before:
        assert f"pod/{name} evicted" in drained.stdout
    # The second eviction came while the first pod's replacement was not ready yet: refused.
    assert "violate the pod's disruption budget" in drained.stderr
    assert before.isdisjoint(p["metadata"]["name"] for p in live_pods(served, "web"))
    eventually(lambda: _status(served) == want, "the budget back to one disruption")
