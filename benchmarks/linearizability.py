"""Benchmark: linearizability checking of porcupine's corpus, beside porcupine (Go) itself.

Two figures, each the best of ``--repeat`` runs, every verdict checked against the corpus's
``verdicts.json``:

* ``kv c50-ok + c50-bad``: porcupine's 50-client key-value histories, split per key, the
  partitions searched on every core as ``kubeoracle check history`` does (porcupine checks
  partitions in parallel goroutines);
* ``jepsen``: the 102 Jepsen etcd histories that have a verdict, as a compare-and-set register.

For each: ``check`` (from parsed operations to the verdict, the span porcupine's own Go
benchmarks time) and ``with reading`` (the file's text parsed too), as wall time and as CPU time
(this process plus its search workers). Porcupine's times are read from
``benchmarks/porcupine_reference.json``, which names the machine and the load they were measured
at; the ratio printed is kubeoracle's wall time over porcupine's. To measure porcupine on your
machine (Go needed; docs/history-checking.md gives the steps) and refresh that file:

    go test -run NONE -bench 'Kv50Clients|EtcdJepsen' -benchtime 10x -count 5 > bench.txt
    python -m benchmarks.linearizability --record-porcupine bench.txt

    python -m benchmarks.linearizability [--repeat 5] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from returns.result import Result

from models.history import History
from models.history_formats import parse_jepsen, parse_porcupine_kv
from models.strict_input import InputError
from runner.history.parallel import parallel_searcher
from spec.etcd.registers import KvModel, RegisterModel
from spec.linearizability import Budget, SequentialModel, prepare
from spec.linearizability_search import PartitionSearch, run_searches

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "lincheck" / "data" / "porcupine"
REFERENCE = Path(__file__).resolve().parent / "porcupine_reference.json"
KV = "kv c50-ok + c50-bad"
JEPSEN = "jepsen (102 histories)"
PORCUPINE_BENCHMARKS = {
    KV: re.compile(r"^BenchmarkKv50Clients(Ok|Bad)$"),
    JEPSEN: re.compile(r"^BenchmarkEtcdJepsen(\d{3})$"),
}
PORCUPINE_COMMAND = "go test -run NONE -bench 'Kv50Clients|EtcdJepsen' -benchtime 10x -count 5"
BENCHMARK_LINE = re.compile(r"^(Benchmark\w+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op")

Parser = Callable[[str], Result[History, InputError]]


class Timing:
    """Wall and CPU seconds (this process and its finished children) of one span."""

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = _cpu_seconds()

    def stop(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, _cpu_seconds() - self.cpu


def _cpu_seconds() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def verdict(history: History, model: SequentialModel[Any], search: PartitionSearch) -> bool:
    """Whether the history is linearizable (asserting the search finished)."""
    partitions = list(prepare(model, history.operations).values())
    verdicts = {result.verdict for result in search(partitions, Budget(), True)}
    assert "unknown" not in verdicts or "not_linearizable" in verdicts
    return verdicts == {"linearizable"}


def time_files(
    names: list[str], expected: dict[str, bool], search: PartitionSearch
) -> tuple[tuple[float, float], tuple[float, float]]:
    """(wall, CPU) seconds to judge ``names``: checking only, and with reading."""
    texts = {name: (CORPUS / name).read_text() for name in names}
    jobs: list[tuple[str, Parser, SequentialModel[Any]]] = [
        (name, parse_jepsen, RegisterModel(with_cas=True))
        if name.startswith("jepsen/")
        else (name, parse_porcupine_kv, KvModel())
        for name in names
    ]
    reading = Timing()
    histories = [(name, parse(texts[name]).unwrap(), model) for name, parse, model in jobs]
    checking = Timing()
    for name, history, model in histories:
        assert verdict(history, model, search) == expected[name], f"{name}: wrong verdict"
    check = checking.stop()
    return check, reading.stop()


def machine_description() -> str:
    """CPU model, core count and system, to be stored with porcupine's figures."""
    model = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.MULTILINE)
        model = found.group(1).strip() if found else model
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}"


def record_porcupine(bench_output: Path, verdicts: dict[str, bool]) -> dict[str, Any]:
    """Porcupine's figures from ``go test -bench`` output: per benchmark the best ns/op of its
    runs (``-count N`` repeats each), summed over the benchmarks behind each of our figures
    (the Jepsen ones with a verdict only)."""
    best: dict[str, float] = {}
    for line in bench_output.read_text(encoding="utf-8").splitlines():
        match = BENCHMARK_LINE.match(line.strip())
        if match is not None:
            seconds = float(match.group(2)) / 1e9
            best[match.group(1)] = min(seconds, best.get(match.group(1), seconds))
    times: dict[str, float] = {}
    found: dict[str, int] = {}
    for name, seconds in best.items():
        for label, pattern in PORCUPINE_BENCHMARKS.items():
            named = pattern.match(name)
            if named is None:
                continue
            if label == JEPSEN and f"jepsen/etcd_{named.group(1)}.log" not in verdicts:
                continue
            times[label] = times.get(label, 0.0) + seconds
            found[label] = found.get(label, 0) + 1
    if found.get(KV) != 2 or found.get(JEPSEN) != 102:
        counts = ", ".join(f"{label}: {found.get(label, 0)}" for label in PORCUPINE_BENCHMARKS)
        raise SystemExit(f"{bench_output}: not the whole go test -bench output ({counts})")
    return {
        "machine": machine_description(),
        "measured_on": date.today().isoformat(),
        "load_average": round(os.getloadavg()[0], 1),
        "porcupine": "anishathalye/porcupine@55508eb201b314c218d7e8412c3ea4b9499a5f53",
        "command": PORCUPINE_COMMAND,
        "seconds": {label: round(seconds, 4) for label, seconds in times.items()},
    }


def main() -> None:
    """Run and print the figures (or record porcupine's)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, default=None, help="search processes (kv)")
    parser.add_argument("--record-porcupine", type=Path, metavar="GO_BENCH_OUTPUT")
    args = parser.parse_args()
    expected: dict[str, bool] = json.loads((CORPUS / "verdicts.json").read_text())["linearizable"]
    if args.record_porcupine is not None:
        reference = record_porcupine(args.record_porcupine, expected)
        REFERENCE.write_text(json.dumps(reference, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {REFERENCE}: {reference['seconds']}")
        return
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))
    print(
        f"porcupine (Go), from {REFERENCE.name}: measured {reference['measured_on']} on "
        f"{reference['machine']} at load {reference['load_average']}"
    )
    jepsen = sorted(name for name in expected if name.startswith("jepsen/"))
    for label, names, search in (
        (KV, ["kv/c50-ok.txt", "kv/c50-bad.txt"], parallel_searcher(args.workers)),
        (JEPSEN, jepsen, run_searches),
    ):
        runs = [time_files(names, expected, search) for _ in range(args.repeat)]
        check = min(run[0][0] for run in runs), min(run[0][1] for run in runs)
        reading = min(run[1][0] for run in runs), min(run[1][1] for run in runs)
        porcupine = float(reference["seconds"][label])
        print(
            f"{label}: check {check[0]:.3f} s wall ({check[0] / porcupine:.2f}x porcupine's "
            f"{porcupine:.3f} s), {check[1]:.3f} s CPU; with reading {reading[0]:.3f} s wall "
            f"({reading[0] / porcupine:.2f}x), {reading[1]:.3f} s CPU"
        )
    print(f"load average over the last minute: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
