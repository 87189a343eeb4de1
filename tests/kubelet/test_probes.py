"""Startup, liveness and readiness probes: timing, thresholds and their effect."""

from __future__ import annotations

from typing import Any

from models.kubelet.config import PROBE_THRESHOLD_OFF_BY_ONE, KubeletConfig
from models.kubelet.events import RunProbe, StartContainer, StopContainer
from tests.kubelet.harness import Harness, make_pod

APP = "sim.kubeoracle.io/app."


def _probe_pod(probe_field: str, probe: dict[str, Any], script: dict[str, str]) -> Any:
    container = {"name": "app", "image": "x", probe_field: {"exec": {"command": ["true"]}, **probe}}
    return make_pod("p", {"containers": [container]}, script)


def test_readiness_gates_ready_and_honours_initial_delay_and_period() -> None:
    harness = Harness()
    start = harness.now_ms
    pod = _probe_pod(
        "readinessProbe",
        {"initialDelaySeconds": 5, "periodSeconds": 4},
        {APP + "readiness-fail-until": "12"},
    )
    harness.add(pod)
    ready_at = None
    probe_times = []
    for _ in range(20):
        before = len(harness.of_type(RunProbe))
        harness.run(1)
        if len(harness.of_type(RunProbe)) > before:
            probe_times.append((harness.now_ms - start) // 1000)
        if ready_at is None and harness.container("uid-p", "app").ready:
            ready_at = (harness.now_ms - start) // 1000
    # first probe after initialDelaySeconds, then every periodSeconds; fails before 12 s
    assert probe_times == [5, 9, 13, 17]
    assert ready_at == 13
    assert harness.status("uid-p").phase == "Running"


def test_readiness_success_threshold_needs_consecutive_successes() -> None:
    harness = Harness()
    start = harness.now_ms
    harness.add(_probe_pod("readinessProbe", {"periodSeconds": 1, "successThreshold": 3}, {}))
    ready = []
    for _ in range(5):
        harness.run(1)
        ready.append(
            (harness.now_ms - start) // 1000 if harness.container("uid-p", "app").ready else None
        )
    # probes at 0, 1, 2 succeed: the third makes it ready
    assert ready == [None, 2, 3, 4, 5]


def _liveness_kill_second(config: KubeletConfig | None = None) -> int:
    harness = Harness(config, strict=config is None)
    start = harness.now_ms
    pod = _probe_pod(
        "livenessProbe",
        {"periodSeconds": 10, "failureThreshold": 3},
        {APP + "liveness-fail-after": "25"},
    )
    harness.add(pod)
    for _ in range(120):
        harness.run(1)
        if harness.of_type(StopContainer):
            return (harness.now_ms - start) // 1000
    raise AssertionError("never killed")


def test_liveness_failure_threshold_kills_and_restarts() -> None:
    # probes at 0, 10, 20 succeed; 30, 40, 50 fail: the third failure kills the container
    assert _liveness_kill_second() == 50
    harness = Harness()
    harness.add(
        _probe_pod("livenessProbe", {"periodSeconds": 10}, {APP + "liveness-fail-after": "25"})
    )
    harness.run(51)
    assert [s.signal for s in harness.of_type(StopContainer)] == ["SIGTERM"]
    assert len(harness.of_type(StartContainer)) == 2
    app = harness.container("uid-p", "app")
    assert app.restart_count == 1
    assert app.last_state is not None
    assert app.last_state.terminated is not None
    assert app.last_state.terminated.exit_code == 143


def test_probe_threshold_off_by_one_mutant_kills_a_period_late() -> None:
    mutant = KubeletConfig(node_name="node-0", mutant=PROBE_THRESHOLD_OFF_BY_ONE)
    assert _liveness_kill_second(mutant) == 60
    harness = Harness(mutant, strict=False)
    harness.add(
        _probe_pod("livenessProbe", {"periodSeconds": 10}, {APP + "liveness-fail-after": "25"})
    )
    harness.run(55)
    assert {v.property_name for v in harness.violations} == {"kubelet.probe_thresholds"}


def test_startup_probe_holds_liveness_and_readiness() -> None:
    container = {
        "name": "app",
        "image": "x",
        "startupProbe": {"exec": {"command": ["true"]}, "periodSeconds": 2, "failureThreshold": 30},
        "livenessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 1},
        "readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 1},
    }
    harness = Harness()
    harness.add(make_pod("p", {"containers": [container]}, {APP + "startup-fail-until": "7"}))
    harness.run(7)
    kinds = {p.probe for p in harness.of_type(RunProbe)}
    assert kinds == {"startup"}
    app = harness.container("uid-p", "app")
    assert app.started is False
    assert app.ready is False
    harness.run(3)
    app = harness.container("uid-p", "app")
    assert app.started is True
    assert app.ready is True
    assert {p.probe for p in harness.of_type(RunProbe)} == {"startup", "liveness", "readiness"}


def test_startup_failure_restarts_the_container() -> None:
    container = {
        "name": "app",
        "image": "x",
        "startupProbe": {"exec": {"command": ["true"]}, "periodSeconds": 1, "failureThreshold": 3},
    }
    harness = Harness()
    harness.add(make_pod("p", {"containers": [container]}, {APP + "startup-fail-until": "1000"}))
    harness.run(3)
    # probes at 0, 1, 2 fail: killed at the third
    assert [s.signal for s in harness.of_type(StopContainer)] == ["SIGTERM"]
    assert len(harness.of_type(StartContainer)) == 2
