"""``simulate etcd --workload lock``: etcd's lock recipe on the simulated members. A holder
paused longer than its lease's TTL still believes it holds the lock after etcd revoked its
lease and the next waiter took it (the Jepsen result, reported as an explained finding); the
lock's real guarantee (one holder among live leases) and fencing hold, so the run passes."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from models.etcd import (
    Event,
    KeyValue,
    LeaseKeepAliveRequest,
    LeaseKeepAliveResponse,
    RangeRequest,
    ResponseHeader,
)
from models.etcd_recipes import RecipeState
from models.etcd_world import ClientPause, EtcdSetup
from models.trace import SwarmOptions, TraceStep
from runner.cli.main import main
from runner.cli.worlds import WORLDS
from runner.etcd.sim_lock import LOCK_PREFIX, LockWorkload
from runner.etcd.sim_lock_check import LockChecker, LockFindings, observe
from runner.etcd.workload import ClientKnowledge, LockClient
from runner.etcd.world import EtcdWorldState
from runner.etcd.world_kind import ETCD, draw_setup
from runner.sim.replay import replay
from runner.sim.simulate import RunOptions, SimulationResult, simulate
from runner.sim.trace import parse_trace
from runner.sim.world import NotEnabled

PAUSE_SEED = 13
"""A seed whose run pauses the lock's holder past its TTL (found with seeds 1..20)."""


def run(seed: int) -> SimulationResult[EtcdSetup]:
    def setup(prng: random.Random, swarm: SwarmOptions) -> EtcdSetup:
        return draw_setup(prng, swarm, workload="lock")

    options = RunOptions(seed=seed, safety_steps=2000, liveness_steps=3000)
    return simulate(ETCD, options, setup)


@pytest.fixture(scope="module")
def paused_run() -> SimulationResult[EtcdSetup]:
    return run(PAUSE_SEED)


def states(result: SimulationResult[EtcdSetup]) -> Iterator[tuple[int, Any, EtcdWorldState]]:
    """Every step of the run again: its index, its action and the state after it."""
    parsed = parse_trace(result.trace.content(), "lock.jsonl", WORLDS)
    world = ETCD.build(parsed.header.setup, parsed.header.swarm)
    state = world.initial().state
    yield 0, None, state
    for _, record in parsed.records:
        if isinstance(record, TraceStep):
            applied = world.apply(state, record.action)
            assert not isinstance(applied, NotEnabled), applied
            state = applied.state
            yield record.index, record.action, state


def test_a_holder_paused_past_its_ttl_makes_two_holders_and_fencing_refuses_its_write(
    paused_run: SimulationResult[EtcdSetup],
) -> None:
    assert paused_run.result.status == "pass", paused_run.result.message
    ttl_ms = paused_run.header.setup.lease_ttl_seconds * 1000
    checker = LockChecker(LockFindings())
    pauses: dict[int, tuple[int, ClientPause]] = {}
    two: tuple[int, EtcdWorldState, Any] | None = None
    refused_at: EtcdWorldState | None = None
    for index, action, state in states(paused_run):
        if index == 0:
            checker.start(state)
            continue
        assert checker.step(index, action, state, state, ()) == ()  # the real guarantee holds
        if isinstance(action, ClientPause):
            pauses[action.client] = (index, action)
        observation = observe(state, checker.newest[1])
        if two is None and len(observation.holders) == 2:
            two = (index, state, observation)
        if two is not None and state.resources.fenced.refused:
            refused_at = state
            break
    assert two is not None, "the pause produced no second holder"
    two_index, state, observation = two
    stale, fresh = sorted(observation.holders, key=lambda holder: holder.token)
    # The stale holder was paused longer than the TTL and is still paused or has not acted:
    # it never learned that etcd revoked its lease.
    paused_index, pause = pauses[stale.client]
    assert paused_index < two_index
    assert pause.duration_ms > ttl_ms
    assert stale.lease not in observation.live_leases
    # The waiter's read saw the stale key gone and took the lock: its key was created later,
    # so its token is higher, and its lease is alive.
    assert fresh.token > stale.token
    assert fresh.lease in observation.live_leases
    # Once the stale holder acts again it writes with its old token: the fenced resource
    # refuses it (the fresh holder wrote before), the unfenced one takes it.
    assert refused_at is not None
    refused = refused_at.resources.fenced.refused[0]
    assert (refused.client, refused.token) == (stale.client, stale.token)
    assert max(write.token for write in refused_at.resources.fenced.accepted) >= fresh.token
    unfenced = [(write.client, write.token) for write in refused_at.resources.unfenced.accepted]
    assert unfenced[-1] == (stale.client, stale.token)


@pytest.mark.slow
def test_seeds_1_to_10_pass_with_the_lock_workload() -> None:
    for seed in range(1, 11):
        result = run(seed)
        assert result.result.status == "pass", (seed, result.result.message)


def test_the_report_explains_the_two_holders_and_the_trace_replays(
    paused_run: SimulationResult[EtcdSetup],
) -> None:
    findings = paused_run.statistics["lock_findings"]
    assert isinstance(findings, dict)
    text = findings["two_believed_holders"]
    assert "2 clients believe they hold the lock" in text
    assert "expired (revoked)" in text
    assert "alive" in text
    assert "was paused at step" in text
    assert "refused" in findings["stale_write_refused"]
    assert paused_run.coverage["two_believed_holders"] is not None
    report = replay(parse_trace(paused_run.trace.content(), "lock.jsonl", WORLDS))
    assert report.reproduced


def test_the_cli_passes_with_the_finding_explained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "lock.jsonl"
    code = main(["simulate", "etcd", "--workload", "lock", "--seed", str(PAUSE_SEED),
                 "--trace", str(trace)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "lock: two holders (etcd does not promise otherwise; found, not a failure)" in out
    assert "lock: fencing refused the stale holder's write" in out
    assert "PASS: every Raft invariant held" in out
    assert main(["replay", str(trace)]) == 0
    assert "REPRODUCED" in capsys.readouterr().out
    assert main(["simulate", "etcd", "--workload", "lock", "--seed", "2", "-o", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["setup"]["workload"] == "lock"
    assert report["result"]["status"] == "pass"


def test_strict_lock_makes_two_holders_exit_1_and_needs_the_lock_workload(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["simulate", "etcd", "--workload", "lock", "--seed", str(PAUSE_SEED),
                 "--strict-lock"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL (--strict-lock): lock_mutual_exclusion_unconditional" in out
    assert "client 2 was paused at step" in out
    assert main(["simulate", "etcd", "--workload", "kv", "--strict-lock"]) == 2
    assert "--strict-lock needs --workload lock" in capsys.readouterr().err


# ---- the workload's client, answer by answer ---------------------------------------------------


def _header(revision: int) -> ResponseHeader:
    return ResponseHeader(revision=revision)


def test_a_waiter_asks_again_once_its_watch_sees_the_key_before_its_own_deleted() -> None:
    # A waiter's key was created at revision 9; the key before it (created at 5) is watched
    # from revision 10. A PUT on it changes nothing; its DELETE sends the waiter back to asking
    # for the key created last before revision 9, and the watch is no longer wanted.
    before = LOCK_PREFIX + b"/5"
    waiting = RecipeState(
        kind="lock",
        prefix=LOCK_PREFIX,
        lease=7,
        phase="waiting",
        key=LOCK_PREFIX + b"/7",
        revision=9,
        waiting_for=before,
    )
    client = LockClient(lease=7, recipe=waiting, watch_key=before, watch_from=10)
    knows = ClientKnowledge(client=1, lock=client)
    put = Event(type="PUT", kv=KeyValue(key=before, create_revision=5, mod_revision=11))
    assert LockWorkload().watched(knows, (put,), 11).lock == client
    deleted = Event(type="DELETE", kv=KeyValue(key=before, mod_revision=12))
    after = LockWorkload().watched(knows, (deleted,), 12).lock
    assert after.recipe is not None
    assert after.recipe.phase == "checking"
    assert after.watch_key == b""
    assert isinstance(after.pending, RangeRequest)
    assert after.pending.max_create_revision == 8


def test_a_waiter_whose_watch_was_compacted_asks_again() -> None:
    before = LOCK_PREFIX + b"/5"
    waiting = RecipeState(kind="lock", prefix=LOCK_PREFIX, lease=7, phase="waiting",
                          key=LOCK_PREFIX + b"/7", revision=9, waiting_for=before)  # fmt: skip
    knows = ClientKnowledge(
        client=1, lock=LockClient(lease=7, recipe=waiting, watch_key=before, watch_from=10)
    )
    again = LockWorkload().compacted(knows).lock
    assert again.watch_key == b""
    assert isinstance(again.pending, RangeRequest)
    assert again.pending.max_create_revision == 8


def test_a_keepalive_answered_with_ttl_zero_ends_the_lease_and_the_lock() -> None:
    held = RecipeState(kind="lock", prefix=LOCK_PREFIX, lease=7, phase="held", revision=9)
    knows = ClientKnowledge(client=1, lock=LockClient(lease=7, recipe=held))
    keepalive = LeaseKeepAliveRequest(ID=7)
    answer = LeaseKeepAliveResponse(header=_header(12), ID=7, TTL=0)
    assert LockWorkload().learn(knows, keepalive, answer).lock == LockClient()
