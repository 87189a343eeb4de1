"""The pod lifecycle: phase, conditions, containerStatuses, init containers, sidecars,
restartPolicy and the crash-loop backoff, as the Pod API reference documents them."""

from __future__ import annotations

from typing import Any

from models.kubelet.config import BACKOFF_NOT_RESET, KubeletConfig
from models.kubelet.events import StartContainer, StopContainer
from tests.kubelet.harness import Harness, make_pod

APP = "sim.kubeoracle.io/app."


def _conditions(harness: Harness, uid: str) -> dict[str, str]:
    return {c.type or "": c.status or "" for c in harness.status(uid).conditions or ()}


def _restarts_at(
    spec: dict[str, Any], script: dict[str, str], seconds: int, config: KubeletConfig | None = None
) -> list[int]:
    harness = Harness(config, strict=config is None or not config.mutant)
    start = harness.now_ms
    harness.add(make_pod("p", spec, script))
    times = [0] * len(harness.of_type(StartContainer))
    for _ in range(seconds):
        harness.run(1)
        count = len(harness.of_type(StartContainer))
        times += [(harness.now_ms - start) // 1000] * (count - len(times))
    return times


ONE = {"containers": [{"name": "app", "image": "busybox"}]}


def test_running_pod_reports_every_documented_field() -> None:
    harness = Harness()
    harness.add(make_pod("web", ONE))
    status = harness.status("uid-web")
    assert status.phase == "Running"
    assert _conditions(harness, "uid-web") == {
        "PodReadyToStartContainers": "True",
        "Initialized": "True",
        "Ready": "True",
        "ContainersReady": "True",
    }
    app = harness.container("uid-web", "app")
    assert app.state is not None
    assert app.state.running is not None
    assert app.state.running.started_at == "2027-01-15T08:00:00Z"
    assert app.ready is True
    assert app.started is True
    assert app.restart_count == 0
    assert app.image == "busybox"
    assert status.host_ip == "127.0.0.1"
    assert status.pod_ip
    assert status.start_time
    assert status.qos_class == "BestEffort"


def test_crash_loop_backoff_doubles_from_ten_seconds_to_five_minutes() -> None:
    # the first restart is at once, then 10, 20, 40, 80, 160, 300, 300 s after each exit
    times = _restarts_at(ONE, {APP + "exit-code": "1"}, 950)
    assert times == [0, 0, 10, 30, 70, 150, 310, 610, 910]


def test_crash_loop_status_is_waiting_with_the_last_termination() -> None:
    harness = Harness()
    harness.add(make_pod("p", ONE, {APP + "exit-code": "2"}))
    harness.run(5)
    app = harness.container("uid-p", "app")
    assert app.state is not None
    assert app.state.waiting is not None
    assert app.state.waiting.reason == "CrashLoopBackOff"
    assert app.state.waiting.message == (
        "back-off 10s restarting failed container=app pod=p_default(uid-p)"
    )
    assert app.last_state is not None
    assert app.last_state.terminated is not None
    assert app.last_state.terminated.exit_code == 2
    assert app.last_state.terminated.reason == "Error"
    assert app.restart_count == 1
    assert harness.status("uid-p").phase == "Running"
    assert _conditions(harness, "uid-p")["Ready"] == "False"


def test_backoff_resets_after_ten_minutes_of_running() -> None:
    # runs 700 s (> 2 x 300 s since the last backoff update): the next restart is at once
    script = {APP + "exit-code": "1", APP + "run-seconds": "700"}
    assert _restarts_at(ONE, script, 1500) == [0, 700, 1400]


def test_backoff_not_reset_mutant_keeps_backing_off() -> None:
    script = {APP + "exit-code": "1", APP + "run-seconds": "700"}
    mutant = KubeletConfig(node_name="node-0", mutant=BACKOFF_NOT_RESET)
    assert _restarts_at(ONE, script, 1500, mutant) == [0, 700, 1410]
    harness = Harness(mutant, strict=False)
    harness.add(make_pod("p", ONE, script))
    harness.run(1405)
    assert {v.property_name for v in harness.violations} == {"kubelet.backoff_expires"}


def test_restart_policy_never_and_on_failure() -> None:
    never_ok = Harness()
    never_ok.add(
        make_pod(
            "a",
            {**ONE, "restartPolicy": "Never"},
            {APP + "exit-code": "0", APP + "run-seconds": "3"},
        )
    )
    never_ok.run(5)
    assert never_ok.status("uid-a").phase == "Succeeded"
    done = never_ok.container("uid-a", "app")
    assert done.state is not None
    assert done.state.terminated is not None
    assert done.state.terminated.reason == "Completed"
    assert _conditions(never_ok, "uid-a")["Ready"] == "False"

    never_bad = Harness()
    never_bad.add(make_pod("b", {**ONE, "restartPolicy": "Never"}, {APP + "exit-code": "3"}))
    never_bad.run(30)
    assert never_bad.status("uid-b").phase == "Failed"
    assert len(never_bad.of_type(StartContainer)) == 1

    on_failure = Harness()
    on_failure.add(
        make_pod(
            "c",
            {**ONE, "restartPolicy": "OnFailure"},
            {APP + "exit-code": "0", APP + "run-seconds": "2"},
        )
    )
    on_failure.run(30)
    assert on_failure.status("uid-c").phase == "Succeeded"
    assert len(on_failure.of_type(StartContainer)) == 1
    assert _restarts_at({**ONE, "restartPolicy": "OnFailure"}, {APP + "exit-code": "1"}, 40) == [
        0,
        0,
        10,
        30,
    ]


def test_init_containers_run_in_order_before_the_main_containers() -> None:
    spec = {
        "initContainers": [{"name": "first", "image": "x"}, {"name": "second", "image": "x"}],
        "containers": [{"name": "app", "image": "x"}],
    }
    script = {
        "sim.kubeoracle.io/first.exit-code": "0",
        "sim.kubeoracle.io/first.run-seconds": "5",
        "sim.kubeoracle.io/second.exit-code": "0",
        "sim.kubeoracle.io/second.run-seconds": "3",
    }
    harness = Harness()
    harness.add(make_pod("p", spec, script))
    assert harness.status("uid-p").phase == "Pending"
    assert {c.type: c.message for c in harness.status("uid-p").conditions or ()}["Initialized"] == (
        "containers with incomplete status: [first second]"
    )
    app = harness.container("uid-p", "app")
    assert app.state is not None
    assert app.state.waiting is not None
    assert app.state.waiting.reason == "PodInitializing"
    harness.run(10)
    started = [(c.container.name, c.attempt) for c in harness.of_type(StartContainer)]
    assert started == [("first", 1), ("second", 1), ("app", 1)]
    assert harness.status("uid-p").phase == "Running"
    assert _conditions(harness, "uid-p")["Initialized"] == "True"


def test_failed_init_container_fails_a_never_pod_and_restarts_otherwise() -> None:
    spec = {
        "initContainers": [{"name": "init", "image": "x"}],
        "containers": [{"name": "app", "image": "x"}],
    }
    script = {"sim.kubeoracle.io/init.exit-code": "1"}
    never = Harness()
    never.add(make_pod("p", {**spec, "restartPolicy": "Never"}, script))
    never.run(20)
    assert never.status("uid-p").phase == "Failed"
    assert [c.container.name for c in never.of_type(StartContainer)] == ["init"]
    always = Harness()
    always.add(make_pod("p", spec, script))
    always.run(20)
    assert always.status("uid-p").phase == "Pending"
    names = [c.container.name for c in always.of_type(StartContainer)]
    assert names == ["init", "init", "init"]
    assert "app" not in names


def test_sidecar_starts_before_main_and_stops_after_it_completes() -> None:
    spec = {
        "restartPolicy": "Never",
        "initContainers": [{"name": "proxy", "image": "x", "restartPolicy": "Always"}],
        "containers": [{"name": "app", "image": "x"}],
    }
    harness = Harness()
    harness.add(make_pod("p", spec, {APP + "exit-code": "0", APP + "run-seconds": "4"}))
    assert [c.container.name for c in harness.of_type(StartContainer)] == ["proxy", "app"]
    proxy = harness.container("uid-p", "proxy")
    assert proxy.state is not None
    assert proxy.state.running is not None
    harness.run(6)
    assert harness.status("uid-p").phase == "Succeeded"
    stops = [(s.container, s.signal) for s in harness.of_type(StopContainer)]
    assert stops == [("proxy", "SIGTERM")]


def test_crashed_sidecar_restarts_even_under_never() -> None:
    spec = {
        "restartPolicy": "Never",
        "initContainers": [{"name": "proxy", "image": "x", "restartPolicy": "Always"}],
        "containers": [{"name": "app", "image": "x"}],
    }
    harness = Harness()
    harness.add(
        make_pod(
            "p",
            spec,
            {"sim.kubeoracle.io/proxy.exit-code": "1", "sim.kubeoracle.io/proxy.run-seconds": "3"},
        )
    )
    harness.run(20)
    names = [c.container.name for c in harness.of_type(StartContainer)]
    assert names.count("proxy") >= 3
    assert names.count("app") == 1
    assert harness.status("uid-p").phase == "Running"
