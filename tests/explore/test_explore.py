"""``explore``: the same table from every engine, the reference passing, mutants caught, the
verdict's exit codes and bad options refused with exit 2."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runner.cli.main import main
from runner.cli.worlds import EXPLORABLE
from runner.explore.engine import (
    BATCH_ITEMS_MAX,
    BATCHES_PER_WORKER,
    DaskEngine,
    Engine,
    Failed,
    InProcessEngine,
    LocalEngine,
    batch_bounds,
)
from runner.explore.exploration import (
    Exploration,
    build_report,
    explore,
    seed_ranges,
    shrink_groups,
)
from runner.explore.simulation import RunChoices, SeedTask, simulate_seed
from runner.sim.seeds import SeedRange

MUTANTS = ("none", "skip_up_to_date_check", "vote_twice")
SHRINK_BUDGET = 40


def exploration(seeds: SeedRange, mutants: tuple[str, ...] = MUTANTS) -> Exploration:
    choices = RunChoices(safety_steps=300, liveness_steps=10000, faults=None, code_version="t")
    return Exploration("raft", EXPLORABLE["raft"], mutants, seeds, choices)


def table(report: dict[str, Any]) -> dict[str, Any]:
    """The report without its engine and timing."""
    return {key: value for key, value in report.items() if key != "run"}


def target(report: dict[str, Any], mutant: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        entry for entry in report["targets"] if entry["mutant"] == mutant
    ]
    assert len(found) == 1
    return found[0]


@pytest.mark.slow
def test_every_engine_and_worker_count_gives_the_same_table() -> None:
    chosen = exploration(SeedRange(1, 4))
    engines: list[Engine] = [InProcessEngine(), LocalEngine(2), DaskEngine(2)]
    reports = []
    try:
        for engine in engines:
            report = explore(chosen, engine)
            shrink_groups(chosen, engine, report, SHRINK_BUDGET)
            reports.append(report)
    finally:
        for engine in engines:
            engine.close()
    first = table(reports[0])
    assert all(table(report) == first for report in reports[1:])
    assert [report["run"]["engine"] for report in reports] == ["in-process", "local", "dask"]
    # The reference is correct Raft: no seed may break an invariant or miss liveness.
    reference = target(first, "none")
    assert (reference["runs"], reference["caught"], reference["lost"]) == (4, 0, [])
    # Granting a second vote in the same term breaks Election Safety's one vote per term
    # (Raft paper, figure 3); ignoring the candidate's log in a vote breaks Leader
    # Completeness (section 5.4.1). Seeds 1..4 of 300 steps catch both.
    twice = target(first, "vote_twice")
    assert twice["caught"] >= 1
    assert {group["group"] for group in twice["groups"]} == {"violation: one_vote_per_term"}
    up_to_date = target(first, "skip_up_to_date_check")
    assert up_to_date["caught"] >= 1
    assert sum(group["runs"] for group in up_to_date["groups"]) == up_to_date["caught"]
    assert first["verdict"] == "pass"
    # Every group was shrunk (on every engine alike), never to more steps than it had.
    for entry in (twice, up_to_date):
        for group in entry["groups"]:
            assert 1 <= group["shrunk"]["steps"] <= group["shortest_steps"]


def test_the_reference_failing_is_a_violation_and_a_lost_run_inconclusive() -> None:
    chosen = exploration(SeedRange(1, 1), ("none",))
    tasks = chosen.tasks()
    from runner.explore.engine import Done
    from runner.explore.simulation import SeedOutcome

    broken = SeedOutcome("none", 1, "violation", 7, "one_vote_per_term", "two votes")
    assert build_report(chosen, tasks, [Done(broken)])["verdict"] == "violation"
    lost = build_report(chosen, tasks, [Failed("its worker was lost 3 times")])
    assert (lost["verdict"], target(lost, "none")["lost"][0]["seed"]) == ("inconclusive", 1)
    assert build_report(chosen, tasks, [Done(SeedOutcome("none", 1, "pass", 9))])["verdict"] == (
        "pass"
    )


def test_a_mutant_no_seed_catches_is_inconclusive() -> None:
    chosen = exploration(SeedRange(1, 1), ("vote_twice",))
    tasks: list[SeedTask] = chosen.tasks()
    from runner.explore.engine import Done
    from runner.explore.simulation import SeedOutcome

    report = build_report(chosen, tasks, [Done(SeedOutcome("vote_twice", 1, "pass", 9))])
    assert (report["verdict"], report["reasons"]) == (
        "inconclusive",
        ["vote_twice: no seed caught it"],
    )


def test_seed_ranges_are_written_compactly() -> None:
    assert seed_ranges([1, 2, 3, 4, 6, 8, 9]) == "1-4, 6, 8-9"
    assert seed_ranges([]) == ""


def test_cli_report_and_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["explore", "raft", "--seeds", "1..2", "--mutant", "none,vote_twice"]
    code = main([*args, "--steps", "100", "--workers", "1", "-o", "json"])
    report = json.loads(capsys.readouterr().out)
    assert [entry["mutant"] for entry in report["targets"]] == ["none", "vote_twice"]
    assert target(report, "none")["caught"] == 0
    assert code == {"pass": 0, "inconclusive": 3}[report["verdict"]]
    assert report["run"]["engine"] == "in-process"


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["etcd-nope"], "WORLD"),
        (["raft", "--seeds", "5..1"], "--seeds"),
        (["raft", "--seeds", "0"], "--seeds"),
        (["raft", "--mutant", "bogus"], "--mutant"),
        (["raft", "--faults", "crash,bogus"], "--faults"),
        (["raft", "--scheduler", "tcp://127.0.0.1:1"], "--scheduler"),
        (["raft", "--engine", "dask", "--workers", "2", "--scheduler", "x"], "--workers"),
    ],
)
def test_bad_options_exit_2_naming_the_option(
    options: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explore", *options]) == 2
    assert named in capsys.readouterr().err


def test_another_world_explores_with_the_same_engine(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["explore", "apiserver", "--seeds", "1..2", "--mutant", "none,stale-list"]
    code = main(
        [*args, "--steps", "150", "--liveness-steps", "150", "--workers", "1", "-o", "json"]
    )
    report = json.loads(capsys.readouterr().out)
    assert target(report, "none")["caught"] == 0
    # A list served a few revisions in the past is not the consistent list Kubernetes
    # promises for a list without resourceVersion ("API concepts", resource versions).
    stale = target(report, "stale-list")
    assert stale["caught"] >= 1
    assert {group["group"] for group in stale["groups"]} <= {
        "violation: list_consistent",
        "violation: linearizable",
    }
    assert code == {"pass": 0, "inconclusive": 3}[report["verdict"]]


@pytest.mark.parametrize("mutant", ["none", "vote_twice", "skip_consistency_check"])
def test_a_run_without_recording_ends_exactly_as_the_recorded_run(mutant: str) -> None:
    """explore runs seeds without fingerprints or trace lines; the result (status, steps,
    property, message) must be the recorded run's, since a catching seed is re-run with
    ``simulate --seed`` and shrunk from its recording."""
    for seed in (1, 3, 8):
        task = SeedTask(EXPLORABLE["raft"], mutant, seed, exploration(SeedRange(1, 1)).choices)
        recorded = simulate_seed(task)
        bare = simulate_seed(task, record=False)
        assert bare.result == recorded.result
        assert bare.trace.lines == []
        last = json.loads(recorded.trace.lines[-1])
        assert (last["record"], last["steps"]) == ("result", bare.result.steps)


def test_the_dask_batches_cover_every_item_once() -> None:
    for count, workers in [(1, 2), (7, 2), (48, 2), (16_000, 2), (100, 64)]:
        bounds = batch_bounds(count, workers)
        covered = [index for start, end in bounds for index in range(start, end)]
        assert covered == list(range(count))
        assert max(end - start for start, end in bounds) <= BATCH_ITEMS_MAX
        assert len(bounds) >= min(count, workers * BATCHES_PER_WORKER)
