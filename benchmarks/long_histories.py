"""Benchmark: ``kubeoracle check history`` on long, easy histories: time and peak memory.

Generates linearizable histories (``runner.history.synthetic``: 5 concurrent clients, seeded)
of each size, runs the command on each as a user would (a child process, reading the file,
``-o json``), and prints its wall time, the time of the check itself (the command's
``seconds``: search and report, without reading), and the child's peak resident memory.
Linear growth shows as a constant time and memory per operation across sizes.

* ``jepsen``: a Jepsen etcd log (porcupine's format) of a compare-and-set register, half reads,
  one operation in 1000 timed out (``:info``: it may or may not have taken effect);
* ``reads``: only reads, in Jepsen's format (issue 10's trivially linearizable case);
* ``etcd``: kubeoracle JSON Lines against the etcd model (ranges, puts and deletes on 4 keys).

    python -m benchmarks.long_histories [--sizes 10000 100000 1000000] [--formats jepsen,reads,etcd]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from models.etcd import DeleteRangeRequest, PutRequest, RangeRequest
from models.history import Operation
from runner.history.synthetic import (
    concurrent_events,
    jepsen_lines,
    kubeoracle_lines,
    read_request,
    register_request,
)
from spec.etcd.keyspace import EtcdModel
from spec.etcd.registers import RegisterModel

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
ETCD_SIZES = (10_000, 100_000)
"""The etcd model's step is the slowest (a whole keyspace per state): by default it stops at
100k; ``--sizes`` overrides."""
UNKNOWN_EVERY = 1_000


def etcd_request(prng: random.Random) -> Operation:
    """Half ranges, 40% puts, 10% deletes, on 4 keys."""
    key = b"key%d" % prng.randrange(4)
    draw = prng.random()
    if draw < 0.5:
        return RangeRequest(key=key)
    if draw < 0.9:
        return PutRequest(key=key, value=b"%d" % prng.randrange(100))
    return DeleteRangeRequest(key=key)


def history_lines(kind: str, operations: int) -> tuple[Iterator[str], str]:
    """The lines of one generated history, and the ``--format`` to read it."""
    register = RegisterModel(with_cas=True)
    if kind == "jepsen":
        events = concurrent_events(
            register, register_request, operations, unknown_every=UNKNOWN_EVERY
        )
        return jepsen_lines(events), "jepsen"
    if kind == "reads":
        return jepsen_lines(concurrent_events(register, read_request, operations)), "jepsen"
    events = concurrent_events(EtcdModel(), etcd_request, operations)
    return kubeoracle_lines(events, "etcd"), "kubeoracle"


class Measured:
    """One run of the command: wall seconds, peak resident memory, its JSON report."""

    def __init__(self, wall: float, peak_bytes: int, report: dict[str, object]) -> None:
        self.wall = wall
        self.peak_bytes = peak_bytes
        self.report = report


def run_check(path: Path, input_format: str) -> Measured:
    """``kubeoracle check history`` in a child process, with its own peak memory."""
    command = [sys.executable, "-m", "runner", "check", "history", str(path)]
    command += ["--format", input_format, "--timeout", "3600", "-o", "json"]
    started = time.perf_counter()
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as child:
        stdout = child.stdout.read() if child.stdout is not None else ""
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    report = json.loads(stdout) if stdout.strip() else {"verdict": f"exit {child.returncode}"}
    return Measured(wall, usage.ru_maxrss * 1024, report)


def measure(kind: str, operations: int, directory: Path, show: Callable[[str], None]) -> None:
    lines, input_format = history_lines(kind, operations)
    path = directory / f"{kind}-{operations}.txt"
    with path.open("w", encoding="utf-8") as out:
        out.writelines(lines)
    size_mb = path.stat().st_size / 2**20
    run = run_check(path, input_format)
    check_seconds = float(str(run.report.get("seconds", "nan")))
    show(
        f"{kind:<7} {operations:>9,} ops {size_mb:7.1f} MB  {run.report.get('verdict')!s:<13}"
        f" total {run.wall:7.2f} s  check {check_seconds:7.2f} s"
        f"  peak {run.peak_bytes / 2**20:7.0f} MB"
        f"  {run.peak_bytes / operations:6.0f} B/op  {1e6 * run.wall / operations:6.1f} us/op"
    )
    path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=None)
    parser.add_argument("--formats", default="jepsen,reads,etcd")
    args = parser.parse_args()
    print(f"load average over the last minute: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory() as directory:
        for kind in args.formats.split(","):
            sizes = args.sizes or (ETCD_SIZES if kind == "etcd" else DEFAULT_SIZES)
            for operations in sizes:
                measure(kind, operations, Path(directory), print)
    print(f"load average over the last minute: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
