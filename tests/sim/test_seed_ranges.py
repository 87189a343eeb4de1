"""Seed ranges and the distribution of the first catching seed (``--seeds FIRST..LAST``)."""

from __future__ import annotations

import json

import pytest

from runner.cli.main import main
from runner.exit_codes import ExitCode
from runner.raft.simulator import SimulationOptions, simulate
from runner.sim.seeds import CatchDistribution, SeedRange, parse_seed_range


def test_the_seeds_needed_from_each_start_are_counted_to_the_next_catch() -> None:
    """Seeds 1..10, caught by 3, 4 and 9: from 1 three seeds are needed (1, 2, 3), from 5 five
    (5..9), from 10 no catch is left in the range."""
    report = CatchDistribution(SeedRange(1, 10), (3, 4, 9)).report()
    assert CatchDistribution(SeedRange(1, 10), (3, 4, 9)).needed() == [3, 2, 1, 1, 5, 4, 3, 2, 1]
    assert report["caught"] == 3
    assert report["catch_rate"] == 0.3
    assert report["first_catching_seed"] == 3
    assert report["starts_without_catch"] == 1
    # sorted: 1 1 1 2 2 3 3 4 5 (nearest rank: median the 5th, p90 the 9th)
    assert report["seeds_needed"] == {"median": 2, "p90": 5, "p99": 5, "max": 5}


def test_a_range_with_no_catch_has_no_distribution() -> None:
    report = CatchDistribution(SeedRange(4, 6), ()).report()
    assert report["first_catching_seed"] is None
    assert "seeds_needed" not in report
    assert report["starts_without_catch"] == 3


@pytest.mark.parametrize(("text", "reason"), [("5..2", "is empty"), ("1-5", "FIRST..LAST")])
def test_a_bad_range_is_refused(text: str, reason: str) -> None:
    parsed = parse_seed_range(text)
    assert isinstance(parsed, str)
    assert reason in parsed


def test_the_cli_reports_which_seeds_of_a_range_catch_a_mutant(
    capsys: pytest.CaptureFixture[str],
) -> None:
    arguments = ["simulate", "raft", "--mutant", "vote_twice", "--steps", "600"]
    assert main([*arguments, "--seeds", "1..5", "-o", "json"]) == ExitCode.VIOLATION
    report = json.loads(capsys.readouterr().out)
    expected = [
        seed
        for seed in range(1, 6)
        if simulate(
            SimulationOptions(seed=seed, mutant="vote_twice", safety_steps=600)
        ).result.status
        != "pass"
    ]
    assert expected, "no seed of 1..5 caught vote_twice in 600 steps: nothing to compare"
    assert report["catching_seeds"] == expected
    assert report["runs"] == 5
    assert report["first_catching_seed"] == expected[0]
    assert report["properties"] == {"one_vote_per_term": len(expected)}


def test_a_bad_seed_range_is_a_usage_error() -> None:
    assert main(["simulate", "raft", "--seeds", "9..3"]) == ExitCode.USAGE
