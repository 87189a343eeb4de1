"""``simulate scheduler`` (runner/scheduler/world.py, spec/scheduler/live.py): two schedulers
racing on one API server. The reference passes every property on every seed tried, and the
races the spec says the real scheduler allows do happen (a stale binding overcommits a node at
the API server; a kubelet refuses a pod); a scheduler that skips the fit filter is caught; a
run replays bit for bit."""

from __future__ import annotations

from pathlib import Path

from runner.cli.main import main
from runner.scheduler.world import SCHEDULER_WORLD, SchedulerSetup
from runner.sim.simulate import RunOptions, SimulationResult, simulate


def run(seed: int, mutant: str = "") -> SimulationResult[SchedulerSetup]:
    options = RunOptions(seed=seed, safety_steps=300, liveness_steps=2000)
    return simulate(
        SCHEDULER_WORLD, options, lambda _p, _s: SchedulerSetup(seed=seed, mutant=mutant)
    )


def test_the_reference_holds_and_the_allowed_races_happen() -> None:
    results = [run(seed) for seed in range(1, 9)]
    assert [r.result.status for r in results] == ["pass"] * 8
    reached = {name for r in results for name, step in r.coverage.items() if step is not None}
    assert {
        "scheduler.live.stale_bind_overcommits",
        "kubelet.rejects_a_pod",
        "scheduler.live.bind_on_a_filtered_snapshot",
    } <= reached
    # Every pod is settled: bound (by its own scheduler) or refused by a kubelet.
    for r in results:
        refused = r.statistics.get("refused_by_kubelet", 0)
        assert r.statistics["bound"] == 16 or (isinstance(refused, int) and refused > 0)


def test_a_scheduler_without_the_fit_filter_is_caught() -> None:
    outcomes = [run(seed, "sched-b-skips-fit").result for seed in range(1, 11)]
    caught = [o for o in outcomes if o.status != "pass"]
    assert caught
    assert {o.property for o in caught} == {"scheduler.live.bind_fits_its_snapshot"}
    assert all(o.message.startswith("sched-b bound ") for o in caught)


def test_a_run_replays(tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"
    assert main(["simulate", "scheduler", "--seed", "3", "--trace", str(trace)]) == 0
    assert main(["replay", str(trace)]) == 0
