"""``simulate etcd``: etcd member machines on the simulation kernel with clients, watchers and
the seed's faults. Correct members give linearizable histories and watch streams that keep
etcd's guarantees, runs replay bit for bit, and deliberately broken members are caught by the
history checker (not by anything that knows the mutant's name)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from models.etcd_world import EtcdSetup
from models.trace import SwarmOptions
from runner.cli.main import main
from runner.cli.worlds import WORLDS
from runner.etcd.world_kind import ETCD, draw_setup
from runner.sim.replay import replay
from runner.sim.simulate import RunOptions, SimulationResult, simulate
from runner.sim.trace import parse_trace
from runner.sim.world import check_world_kind

SEEDS = (1, 7, 11)
"""Seeds that together reach every situation (found by running seeds 1..12)."""


def run(seed: int, mutant: str = "none", steps: int = 2000) -> SimulationResult[EtcdSetup]:
    def setup(prng: random.Random, swarm: SwarmOptions) -> EtcdSetup:
        return draw_setup(prng, swarm, mutant=mutant)

    return simulate(ETCD, RunOptions(seed=seed, safety_steps=steps, liveness_steps=3000), setup)


def test_the_world_kind_is_well_formed_and_registered() -> None:
    check_world_kind(ETCD)
    assert WORLDS["etcd"] is ETCD


def test_seeded_runs_pass_and_reach_the_situations_the_checks_are_about() -> None:
    reached: set[str] = set()
    for seed in SEEDS:
        result = run(seed)
        assert result.result.status == "pass", result.result.message
        assert result.liveness_steps_used is not None
        reached |= {name for name, step in result.coverage.items() if step is not None}
    # Leader changes, unknown outcomes, expired leases, compaction and broken watches all
    # happen in these runs: the history checks are not vacuous; so do the situations of every
    # Raft invariant, but membership changes, which the etcd world never makes.
    membership = {"conf_change_applied", "joint_configuration_entered_and_left"}
    assert set(result.coverage) - reached == membership


def test_a_run_replays_bit_for_bit() -> None:
    result = run(1)
    report = replay(parse_trace(result.trace.content(), "etcd.jsonl", WORLDS))
    assert report.reproduced
    assert report.steps_replayed == result.result.steps


def test_a_stale_linearizable_read_is_caught_as_a_non_linearizable_history() -> None:
    # Seed 1: client 1 puts key0 (acknowledged at revision 2), then reads the prefix through a
    # follower that has not applied revision 2 yet; without ReadIndex the follower answers
    # from its state at revision 1, which no order respecting real time allows.
    result = run(1, "stale_linearizable_read").result
    assert result.status == "violation"
    assert result.property == "linearizability"
    message = result.message or ""
    assert "client 1's range('key'..'kez') returned {} count=0 at revision 1" in message
    assert "put('key0', 'c1-1.0', lease=2000000) -> ok at revision 2" in message


def test_a_lost_lease_revoke_is_caught_by_the_revision_after_the_expiry() -> None:
    # Seed 13 (the leases workload): client 2 puts key1 on lease 3000000 (acknowledged at
    # revision 4); its next put on that lease fails with "lease not found", so the lease
    # expired before: its revoke deleted key1, a write at revision 5. A later read answering
    # at revision 4 cannot be placed anywhere. The broken member kept key1 and its revision.
    result = run(13, "lost_lease_revoke").result
    assert result.status == "violation"
    assert result.property == "linearizability"
    message = result.message or ""
    assert "range('key0') returned {} count=0 at revision 4" in message
    assert "put('key1', 'c2-1.0', lease=3000000) -> ok at revision 4" in message
    assert "requested lease not found" in message


def test_the_cli_passes_replays_and_reports_in_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "etcd.jsonl"
    assert main(["simulate", "etcd", "--seed", "2", "--trace", str(trace)]) == 0
    assert "PASS" in capsys.readouterr().out
    assert main(["replay", str(trace)]) == 0
    assert "REPRODUCED" in capsys.readouterr().out
    assert main(["simulate", "etcd", "--seed", "1", "--steps", "300", "-o", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["target"] == "etcd"
    assert report["result"]["status"] == "pass"


def test_the_cli_lists_mutants_and_exits_1_on_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "etcd", "--list-mutants"]) == 0
    listed = capsys.readouterr().out
    assert "stale_linearizable_read" in listed
    assert "lost_lease_revoke" in listed
    code = main(["simulate", "etcd", "--seed", "1", "--mutant", "stale_linearizable_read"])
    assert code == 1
    assert "FAIL: violation of linearizability" in capsys.readouterr().out


@pytest.mark.parametrize(
    "options",
    [
        ["--mutant", "no_such_mutant"],
        ["--faults", "crash,meteor"],
        ["--seeds", "5..2"],
        ["--members", "0"],
        ["--steps", "-1"],
    ],
)
def test_bad_options_exit_2(options: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(["simulate", "etcd", *options])
    except SystemExit as stop:  # argparse's own checks
        code = stop.code  # type: ignore[assignment]
    assert code == 2
    assert "Traceback" not in capsys.readouterr().err
