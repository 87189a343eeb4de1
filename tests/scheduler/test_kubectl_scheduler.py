"""kubectl v1.32 against ``serve apiserver`` plus ``serve scheduler`` (issue 21). Expected
outcomes come from kube-scheduler's documented behaviour: a pending pod naming a profile of a
running scheduler is bound through ``pods/binding`` and gets a ``Scheduled`` event
"Successfully assigned NS/NAME to NODE" from that profile; a pod that fits nowhere gets
``FailedScheduling`` with the fit error (the same text ``kubeoracle schedule`` explains) and
PodScheduled=False reason Unschedulable; it is retried when a node is added; each pod is
handled only by the scheduler its ``schedulerName`` names."""

from __future__ import annotations

import json
import re
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.apiserver.kubectl import Served, kubectl, require_kubectl, serve
from tests.controllers.manager_process import Manager, served_component

pytestmark = [
    pytest.mark.kubectl,
]


@pytest.fixture(autouse=True)
def _kubectl_installed() -> None:
    require_kubectl()


TIMEOUT_SECONDS = 30.0
CONFIG = """\
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: default-scheduler
- schedulerName: packing-scheduler
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
"""
OTHER_CONFIG = """\
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
leaderElection:
  resourceName: other-scheduler
profiles:
- schedulerName: other-scheduler
"""


def node(name: str, cpu: str) -> dict[str, Any]:
    resources = {"cpu": cpu, "memory": "4Gi", "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {"allocatable": resources, "capacity": resources},
    }


def pod(name: str, cpu: str = "100m", scheduler: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [{"name": "main", "image": "nginx", "resources": {"requests": {"cpu": cpu}}}]
    }
    if scheduler:
        spec["schedulerName"] = scheduler
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def ok(served: Served, *args: str, stdin: str | None = None) -> str:
    done = kubectl(served, *args, stdin=stdin)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def create(served: Served, *objects: dict[str, Any]) -> None:
    ok(served, "create", "-f", "-", stdin=yaml.safe_dump_all(objects))


def get(served: Served, kind: str, name: str, namespace: str = "default") -> dict[str, Any]:
    found: dict[str, Any] = json.loads(ok(served, "get", kind, name, "-n", namespace, "-o", "json"))
    return found


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"never: {what}")


def node_of(served: Served, name: str) -> str:
    return str(get(served, "pod", name)["spec"].get("nodeName") or "")


def events_of(served: Served, name: str) -> list[tuple[str, str, str, str]]:
    """``(type, reason, from, message)`` of each row of ``kubectl describe pod``'s Events."""
    text = ok(served, "describe", "pod", name)
    rows = text.split("Events:", 1)[1].splitlines()[3:]
    found = []
    for row in rows:
        parts = re.split(r"\s{2,}", row.strip(), maxsplit=4)
        if len(parts) == 5:
            found.append((parts[0], parts[1], parts[3], parts[4]))
    return found


def samples(component: Manager) -> list[str]:
    return [line for line in component.metrics().splitlines() if not line.startswith("#")]


def sample(component: Manager, prefix: str) -> float:
    """The value of the one sample line starting with ``prefix`` (0 when absent)."""
    values = [
        float(line.rsplit(" ", 1)[1]) for line in samples(component) if line.startswith(prefix)
    ]
    assert len(values) <= 1, (prefix, values)
    return values[0] if values else 0.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Manager, Manager]]:
    tmp = tmp_path_factory.mktemp("scheduler")
    (tmp / "config.yaml").write_text(CONFIG)
    (tmp / "other.yaml").write_text(OTHER_CONFIG)
    with serve(tmp) as served:
        create(served, node("node-a", "2"), node("node-b", "1"))
        with (
            served_component(
                "scheduler", served.kubeconfig, tmp, "--config", str(tmp / "config.yaml")
            ) as first,
            served_component(
                "scheduler",
                served.kubeconfig,
                tmp,
                "--config",
                str(tmp / "other.yaml"),
            ) as second,
        ):
            first.wait_for_line("leading as")
            second.wait_for_line("leading as")
            yield served, first, second


def test_kubectl_pod_is_bound_with_a_scheduled_event(
    cluster: tuple[Served, Manager, Manager],
) -> None:
    served, first, _ = cluster
    before = sample(
        first, 'scheduler_schedule_attempts_total{profile="default-scheduler",result="scheduled"}'
    )
    assert "pod/web created" in ok(served, "run", "web", "--image=nginx")
    eventually(lambda: node_of(served, "web") != "", "web bound")
    where = node_of(served, "web")
    assert where in ("node-a", "node-b")
    assert events_of(served, "web") == [
        (
            "Normal",
            "Scheduled",
            "default-scheduler",
            f"Successfully assigned default/web to {where}",
        )
    ]
    conditions = get(served, "pod", "web")["status"]["conditions"]
    assert [(c["type"], c["status"]) for c in conditions] == [("PodScheduled", "True")]
    after = sample(
        first, 'scheduler_schedule_attempts_total{profile="default-scheduler",result="scheduled"}'
    )
    assert after == before + 1


def test_unschedulable_pod_gets_the_fit_error_then_a_new_node(
    cluster: tuple[Served, Manager, Manager], tmp_path: Path
) -> None:
    served, first, _ = cluster
    create(served, pod("big", cpu="3"))
    eventually(lambda: bool(events_of(served, "big")), "big has an event")
    ((kind, reason, source, message),) = events_of(served, "big")
    assert (kind, reason, source) == ("Warning", "FailedScheduling", "default-scheduler")
    assert message.startswith("0/2 nodes are available: 2 Insufficient cpu.")
    # The same message kubeoracle schedule explains for this pod on this cluster.
    (tmp_path / "cluster.yaml").write_text(ok(served, "get", "nodes,pods", "-o", "yaml"))
    (tmp_path / "big.yaml").write_text(ok(served, "get", "pod", "big", "-o", "yaml"))
    explained = subprocess.run(
        [
            sys.executable,
            "-m",
            "runner",
            "schedule",
            "--cluster",
            str(tmp_path / "cluster.yaml"),
            "--pod",
            str(tmp_path / "big.yaml"),
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert explained.returncode == 1, explained.stderr
    assert json.loads(explained.stdout)["message"] == message
    (condition,) = get(served, "pod", "big")["status"]["conditions"]
    assert (condition["type"], condition["status"], condition["reason"], condition["message"]) == (
        "PodScheduled",
        "False",
        "Unschedulable",
        message,
    )
    assert sample(first, 'scheduler_pending_pods{queue="unschedulable"}') == 1
    assert (
        sample(
            first,
            'scheduler_unschedulable_pods{plugin="NodeResourcesFit",profile="default-scheduler"}',
        )
        == 1
    )
    # A node that fits moves it back (NodeAdd) and it is bound there. The move goes to the
    # active queue, or to the backoff queue while the pod's backoff has not expired (on a slow
    # machine the NodeAdd can arrive within the first attempt's backoff).
    create(served, node("node-c", "4"))
    eventually(lambda: node_of(served, "big") == "node-c", "big bound to node-c")
    moved = sum(
        sample(first, f'scheduler_queue_incoming_pods_total{{event="NodeAdd",queue="{queue}"}}')
        for queue in ("active", "backoff")
    )
    assert moved >= 1
    assert sample(first, 'scheduler_pending_pods{queue="unschedulable"}') == 0


def test_each_pod_is_handled_only_by_the_scheduler_it_names(
    cluster: tuple[Served, Manager, Manager],
) -> None:
    served, first, second = cluster
    create(
        served,
        pod("packed", scheduler="packing-scheduler"),
        pod("elsewhere", scheduler="other-scheduler"),
        pod("orphan", scheduler="nobody-scheduler"),
    )
    eventually(lambda: node_of(served, "packed") != "", "packed bound")
    eventually(lambda: node_of(served, "elsewhere") != "", "elsewhere bound")
    assert events_of(served, "packed")[0][:3] == ("Normal", "Scheduled", "packing-scheduler")
    assert events_of(served, "elsewhere")[0][:3] == ("Normal", "Scheduled", "other-scheduler")
    time.sleep(1)
    assert node_of(served, "orphan") == ""
    assert events_of(served, "orphan") == []
    # Each instance counted only its own profiles' attempts.
    first_lines = [
        line for line in samples(first) if line.startswith("scheduler_schedule_attempts_total")
    ]
    second_lines = [
        line for line in samples(second) if line.startswith("scheduler_schedule_attempts_total")
    ]
    assert (
        'scheduler_schedule_attempts_total{profile="packing-scheduler",result="scheduled"} 1.0'
        in first_lines
    )
    assert not any("other-scheduler" in line for line in first_lines)
    assert second_lines == [
        'scheduler_schedule_attempts_total{profile="other-scheduler",result="scheduled"} 1.0'
    ]


def test_leases_have_kube_scheduler_defaults(cluster: tuple[Served, Manager, Manager]) -> None:
    served, first, _ = cluster
    lease = get(served, "lease", "kube-scheduler", namespace="kube-system")["spec"]
    assert lease["leaseDurationSeconds"] == 15
    assert lease["holderIdentity"].split("_")[0]
    other = get(served, "lease", "other-scheduler", namespace="kube-system")["spec"]
    assert other["holderIdentity"] != lease["holderIdentity"]
    assert 'leader_election_master_status{name="kube-scheduler"} 1.0' in samples(first)
    # /healthz over HTTPS with the self-signed certificate made in --cert-dir.
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    with urllib.request.urlopen(f"{first.secure_url}/healthz", context=insecure) as answer:
        assert answer.read() == b"ok"


MOVING = (
    'scheduler_schedule_attempts_total{profile="default-scheduler",result="scheduled"}',
    'scheduler_scheduling_attempt_duration_seconds_count{profile="default-scheduler",'
    'result="scheduled"}',
    "scheduler_scheduling_algorithm_duration_seconds_count",
    "scheduler_pod_scheduling_attempts_count",
    'scheduler_pod_scheduling_sli_duration_seconds_count{attempts="1"}',
    'scheduler_queue_incoming_pods_total{event="PodAdd",queue="active"}',
    'scheduler_framework_extension_point_duration_seconds_count{extension_point="Bind",'
    'profile="default-scheduler",status="Success"}',
    'scheduler_scheduler_cache_size{type="pods"}',
)
DECLARED = (
    "scheduler_pending_pods",
    "scheduler_plugin_execution_duration_seconds",
    "scheduler_event_handling_duration_seconds",
    "scheduler_preemption_attempts_total",
    "scheduler_preemption_victims",
    "rest_client_requests_total",
    "rest_client_request_duration_seconds",
    "process_cpu_seconds_total",
)


def test_metrics_move_as_pods_are_scheduled(cluster: tuple[Served, Manager, Manager]) -> None:
    served, first, _ = cluster
    before = {name: sample(first, name) for name in MOVING}
    posts = 'rest_client_requests_total{code="201",host='
    posted = sum(float(line.rsplit(" ", 1)[1]) for line in samples(first) if line.startswith(posts))
    create(served, *(pod(f"counted-{i}", cpu="10m") for i in range(5)))
    eventually(
        lambda: all(node_of(served, f"counted-{i}") for i in range(5)), "the five pods bound"
    )
    eventually(lambda: sample(first, MOVING[0]) == before[MOVING[0]] + 5, "five attempts counted")
    after = {name: sample(first, name) for name in MOVING}
    assert {name: after[name] - before[name] for name in MOVING} == dict.fromkeys(MOVING, 5.0)
    # Five bindings and five Scheduled events at least were posted (201 Created).
    now = sum(float(line.rsplit(" ", 1)[1]) for line in samples(first) if line.startswith(posts))
    assert now - posted >= 10
    text = first.metrics()
    for family in DECLARED:
        assert f"# TYPE {family} " in text, family
    assert 'scheduler_pending_pods{queue="active"} 0.0' in text
    assert "_created" not in text


def test_preemption_nominates_and_evicts_through_the_api(
    cluster: tuple[Served, Manager, Manager],
) -> None:
    """A pod of higher priority that fits nowhere preempts a lower-priority pod: it gets
    status.nominatedNodeName, the victim gets DisruptionTarget (PreemptionByScheduler), a
    delete and a Preempted event; once the victim is gone the preemptor is bound there."""
    served, first, _ = cluster
    create(served, node("node-small", "1"))
    victim = pod("victim", cpu="900m")
    victim["spec"]["nodeSelector"] = {"kubernetes.io/hostname": "node-small"}
    victim["spec"]["priority"] = 10
    create(served, victim)
    eventually(lambda: node_of(served, "victim") == "node-small", "victim bound")
    preemptor = pod("preemptor", cpu="900m")
    preemptor["spec"]["nodeSelector"] = {"kubernetes.io/hostname": "node-small"}
    preemptor["spec"]["priority"] = 1000
    create(served, preemptor)

    def nominated() -> str:
        return str(get(served, "pod", "preemptor")["status"].get("nominatedNodeName") or "")

    eventually(lambda: nominated() == "node-small", "preemptor nominated")
    eventually(
        lambda: get(served, "pod", "victim")["metadata"].get("deletionTimestamp") is not None,
        "victim deleted",
    )
    conditions = get(served, "pod", "victim")["status"]["conditions"]
    (target,) = [c for c in conditions if c["type"] == "DisruptionTarget"]
    assert (target["status"], target["reason"]) == ("True", "PreemptionByScheduler")
    uid = get(served, "pod", "preemptor")["metadata"]["uid"]
    assert (
        "Normal",
        "Preempted",
        "default-scheduler",
        f"Preempted by pod {uid} on node node-small",
    ) in events_of(served, "victim")
    assert sample(first, "scheduler_preemption_attempts_total") >= 1
    # No kubelet here: finish the victim's graceful deletion as its kubelet would.
    ok(served, "delete", "pod", "victim", "--force", "--grace-period=0")
    eventually(lambda: node_of(served, "preemptor") == "node-small", "preemptor bound")
