"""``conform apiserver`` passes against the reference server and catches deliberately broken
ones: a stale list, a watch that skips an event, an update that ignores resourceVersion."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from impl.apiserver.context import Config
from runner.apiserver.server import ApiHttpServer, start_in_thread

pytestmark = pytest.mark.slow


@contextmanager
def running(config: Config, mutant: str = "") -> Iterator[str]:
    server = ApiHttpServer(("127.0.0.1", 0), config, mutant=mutant)
    thread = start_in_thread(server)
    try:
        yield server.url
    finally:
        server.close()
        thread.join(timeout=10)


def conform(url: str, *extra: str) -> tuple[int, dict[str, object]]:
    command = [sys.executable, "-m", "runner", "conform", "apiserver", "--server", url]
    command += ["--duration", "2", "-o", "json", *extra]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.stderr == "" or "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout)


def test_the_reference_server_conforms(config: Config, tmp_path: Path) -> None:
    history = tmp_path / "history.json"
    with running(config) as url:
        code, report = conform(url, "--history", str(history))
    assert code == 0, report
    assert report["verdict"] == "pass"
    assert report["not_exercised"] == []
    assert json.loads(history.read_text())["operations"]


@pytest.mark.parametrize(
    ("mutant", "caught_by"),
    [
        ("stale-list", "list_consistent"),
        ("skip-watch-event", "watch_ordered_gap_free"),
        ("ignore-resource-version", "no_lost_update"),
    ],
)
def test_broken_servers_are_caught(config: Config, mutant: str, caught_by: str) -> None:
    with running(config, mutant) as url:
        code, report = conform(url)
    assert code == 1
    assert report["verdict"] == "fail"
    assert report["properties"][caught_by]  # type: ignore[index]


def test_bad_flags_exit_2() -> None:
    command = [sys.executable, "-m", "runner", "conform", "apiserver", "--server", "ftp://x"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "expected an http(s) URL" in result.stderr
    assert "Traceback" not in result.stderr
