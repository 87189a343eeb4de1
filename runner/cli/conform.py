"""``kubeoracle conform etcd``: a seeded, faulted, recorded and checked run against etcd.

With no ``--endpoints`` it starts a local 3-member cluster from the ``etcd`` binary on PATH and
stops it afterwards; faults are only injected into members it started. The recorded history is
checked with the linearizability and watch checkers of ``spec/etcd``.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import signal
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from runner.cli.conform_apiserver import register_target as register_apiserver_target
from runner.cli.options import bounded_int, positive_seconds, timeout_seconds
from runner.cli.output import add_output_option, emit
from runner.errors import InputError
from runner.exit_codes import ExitCode
from runner.progress import timed

if TYPE_CHECKING:
    from runner.cli.output import VerbParsers
    from runner.etcd.cluster import LocalEtcdCluster
    from runner.etcd.conform import FaultAction, Recorder
    from runner.etcd.conform_lock import LockRun

FAULT_KINDS = ("kill", "pause")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def register(verbs: VerbParsers) -> None:
    """Add ``conform`` with its ``etcd`` target."""
    parser = verbs.add_parser("conform", help="check a real system against the reference")
    targets = parser.add_subparsers(dest="target", metavar="<target>", required=True)
    etcd = targets.add_parser(
        "etcd",
        help="drive an etcd (v3 JSON gateway or gRPC) with a concurrent workload and faults, "
        "then check it",
    )
    etcd.add_argument(
        "--endpoints",
        default="",
        help="comma-separated http://host:port client URLs of a FRESH cluster (default: start a "
        "local 3-member cluster from the etcd binary on PATH)",
    )
    etcd.add_argument(
        "--protocol",
        choices=("gateway", "grpc"),
        default="gateway",
        help="how the clients speak to the endpoints: etcd's v3 JSON gateway or its v3 gRPC API "
        "(default gateway)",
    )
    etcd.add_argument(
        "--workload",
        choices=("kv", "lock"),
        default="kv",
        help="kv: the concurrent KV, lease and watch workload (default); lock: etcd's lock "
        "recipe in client processes over gRPC, the holder paused (SIGSTOP) longer than its "
        "lease's TTL, judged for mutual exclusion and fencing",
    )
    etcd.add_argument("--seed", type=int, default=1, help="seed of the workload (default 1)")
    etcd.add_argument(
        "--duration", type=positive_seconds, default=5.0, help="seconds of workload (default 5)"
    )
    etcd.add_argument(
        "--clients", type=bounded_int(1, 64), default=4, help="concurrent clients, 1-64 (default 4)"
    )
    etcd.add_argument(
        "--faults",
        default="",
        help="comma-separated faults among kill,pause (SIGKILL+restart, SIGSTOP+SIGCONT); only "
        "for members this command started (default: none)",
    )
    etcd.add_argument(
        "--history", default="", help="also write the recorded history (JSON Lines) to this file"
    )
    etcd.add_argument(
        "--check-timeout",
        type=timeout_seconds,
        default=120.0,
        help="seconds the linearizability search may take before the verdict is inconclusive "
        "(default 120)",
    )
    add_output_option(etcd)
    etcd.set_defaults(handler=conform_etcd)
    register_apiserver_target(targets)


def _parse_faults(text: str, external: bool) -> tuple[str, ...]:
    kinds = tuple(kind.strip() for kind in text.split(",") if kind.strip())
    for kind in kinds:
        if kind not in FAULT_KINDS:
            raise InputError(f"unknown fault {kind!r}; choose among {', '.join(FAULT_KINDS)}",
                             field="--faults")  # fmt: skip
    if kinds and external:
        raise InputError(
            "faults are only injected into members this command starts; drop --endpoints",
            field="--faults",
        )
    return kinds


def _parse_endpoints(text: str) -> tuple[str, ...]:
    endpoints = tuple(item.strip().rstrip("/") for item in text.split(",") if item.strip())
    for endpoint in endpoints:
        host, _, port = endpoint.removeprefix("http://").rpartition(":")
        if not endpoint.startswith("http://") or not host or not port.isdigit():
            raise InputError(f"expected http://host:port, got {endpoint!r}", field="--endpoints")
    return endpoints


def fault_injector(cluster: LocalEtcdCluster) -> FaultAction:
    """SIGKILL+restart or SIGSTOP+SIGCONT of one member at a time."""
    from runner.etcd.conform import FaultRecord

    def inject(kind: str, rng: random.Random, recorder: Recorder) -> None:
        member = rng.choice(cluster.members)
        start = recorder.now()
        if kind == "kill":
            member.kill()
            time.sleep(rng.uniform(0.2, 0.8))
            cluster.restart(member)
            cluster.wait_ready(member)
        else:
            member.pause()
            time.sleep(rng.uniform(0.5, 1.5))
            member.resume()
        with recorder.lock:
            recorder.faults.append(
                FaultRecord(
                    kind=kind, member=member.name, start_time=start, end_time=recorder.now()
                )
            )

    return inject


def _check_fresh(endpoints: tuple[str, ...]) -> None:
    from models.etcd import RangeRequest, RangeResponse
    from runner.etcd.client import EtcdGatewayClient

    client = EtcdGatewayClient(endpoints[0])
    try:
        answer = client.range(RangeRequest(key=b"\x00", range_end=b"\x00", count_only=True))
    finally:
        client.close()
    if not isinstance(answer, RangeResponse):
        raise InputError(f"{endpoints[0]} did not answer a range: {answer}", field="--endpoints")
    if answer.header.revision != 1:
        raise InputError(
            f"conformance needs a fresh, empty cluster (revision 1); {endpoints[0]} is at "
            f"revision {answer.header.revision}",
            field="--endpoints",
        )


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived: stop the members, remove their directories, exit 3."""

    def __init__(self, signal_number: int) -> None:
        super().__init__(signal.Signals(signal_number).name)
        self.signal_name = signal.Signals(signal_number).name


def _raise_interrupted(signal_number: int, frame: FrameType | None) -> None:
    del frame
    raise Interrupted(signal_number)


@contextlib.contextmanager
def _stopping_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Interrupted` in the main thread while the block runs,
    so its ``finally`` clauses run (the default SIGTERM would kill the process outright)."""
    previous = {number: signal.signal(number, _raise_interrupted) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _stop_cluster(cluster: LocalEtcdCluster) -> None:
    """Stop every member and remove the data directories, deaf to further signals."""
    previous = {number: signal.signal(number, signal.SIG_IGN) for number in STOP_SIGNALS}
    try:
        cluster.stop()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def conform_etcd(args: argparse.Namespace) -> ExitCode:
    """Run the workload, check the history, print the report; on SIGINT or SIGTERM, stop
    the members started here, remove their directories and exit 3 without a traceback."""
    try:
        with _stopping_on_signals():
            return _conform_etcd(args)
    except Interrupted as interrupted:
        print(
            f"kubeoracle conform etcd: interrupted by {interrupted.signal_name}; "
            "stopped the etcd members it started and removed their data directories",
            file=sys.stderr,
        )
        return ExitCode.INCONCLUSIVE


def _conform_etcd(args: argparse.Namespace) -> ExitCode:
    from runner.etcd.cluster import LocalEtcdCluster
    from runner.etcd.conform import run_workload, summary_counts
    from runner.etcd.conform_check import check_recorded

    endpoints = _parse_endpoints(args.endpoints)
    faults = _parse_faults(args.faults, external=bool(endpoints))
    if args.workload == "lock" and args.history:
        raise InputError(
            "the lock workload records no KV history; --history applies to the kv workload",
            field="--history",
        )
    if args.workload == "lock" and faults:
        raise InputError(
            "the lock workload injects its own fault (it pauses the lock holder's process); "
            "--faults applies to the kv workload",
            field="--faults",
        )
    if args.duration <= 0 or args.clients < 1:
        raise InputError("--duration must be positive and --clients at least 1")
    cluster = None if endpoints else LocalEtcdCluster(3)
    try:
        if cluster is not None:
            try:
                cluster.start()
            except RuntimeError as error:
                raise InputError(f"could not start a local etcd cluster: {error}") from error
            endpoints = cluster.endpoints
        _check_fresh(endpoints)
        with timed(f"conform etcd: {args.workload} workload", args.duration, args.output):
            if args.workload == "lock":
                from runner.etcd.conform_lock import run_lock_workload

                lock_run = run_lock_workload(
                    endpoints, seed=args.seed, duration_seconds=args.duration, clients=args.clients
                )
            recorder = (
                None
                if args.workload == "lock"
                else run_workload(
                    endpoints,
                    seed=args.seed,
                    duration_seconds=args.duration,
                    clients=args.clients,
                    inject_fault=fault_injector(cluster) if cluster is not None else None,
                    fault_kinds=faults,
                    protocol=args.protocol,
                )
            )
    finally:
        if cluster is not None:
            _stop_cluster(cluster)
    if recorder is None:
        return _report_lock(args, endpoints, cluster is not None, lock_run)
    history = recorder.history()
    if args.history:
        from models.history import encode_history

        try:
            Path(args.history).write_text(encode_history(history), encoding="utf-8")
        except OSError as error:
            raise InputError(f"cannot write the history: {error}", source=args.history) from error
    with timed("conform etcd: checking the history", args.check_timeout, args.output):
        verdict, details = check_recorded(history, args.check_timeout)
    if recorder.errors and verdict == ExitCode.PASS:
        verdict = ExitCode.INCONCLUSIVE  # a fault could not be carried out as planned
    report: dict[str, Any] = {
        "target": "etcd",
        "endpoints": list(endpoints) if not cluster else "local 3-member cluster",
        "protocol": args.protocol,
        "seed": args.seed,
        "duration_seconds": args.duration,
        "clients": args.clients,
        "fault_kinds": list(faults),
        "verdict": verdict.name.lower(),
        "counts": summary_counts(recorder),
        "faults": [
            {"kind": f.kind, "member": f.member, "start_ns": f.start_time, "end_ns": f.end_time}
            for f in recorder.faults
        ],
        "runner_errors": recorder.errors,
        **details,
    }
    emit(report, args.output, render_text)
    return verdict


def render_text(report: Mapping[str, Any]) -> str:
    """A short summary for people."""
    counts = report["counts"]
    lines = [
        f"conform etcd: {report['verdict'].upper()} (seed {report['seed']}, "
        f"{report['duration_seconds']}s, {report['clients']} clients over "
        f"{report['protocol']})",
        f"  operations: {counts['operations']} ({counts['indefinite']} with unknown outcome, "
        f"{counts['errors']} errors)",
        f"  watch streams: {counts['watch_streams']}, events received: {counts['watch_events']}",
        f"  faults injected: {counts['faults']} {report['fault_kinds']}",
    ]
    lines.extend(f"  runner: {error}" for error in report["runner_errors"])
    lines.extend(f"  {line}" for line in report.get("explanation", []))
    return "\n".join(lines)


def _report_lock(
    args: argparse.Namespace, endpoints: tuple[str, ...], local: bool, run: LockRun
) -> ExitCode:
    from runner.etcd.conform_lock import LEASE_TTL_SECONDS, judge

    passed, details = judge(run)
    report: dict[str, Any] = {
        "target": "etcd",
        "workload": "lock",
        "endpoints": "local 3-member cluster" if local else list(endpoints),
        "seed": args.seed,
        "duration_seconds": args.duration,
        "clients": args.clients,
        "lease_ttl_seconds": LEASE_TTL_SECONDS,
        "verdict": "pass" if passed else "violation",
        "pauses": run.pauses,
        **details,
    }
    emit(report, args.output, render_lock_text)
    return ExitCode.PASS if passed else ExitCode.VIOLATION


def render_lock_text(report: Mapping[str, Any]) -> str:
    """The lock run for people."""
    counts = report["counts"]
    lines = [
        f"conform etcd --workload lock: {report['verdict'].upper()} (seed {report['seed']}, "
        f"{report['duration_seconds']}s, {report['clients']} lock clients, lease TTL "
        f"{report['lease_ttl_seconds']}s)",
        f"  acquisitions: {counts['acquisitions']}, holder pauses (SIGSTOP > TTL): "
        f"{counts['pauses']}",
        f"  resource writes: fenced {counts['writes_accepted_fenced']} accepted, "
        f"{counts['writes_refused_fenced']} refused; unfenced {counts['writes_unfenced']}",
    ]
    for name, holds in report["properties"].items():
        lines.append(f"  {'holds ' if holds else 'FAILS '} {name}")
    lines.extend(f"  {line}" for line in report["explanation"])
    return "\n".join(lines)
