"""kubectl v1.32 against ``serve apiserver`` plus ``serve controller-manager``: ``kubectl create
job`` runs a pod carrying the batch.kubernetes.io/job-tracking finalizer; when the pod
succeeds the Job controller counts it, removes the finalizer, and ``kubectl wait
--for=condition=complete`` returns (the Job docs: "Job tracking with finalizers", "Job
termination and cleanup"). The pod runner stands in for the kubelet; the test reports the
container's exit as the kubelet would (a status write)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from models.apiserver.clock import rfc3339
from tests.apiserver.kubectl import Served, require_kubectl, serve
from tests.controllers.manager_process import Manager, controller_manager
from tests.controllers.pod_runner import PodRunner
from tests.controllers.test_kubectl_manager import eventually, objects, ok

pytestmark = [pytest.mark.kubectl]
TRACKING = "batch.kubernetes.io/job-tracking"


@pytest.fixture(autouse=True)
def _kubectl_installed() -> None:
    require_kubectl()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Manager]]:
    tmp = tmp_path_factory.mktemp("job")
    with (
        serve(tmp) as served,
        PodRunner(served.url),
        controller_manager(served.kubeconfig, tmp, "--controllers", "*") as manager,
    ):
        manager.wait_for_line("leading as")
        yield served, manager


def test_create_job_runs_to_complete(cluster: tuple[Served, Manager]) -> None:
    served, _ = cluster
    assert "job.batch/pi created" in ok(served, "create", "job", "pi", "--image=perl")
    eventually(
        lambda: (
            [p["status"].get("phase") for p in objects(served, "pods", "-l", "job-name=pi")]
            == ["Running"]
        ),
        "one running pod",
    )
    (pod,) = objects(served, "pods", "-l", "job-name=pi")
    assert pod["metadata"]["finalizers"] == [TRACKING]
    name = pod["metadata"]["name"]
    terminated = {"exitCode": 0, "reason": "Completed", "finishedAt": rfc3339(0)}
    body = {
        "status": {
            "phase": "Succeeded",
            "containerStatuses": [
                {
                    "name": "pi",
                    "image": "perl",
                    "imageID": "",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"terminated": terminated},
                }
            ],
        }
    }
    ok(served, "patch", "pod", name, "--subresource=status", "--type=merge", "-p", json.dumps(body))
    out = ok(served, "wait", "--for=condition=complete", "job/pi", "--timeout=60s")
    assert "job.batch/pi condition met" in out
    (job,) = objects(served, "jobs", "--field-selector=metadata.name=pi")
    status = job["status"]
    assert status["succeeded"] == 1
    assert [c["type"] for c in status["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    assert status["completionTime"]
    eventually(
        lambda: not objects(served, "pods", "-l", "job-name=pi")[0]["metadata"].get("finalizers"),
        "the tracking finalizer removed",
    )
