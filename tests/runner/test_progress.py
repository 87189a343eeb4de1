"""Progress bars (``runner.progress``) on a terminal, and silence when piped or with
``-o json``: ``simulate``, ``validate``, ``check`` and ``conform`` run as a user runs them, with
standard error on a pseudo-terminal (``pty``) or a pipe."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runner.progress import Bar, timed, track, wanted
from tests.lincheck.corpus import porcupine_corpus

KUBEORACLE = [sys.executable, "-m", "runner"]
RUN_SECONDS = 240


def on_terminal(args: list[str]) -> tuple[int, str, bytes]:
    """Run kubeoracle with standard error on a pseudo-terminal: exit code, standard output,
    and every byte written to the terminal."""
    master, slave = pty.openpty()
    env = dict(os.environ, TERM="xterm", COLUMNS="120")
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [*KUBEORACLE, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    written = bytearray()
    deadline = time.monotonic() + RUN_SECONDS
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            written += chunk
        elif process.poll() is not None:
            break
    os.close(master)
    assert process.stdout is not None
    out = process.stdout.read().decode()
    process.stdout.close()
    return process.wait(timeout=RUN_SECONDS), out, bytes(written)


def piped(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KUBEORACLE, *args], capture_output=True, text=True, timeout=RUN_SECONDS, check=False
    )


def test_no_bar_without_a_terminal_or_with_json() -> None:
    assert not wanted("text", io.StringIO())
    master, slave = pty.openpty()
    with os.fdopen(slave, "w") as terminal:
        assert wanted("text", terminal)
        assert not wanted("json", terminal)
    os.close(master)
    stream = io.StringIO()
    assert list(track(range(5), "items", stream=stream)) == [0, 1, 2, 3, 4]
    with timed("waiting", 1.0, stream=stream) as bar:
        assert not bar.drawing
    assert stream.getvalue() == ""


def test_a_bar_on_a_terminal_counts_the_items_and_is_erased() -> None:
    master, slave = pty.openpty()
    with os.fdopen(slave, "w") as terminal:
        with Bar("counting things", 3, stream=terminal) as bar:
            assert bar.drawing
            for _ in range(3):
                bar.advance()
        assert not bar.drawing
    written = b""
    while select.select([master], [], [], 0.2)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal's other end is closed and everything was read
            break
        if not chunk:
            break
        written += chunk
    os.close(master)
    assert b"counting things" in written
    assert b"3/3" in written
    assert written.rstrip().endswith(b"\x1b[2K")  # the last thing done: erase the line


@pytest.fixture(scope="module")
def raft_events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("progress")
    trace = work / "t.jsonl"
    assert piped(["simulate", "raft", "--steps", "200", "--trace", str(trace)]).returncode == 0
    events = work / "events.jsonl"
    assert piped(["export", "raft", str(trace), "--to", str(events)]).returncode == 0
    return events


def test_simulate_shows_seeds_on_a_terminal_and_nothing_piped_or_as_json() -> None:
    args = ["simulate", "raft", "--seeds", "1..3", "--steps", "150"]
    code, out, written = on_terminal(args)
    assert code == 0
    assert b"simulate raft: seeds" in written
    assert b"3/3" in written
    assert "0 of 3 runs failed" in out
    code, out, written = on_terminal([*args, "-o", "json"])
    assert code == 0
    assert written == b""
    assert out.startswith("{")
    completed = piped(args)
    assert completed.returncode == 0
    assert completed.stderr == ""


def test_validate_counts_events_on_a_terminal(raft_events: Path) -> None:
    code, _, written = on_terminal(["validate", "raft", str(raft_events)])
    assert code == 0
    assert b"validate raft: events" in written
    completed = piped(["validate", "raft", str(raft_events)])
    assert completed.returncode == 0
    assert completed.stderr == ""


def test_check_history_shows_its_search_on_a_terminal() -> None:
    history = porcupine_corpus() / "jepsen" / "etcd_000.log"
    args = ["check", "history", str(history), "--format", "jepsen"]
    code, out, written = on_terminal(args)
    assert code == 1
    assert b"check history: searching" in written
    assert "not linearizable" in out
    code, _, written = on_terminal([*args, "-o", "json"])
    assert code == 1
    assert written == b""
    assert piped(args).stderr == ""


@pytest.mark.conformance
def test_conform_etcd_shows_its_workload_on_a_terminal() -> None:
    args = ["conform", "etcd", "--duration", "2", "--clients", "2", "--faults", ""]
    code, out, written = on_terminal(args)
    assert code in (0, 1), out
    assert b"conform etcd: kv workload" in written
    assert b"conform etcd: checking the history" in written
    completed = piped([*args, "-o", "json"])
    assert completed.returncode in (0, 1)
    assert "conform etcd:" not in completed.stderr
