"""The scale test: a Dask scheduler and two workers as separate processes on loopback,
``kubeoracle explore --scheduler`` against them, one worker killed (SIGKILL) while it runs
seeds. Every seed's result must still be reported exactly once, and the table must equal an
in-process run of the same exploration."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed import Client

from runner.cli.worlds import EXPLORABLE
from runner.explore.engine import InProcessEngine
from runner.explore.exploration import Exploration, explore
from runner.explore.simulation import RunChoices
from runner.sim.seeds import SeedRange

pytestmark = pytest.mark.explore_cluster

ROOT = Path(__file__).resolve().parents[2]
DASK = Path(sys.executable).parent / "dask"
SEEDS = SeedRange(1, 24)
MUTANTS = ("none", "vote_twice")
STEPS = 1500
START_SECONDS = 60.0
STOP_SECONDS = 10.0


def start(arguments: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen([str(DASK), *arguments], cwd=ROOT, stdout=sink, stderr=sink)


def wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[str, dict[int, subprocess.Popen[bytes]]]]:
    """A scheduler and two single-threaded workers without nannies (a killed worker stays
    dead), each its own process; yields the scheduler address and the workers by pid."""
    scheduler_file = tmp_path / "scheduler.json"
    common = ["--no-dashboard"]
    processes = [
        start(
            [
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--scheduler-file",
                str(scheduler_file),
                *common,
            ],
            tmp_path / "scheduler.log",
        )
    ]
    try:
        wait_for(scheduler_file.exists, "the scheduler")
        address = json.loads(scheduler_file.read_text())["address"]
        workers = {}
        for number in range(2):
            worker = start(
                [
                    "worker",
                    address,
                    "--host",
                    "127.0.0.1",
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    *common,
                ],
                tmp_path / f"worker{number}.log",
            )
            processes.append(worker)
            workers[worker.pid] = worker
        with Client(address, timeout=START_SECONDS) as client:
            client.wait_for_workers(2, timeout=START_SECONDS)
        yield address, workers
    finally:
        for process in reversed(processes):  # workers first, then the scheduler
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def table(report: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in report.items() if key != "run"}


def busy_worker_pid(client: Client, pids: dict[str, int]) -> int | None:
    """The pid of a worker that is running seeds right now."""
    for address, keys in client.processing().items():
        if keys and address in pids:
            return pids[address]
    return None


def test_killing_a_worker_mid_run_loses_and_duplicates_no_seed(
    cluster: tuple[str, dict[int, subprocess.Popen[bytes]]],
) -> None:
    address, workers = cluster
    command = [
        sys.executable, "-m", "runner", "explore", "raft", "--engine", "dask",
        "--scheduler", address, "--seeds", f"{SEEDS.first}..{SEEDS.last}",
        "--mutant", ",".join(MUTANTS), "--steps", str(STEPS), "--shrink-budget", "0", "-o", "json",
    ]  # fmt: skip
    explorer = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = kill_a_busy_worker(address, workers, explorer)
    finally:
        if explorer.poll() is None:
            explorer.kill()
            explorer.wait()
    assert explorer.returncode in (0, 3), err.decode()
    report = json.loads(out)
    for entry in report["targets"]:
        assert entry["runs"] == len(SEEDS)
        assert entry["lost"] == []
    choices = RunChoices(STEPS, 10000, None, "unused")
    expected = explore(
        Exploration("raft", EXPLORABLE["raft"], MUTANTS, SEEDS, choices), InProcessEngine()
    )
    assert table(report) == table(expected)


def kill_a_busy_worker(
    address: str, workers: dict[int, subprocess.Popen[bytes]], explorer: subprocess.Popen[bytes]
) -> tuple[bytes, bytes]:
    """SIGKILL a worker while it runs seeds; the explorer's output once it is done."""
    with Client(address, timeout=START_SECONDS) as client:
        pids: dict[str, int] = client.run(os.getpid)
        victim: list[int] = []

        def found_busy_worker() -> bool:
            pid = busy_worker_pid(client, pids)
            if pid is not None:
                victim.append(pid)
            return pid is not None

        wait_for(found_busy_worker, "a worker running seeds")
        assert victim[0] in workers
        os.kill(victim[0], signal.SIGKILL)
        workers[victim[0]].wait(timeout=30)
        # The kill happened while the exploration was still running.
        assert explorer.poll() is None
        out, err = explorer.communicate(timeout=600)
        assert len(client.scheduler_info()["workers"]) == 1
    return out, err
