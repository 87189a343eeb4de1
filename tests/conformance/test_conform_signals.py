"""``kubeoracle conform etcd`` stopped by SIGTERM or Ctrl-C (SIGINT) stops the etcd members it
started, removes their data directories, and exits 3 without a traceback (issue 10: it used to
leave three members and their directories behind, and Ctrl-C printed a traceback)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def etcd_processes_under(directory: Path) -> list[int]:
    """PIDs of running processes whose command line mentions ``directory``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().split(") ")[1][:1]
        except OSError:
            continue
        if str(directory) in command and "etcd" in command and state != "Z":
            found.append(int(entry.name))
    return found


def wait_until(condition: object, what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting until {what}")


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_members_and_removes_their_directories(
    signal_number: int, tmp_path: Path
) -> None:
    environment = {**os.environ, "TMPDIR": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "runner", "conform", "etcd", "--duration", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    try:
        wait_until(lambda: len(etcd_processes_under(tmp_path)) == 3, "3 members run")
        assert [path.name[:16] for path in tmp_path.iterdir()] == ["kubeoracle-etcd-"]
        time.sleep(1.0)  # the workload is under way
        process.send_signal(signal_number)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 3, stderr
    assert "Traceback" not in stderr
    assert f"interrupted by {signal.Signals(signal_number).name}" in stderr
    assert etcd_processes_under(tmp_path) == []
    assert list(tmp_path.iterdir()) == []
