"""How fast a ``kubeoracle view`` page of a long trace opens in Chromium: ``python -m
benchmarks.view_render [--world etcd] [--steps 10000] [--liveness-steps L] [--nodes N]``.

Records a trace of at least ``--steps`` steps (the safety phase; the liveness phase adds a
few, at most ``--liveness-steps``; ``--nodes`` is passed to ``simulate`` for worlds that take
it, as ``cluster``), times ``kubeoracle view --no-replay`` and ``kubeoracle view`` writing its
page, then loads the page
(the replayed one) in headless Chromium (Debian's ``chromium`` through ``chromium-driver``)
several times and prints, per load, the milliseconds from the start of navigation to the
first drawn frame (the page's own clock: HTML parse, the data's JSON parse, the first rows and
arrows), then the time to jump to the middle of the trace and show a step's diff, and the
load average. Figures only, no assertion: speed depends on the machine and its load.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import tempfile
import time
from pathlib import Path

from runner.cli.main import main
from tests.view.chromium import chromium, open_page

LOADS = 3


def _view(trace: Path, page: Path, *flags: str) -> float:
    """Wall seconds ``kubeoracle view TRACE -o PAGE [FLAGS]`` takes."""
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["view", str(trace), "-o", str(page), *flags]) == 0
    return time.perf_counter() - started


def run(world: str, steps: int, liveness: int | None, nodes: int | None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        trace = Path(folder) / f"{world}.jsonl"
        page = Path(folder) / f"{world}.html"
        started = time.perf_counter()
        options = ["--seed", "1", "--steps", str(steps), "--trace", str(trace)]
        if liveness is not None:
            options += ["--liveness-steps", str(liveness)]
        if nodes is not None:
            options += ["--nodes", str(nodes)]
        with contextlib.redirect_stdout(io.StringIO()):
            code = main(["simulate", world, *options, "-o", "json"])
        simulated = time.perf_counter() - started
        assert code in (0, 1), code
        unreplayed = _view(trace, page, "--no-replay")
        unreplayed_megabytes = page.stat().st_size / 1e6
        viewed = _view(trace, page)
        lines = len(trace.read_text().splitlines())
        megabytes = page.stat().st_size / 1e6
        print(f"{world}: trace of {lines} lines recorded in {simulated:.1f} s")
        print(f"kubeoracle view: {viewed:.1f} s (wall), page {megabytes:.1f} MB")
        print(
            f"kubeoracle view --no-replay: {unreplayed:.1f} s (wall), "
            f"page {unreplayed_megabytes:.1f} MB"
        )
        with chromium() as driver:
            loads = []
            for attempt in range(1, LOADS + 1):
                milliseconds = open_page(driver, page)
                loads.append(milliseconds)
                print(f"load {attempt}: first frame after {milliseconds:.0f} ms")
            rows = driver.execute_script("return document.querySelectorAll('.row').length;")
            started = time.perf_counter()
            middle = driver.execute_script(
                "const t = document.getElementById('timeline');"
                "t.scrollTop = t.scrollHeight / 2; t.dispatchEvent(new Event('scroll'));"
                "return new Promise(r => requestAnimationFrame(() => {"
                "  const row = document.querySelector('#rows .row:nth-child(20)');"
                "  row.click(); r(row.dataset.n); }));"
            )
            jumped = (time.perf_counter() - started) * 1000
        print(f"median first frame: {statistics.median(loads):.0f} ms ({rows} rows in the DOM)")
        print(f"jump to the middle and show step {middle}'s diff: {jumped:.0f} ms")
        one, five, _ = os.getloadavg()
        print(f"load average {one:.1f} (5 min {five:.1f}) on {os.cpu_count()} cores")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--world", default="etcd", help="the world to record (default etcd)")
    parser.add_argument("--steps", type=int, default=10_000, help="safety-phase steps")
    parser.add_argument("--liveness-steps", type=int, help="passed to simulate")
    parser.add_argument("--nodes", type=int, help="passed to simulate (cluster: kubelets)")
    args = parser.parse_args()
    run(args.world, args.steps, args.liveness_steps, args.nodes)


if __name__ == "__main__":
    cli()
