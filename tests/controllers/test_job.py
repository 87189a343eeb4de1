"""The Job controller (job_controller.go, v1.35). Expected values come from the Job docs
("Jobs": completions and parallelism, Pod backoff failure policy with 10 s, 20 s, 40 s ...
delays, activeDeadlineSeconds, completion mode Indexed with the
batch.kubernetes.io/job-completion-index annotation and label, hostname and
JOB_COMPLETION_INDEX, "Job tracking with finalizers", "Termination of Job pods" with the
SuccessCriteriaMet and FailureTarget interim conditions) and the batch/v1 API reference."""

from __future__ import annotations

from typing import Any

from impl.controllers import garbagecollector, job
from models.apiserver.clock import rfc3339
from runner.controllers.local import LocalCluster
from tests.controllers.cluster import PODS

JOBS = "/apis/batch/v1/namespaces/default/jobs"
MERGE = "application/merge-patch+json"
TRACKING = "batch.kubernetes.io/job-tracking"


def start(run_pods: bool = False, **spec: Any) -> LocalCluster:
    c = LocalCluster([job.DEFINITION, garbagecollector.DEFINITION], run_pods=run_pods)
    body = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "pi", "namespace": "default"},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "perl"}]}
            },
            **spec,
        },
    }
    answer = c.api.call("POST", JOBS, body)
    assert answer.status == 201, answer.body
    settle(c, run_pods)
    return c


def settle(c: LocalCluster, pods: bool = False) -> None:
    """Let the one-second pod-event batching pass, then run until quiet."""
    for _ in range(3):
        c.settle(pods=pods)
        c.advance(1)
    c.settle(pods=pods)


def status(c: LocalCluster) -> dict[str, Any]:
    found: dict[str, Any] = c.get(f"{JOBS}/pi")["status"]
    return found


def live(c: LocalCluster) -> list[dict[str, Any]]:
    return sorted(
        (p for p in c.items(PODS) if not p["metadata"].get("deletionTimestamp")),
        key=lambda p: p["metadata"]["name"],
    )


def finish(c: LocalCluster, pod: dict[str, Any], phase: str) -> None:
    """The kubelet reporting the pod's container terminated (exit 0 or 1)."""
    now = rfc3339(c.entropy.now_seconds())
    terminated = {"exitCode": 0 if phase == "Succeeded" else 1, "finishedAt": now}
    body = {
        "status": {
            "phase": phase,
            "containerStatuses": [{"name": "c", "state": {"terminated": terminated}}],
        }
    }
    path = f"{PODS}/{pod['metadata']['name']}/status"
    answer = c.api.call("PATCH", path, body, content_type=MERGE)
    assert answer.status == 200, answer.body


def conditions(c: LocalCluster) -> list[tuple[str, str, str]]:
    return [(x["type"], x["status"], x.get("reason", "")) for x in status(c).get("conditions", ())]


def test_completions_and_parallelism_run_to_complete() -> None:
    c = start(completions=3, parallelism=2)
    pods = live(c)
    assert len(pods) == 2
    assert all(p["metadata"]["finalizers"] == [TRACKING] for p in pods)
    labels = pods[0]["metadata"]["labels"]
    assert labels["batch.kubernetes.io/job-name"] == "pi"
    assert labels["batch.kubernetes.io/controller-uid"] == c.get(f"{JOBS}/pi")["metadata"]["uid"]
    owner = pods[0]["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("Job", "pi", True)
    assert (status(c)["active"], status(c)["ready"], status(c)["uncountedTerminatedPods"]) == (
        2,
        0,
        {},
    )
    finish(c, pods[0], "Succeeded")
    settle(c)
    assert status(c)["succeeded"] == 1
    done = c.get(f"{PODS}/{pods[0]['metadata']['name']}")
    assert not done["metadata"].get("finalizers")
    running = [p for p in live(c) if p["status"]["phase"] != "Succeeded"]
    assert len(running) == 2
    for pod in running:
        finish(c, pod, "Succeeded")
    settle(c)
    found = status(c)
    assert found["succeeded"] == 3
    assert "active" not in found
    assert conditions(c) == [
        ("SuccessCriteriaMet", "True", "CompletionsReached"),
        ("Complete", "True", "CompletionsReached"),
    ]
    assert found["completionTime"] == found["conditions"][1]["lastTransitionTime"]


def test_failed_pods_are_replaced_after_a_doubling_backoff_until_the_limit() -> None:
    c = start(backoffLimit=2)
    (first,) = live(c)
    finish(c, first, "Failed")
    c.settle()
    c.advance(1)
    c.settle()
    assert status(c)["failed"] == 1
    # The first failure delays the replacement by 10 s.
    assert [p for p in live(c) if p["status"]["phase"] == "Pending"] == []
    c.advance(8)
    c.settle()
    assert [p for p in live(c) if p["status"]["phase"] == "Pending"] == []
    c.advance(2)
    c.settle()
    (second,) = [p for p in live(c) if p["status"]["phase"] == "Pending"]
    finish(c, second, "Failed")
    c.advance(1)
    c.settle()
    # The second failure in a row: 20 s.
    c.advance(18)
    c.settle()
    assert [p for p in live(c) if p["status"]["phase"] == "Pending"] == []
    c.advance(2)
    c.settle()
    (third,) = [p for p in live(c) if p["status"]["phase"] == "Pending"]
    finish(c, third, "Failed")
    settle(c)
    found = status(c)
    assert found["failed"] == 3
    assert conditions(c) == [
        ("FailureTarget", "True", "BackoffLimitExceeded"),
        ("Failed", "True", "BackoffLimitExceeded"),
    ]
    assert found["conditions"][1]["message"] == "Job has reached the specified backoff limit"
    assert "completionTime" not in found


def test_active_deadline_ends_the_job_and_its_running_pods() -> None:
    c = start(run_pods=True, parallelism=2, completions=4, activeDeadlineSeconds=30)
    assert status(c)["ready"] == 2
    started = c.entropy.now_seconds() - 3  # start() let three seconds pass
    c.advance(started + 29 - c.entropy.now_seconds())
    c.settle()
    assert conditions(c) == []
    c.advance(2)
    settle(c, pods=True)
    found = status(c)
    assert conditions(c) == [
        ("FailureTarget", "True", "DeadlineExceeded"),
        ("Failed", "True", "DeadlineExceeded"),
    ]
    assert found["failed"] == 2
    assert live(c) == []
    assert c.items(PODS) == []


def test_indexed_pods_carry_their_index_and_completed_indexes_are_intervals() -> None:
    c = start(completions=4, parallelism=4, completionMode="Indexed")
    pods = live(c)
    by_index = {
        p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]: p for p in pods
    }
    assert sorted(by_index) == ["0", "1", "2", "3"]
    two = by_index["2"]
    assert two["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] == "2"
    assert two["metadata"]["name"].startswith("pi-2-")
    assert two["spec"]["hostname"] == "pi-2"
    (env,) = two["spec"]["containers"][0]["env"]
    assert env["name"] == "JOB_COMPLETION_INDEX"
    assert env["valueFrom"]["fieldRef"]["fieldPath"] == (
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    )
    for index in ("0", "2", "3"):
        finish(c, by_index[index], "Succeeded")
    settle(c)
    assert (status(c)["completedIndexes"], status(c)["succeeded"]) == ("0,2-3", 3)
    finish(c, by_index["1"], "Failed")
    settle(c)
    c.advance(10)
    settle(c)
    (retry,) = [p for p in live(c) if p["status"]["phase"] == "Pending"]
    assert retry["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] == "1"
    finish(c, retry, "Succeeded")
    settle(c)
    found = status(c)
    assert (found["completedIndexes"], found["succeeded"], found["failed"]) == ("0-3", 4, 1)
    assert ("Complete", "True", "CompletionsReached") in conditions(c)


def test_a_suspended_job_deletes_its_pods_and_resumes() -> None:
    c = start(parallelism=2, completions=2)
    assert len(live(c)) == 2
    answer = c.api.call("PATCH", f"{JOBS}/pi", {"spec": {"suspend": True}}, content_type=MERGE)
    assert answer.status == 200
    settle(c)
    assert live(c) == []
    assert ("Suspended", "True", "JobSuspended") in conditions(c)
    answer = c.api.call("PATCH", f"{JOBS}/pi", {"spec": {"suspend": False}}, content_type=MERGE)
    settle(c)
    assert len(live(c)) == 2
    assert ("Suspended", "False", "JobResumed") in conditions(c)
