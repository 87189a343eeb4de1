"""The plugin timing of ``serve scheduler`` (runner/scheduler/timing.py): wrapping every plugin
changes no decision, and a sampled cycle reports each plugin call with kube-scheduler's
extension point and status names."""

from __future__ import annotations

from impl.scheduler.machine import SchedulerConfig
from impl.scheduler.profile import default_profile
from impl.scheduler.run import run_pods
from runner.scheduler.timing import PluginTimer, timed_config
from tests.scheduler.helpers import cluster, node, pod


def test_timed_plugins_decide_the_same_and_report_each_call() -> None:
    profile = default_profile()
    config = SchedulerConfig({profile.scheduler_name: profile})
    nodes = [node("small", cpu="1"), node("big", cpu="4")]
    pods = [pod(f"p{i}", cpu="600m") for i in range(8)]
    calls: list[tuple[str, str, str]] = []
    timer = PluginTimer(
        lambda plugin, point, status, seconds: calls.append((plugin, point, status))
    )
    timer.sampling = True
    plain, _ = run_pods(config, cluster(nodes), pods)
    timed, _ = run_pods(timed_config(config, timer), cluster(nodes), pods)
    assert timed == plain
    # 7 pods fit (1 on small, 6 on big: 600m each), the eighth fits nowhere.
    assert sum(1 for a in plain if a.node) == 7
    assert next(a.message for a in plain if not a.node).startswith(
        "0/2 nodes are available: 2 Insufficient cpu."
    )
    points = {(plugin, point) for plugin, point, _ in calls}
    for expected in (
        ("NodeResourcesFit", "PreFilter"),
        ("NodeResourcesFit", "Filter"),
        ("TaintToleration", "Filter"),
        ("NodeResourcesBalancedAllocation", "Score"),
    ):
        assert expected in points, expected
    assert ("NodeResourcesFit", "Filter", "Unschedulable") in calls
    assert ("NodeResourcesFit", "Filter", "Success") in calls


def test_unsampled_cycles_report_nothing() -> None:
    profile = default_profile()
    config = SchedulerConfig({profile.scheduler_name: profile})
    calls: list[str] = []
    timer = PluginTimer(lambda plugin, point, status, seconds: calls.append(plugin))
    attempts, _ = run_pods(timed_config(config, timer), cluster([node("n")]), [pod("p")])
    assert [a.node for a in attempts] == ["n"]
    assert calls == []
