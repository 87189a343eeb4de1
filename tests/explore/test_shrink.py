"""Shrinking a failing run: the shrunk trace replays to the same first broken property, and a
1-minimal result fails no more once any single action is taken out."""

from __future__ import annotations

from runner.cli.worlds import EXPLORABLE, WORLDS
from runner.explore.shrink import ShrinkTask, ddmin, probe, shrink
from runner.explore.simulation import RunChoices, SeedTask
from runner.sim.replay import replay
from runner.sim.trace import parse_trace


def test_ddmin_finds_the_one_minimal_pair() -> None:
    # Fails when both 3 and 7 are present: the only 1-minimal subset is [3, 7].
    def still_fails(candidate: list[int]) -> list[int] | None:
        return candidate if 3 in candidate and 7 in candidate else None

    found, runs, minimal = ddmin(list(range(10)), still_fails, budget=1000)
    assert (found, minimal) == ([3, 7], True)
    assert runs > 0


def test_ddmin_stops_at_its_budget() -> None:
    found, runs, minimal = ddmin(list(range(10)), lambda candidate: candidate, budget=2)
    assert (runs, minimal) == (2, False)
    assert len(found) < 10


def test_a_shrunk_vote_twice_run_replays_and_is_one_minimal() -> None:
    choices = RunChoices(safety_steps=300, liveness_steps=10000, faults=None, code_version="t")
    task = SeedTask(EXPLORABLE["raft"], "vote_twice", 3, choices)
    shrunk = shrink(ShrinkTask(task, budget=500))
    assert (shrunk.status, shrunk.property, shrunk.minimal) == (
        "violation",
        "one_vote_per_term",
        True,
    )
    assert shrunk.steps < shrunk.original_steps
    parsed = parse_trace(shrunk.trace, "shrunk", WORLDS)
    outcome = replay(parsed)
    assert outcome.reproduced
    assert (outcome.recorded.status, outcome.recorded.property) == (
        "violation",
        "one_vote_per_term",
    )
    actions = [record.action for _, record in parsed.steps]
    kind = EXPLORABLE["raft"].kind
    for index in range(len(actions)):
        without_one = actions[:index] + actions[index + 1 :]
        assert probe(kind, parsed.header, without_one, "one_vote_per_term") is None
