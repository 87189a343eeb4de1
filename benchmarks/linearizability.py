"""Linearizability checker speed on porcupine's corpus, compared with porcupine (Go).

Prints the total time to reach a verdict for the 102 Jepsen etcd histories that have one
(checked as a cas-register), and for kv c50-ok plus c50-bad (split per key), each including
parsing, with the ratio to porcupine's times on a 2-core machine (about 1 s and 0.4 s). Each
figure is the best of ``--repeat`` runs, as wall-clock time and as CPU time of this process
(the fairer figure on a loaded machine; porcupine spreads kv partitions over both cores).

    python -m benchmarks.linearizability [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from returns.result import Result

from models.history import History, HistoryParseError
from models.history_formats import parse_jepsen, parse_porcupine_kv
from spec.etcd.registers import KvModel, RegisterModel
from spec.linearizability import Budget, SequentialModel, prepare, run_searches

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "lincheck" / "data" / "porcupine"
PORCUPINE_JEPSEN_SECONDS = 1.0
PORCUPINE_C50_SECONDS = 0.4


def verdict(
    text: str,
    parse: Callable[[str], Result[History, HistoryParseError]],
    model: SequentialModel[Any],
) -> bool:
    """Whether the history is linearizable (asserting the search finished)."""
    history = parse(text).unwrap()
    partitions = list(prepare(model, history.operations).values())
    results = run_searches(partitions, Budget(), stop_at_violation=True)
    verdicts = {result.verdict for result in results}
    assert "unknown" not in verdicts or "not_linearizable" in verdicts
    return verdicts == {"linearizable"}


def time_files(names: list[str], expected: dict[str, bool]) -> tuple[float, float]:
    """Wall-clock and CPU seconds to judge ``names``, checking each verdict."""
    texts = {name: (CORPUS / name).read_text() for name in names}
    started = time.perf_counter()
    started_cpu = time.process_time()
    for name in names:
        if name.startswith("jepsen/"):
            got = verdict(texts[name], parse_jepsen, RegisterModel(with_cas=True))
        else:
            got = verdict(texts[name], parse_porcupine_kv, KvModel())
        assert got == expected[name], f"{name}: wrong verdict"
    return time.perf_counter() - started, time.process_time() - started_cpu


def main() -> None:
    """Run and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    expected: dict[str, bool] = json.loads((CORPUS / "verdicts.json").read_text())["linearizable"]
    jepsen = sorted(name for name in expected if name.startswith("jepsen/"))
    c50 = ["kv/c50-ok.txt", "kv/c50-bad.txt"]
    for label, names, porcupine_seconds in (
        (f"jepsen ({len(jepsen)} histories)", jepsen, PORCUPINE_JEPSEN_SECONDS),
        ("kv c50-ok + c50-bad", c50, PORCUPINE_C50_SECONDS),
    ):
        runs = [time_files(names, expected) for _ in range(args.repeat)]
        wall = min(run[0] for run in runs)
        cpu = min(run[1] for run in runs)
        print(
            f"{label}: {wall:.2f} s wall ({wall / porcupine_seconds:.1f}x porcupine's "
            f"{porcupine_seconds} s), {cpu:.2f} s CPU ({cpu / porcupine_seconds:.1f}x)"
        )
    print(f"load average over the last minute: {os.getloadavg()[0]:.1f} (2 cores)")


if __name__ == "__main__":
    main()
