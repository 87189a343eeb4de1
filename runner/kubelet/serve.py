"""``kubeoracle serve kubelet``: N kubelets in one process against any API server.

It reads the kubeconfig, starts the fleet (``runner.kubelet.fleet``) and serves until SIGINT or
SIGTERM (exit 0). Every ``--report-every`` seconds it prints one line: nodes booted and
registered, API writes by kind and code, and the slowest lease write since the last line.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from runner.apiserver.client import credentials_folder, endpoint_from_kubeconfig
from runner.errors import InputError
from runner.exit_codes import ExitCode
from runner.kubelet.fleet import Fleet, configs


def _report(fleet: Fleet) -> str:
    states = fleet.snapshot()
    registered = sum(1 for s in states if s.registered)
    with fleet.counters.lock:
        writes = dict(fleet.counters.writes)
        leases = fleet.counters.lease_seconds
        fleet.counters.lease_seconds = []
    counts = " ".join(f"{kind}/{code}={n}" for (kind, code), n in sorted(writes.items()))
    slowest = max(leases, default=0.0)
    return (
        f"nodes {len(states)}/{len(fleet.configs)} registered {registered}; writes {counts}; "
        f"leases {len(leases)} slowest {slowest * 1000:.0f} ms; backlog {fleet.backlog()}; "
        f"tick lag {fleet.counters.tick_lag_ms} ms"
    )


def serve(args: argparse.Namespace) -> ExitCode:
    stop = threading.Event()

    def on_signal(signal_number: int, frame: FrameType | None) -> None:
        del signal_number, frame
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with credentials_folder() as folder:
        endpoint = endpoint_from_kubeconfig(Path(args.kubeconfig), folder)
        port = args.port if args.port is not None else 0
        nodes = configs(args.nodes, args.node_name_prefix, args.mutant, port)
        try:
            if args.runtime == "process":
                from runner.kubelet.process_fleet import ProcessFleet

                fleet: Fleet = ProcessFleet(endpoint, nodes, args.writers)
            else:
                fleet = Fleet(endpoint, nodes, args.writers)
        except OSError as error:
            raise InputError(f"cannot listen: {error}", field="--port") from error
        driver = threading.Thread(target=fleet.run, args=(stop,), daemon=True, name="kubelet-fleet")
        driver.start()
        print(
            f"kubeoracle serve kubelet: {args.nodes} nodes ({args.node_name_prefix}0..) on "
            f"{endpoint.url}, runtime {args.runtime}",
            flush=True,
        )
        while not stop.wait(args.report_every):
            print(f"kubeoracle serve kubelet: {_report(fleet)}", flush=True)
        driver.join(timeout=10)
        print(f"kubeoracle serve kubelet: {_report(fleet)}", flush=True)
        print("kubeoracle serve kubelet: stopped", file=sys.stderr, flush=True)
    return ExitCode.PASS
