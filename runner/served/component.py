"""The start-up every served component shares, as kube-controller-manager and kube-scheduler do
it: read the kubeconfig, serve ``/healthz`` and ``/metrics`` (HTTPS on the secure port with a
self-signed certificate unless one is given, plain HTTP on ``--port`` if set), win the Lease
(unless ``--leader-elect=false``), then run the component until SIGINT/SIGTERM (exit 0) or
until leadership is lost (exit 1, as both components exit on "leaderelection lost").
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Protocol

from impl.controllers import leaderelection
from runner.apiserver.client import Endpoint, credentials_folder, endpoint_from_kubeconfig
from runner.errors import InputError
from runner.exit_codes import ExitCode
from runner.served.certs import self_signed
from runner.served.http import HealthApp, HealthServer
from runner.served.leader import Elector
from runner.served.metrics import ClientMetrics


class Runnable(Protocol):
    """A component's work loop."""

    def run(self, stop: threading.Event) -> None: ...


Build = Callable[[Endpoint], tuple[ClientMetrics, Runnable, str]]
"""Makes the component for an endpoint: its metrics, its loop and a line describing it."""


def _tls(args: argparse.Namespace, folder: Path, component: str) -> tuple[Path, Path] | None:
    if not args.secure_port:
        return None
    if bool(args.tls_cert_file) != bool(args.tls_private_key_file):
        raise InputError("give both or neither", field="--tls-cert-file/--tls-private-key-file")
    if args.tls_cert_file:
        return Path(args.tls_cert_file), Path(args.tls_private_key_file)
    cert_dir = Path(args.cert_dir) if args.cert_dir else folder
    cert_dir.mkdir(parents=True, exist_ok=True)
    return self_signed(cert_dir, component)


def election(args: argparse.Namespace) -> leaderelection.ElectionConfig:
    """The Lease and timings of the ``--leader-elect-*`` flags; the identity is hostname_uuid."""
    identity = f"{socket.gethostname()}_{uuid.uuid4()}"
    lease_ms, renew_ms, retry_ms = (
        args.leader_elect_lease_duration,
        args.leader_elect_renew_deadline,
        args.leader_elect_retry_period,
    )
    if not retry_ms < renew_ms < lease_ms:
        raise InputError(
            "need retry period < renew deadline < lease duration", field="--leader-elect-*"
        )
    return leaderelection.ElectionConfig(
        identity=identity,
        lease_duration_ms=lease_ms,
        renew_deadline_ms=renew_ms,
        retry_period_ms=retry_ms,
        name=args.lease,
        namespace=args.leader_elect_resource_namespace,
    )


def serve_component(args: argparse.Namespace, verb: str, component: str, build: Build) -> ExitCode:
    """Serve ``component`` (``kube-scheduler``, ...) as ``kubeoracle serve <verb>``."""
    config = election(args)
    stop = threading.Event()

    def on_signal(signal_number: int, frame: FrameType | None) -> None:
        del signal_number, frame
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with credentials_folder() as folder:
        endpoint = endpoint_from_kubeconfig(Path(args.kubeconfig), folder)
        tls = _tls(args, folder, component)
        metrics, runnable, description = build(endpoint)
        elector = Elector(
            endpoint,
            config,
            lambda leading: metrics.leader.labels(args.lease).set(1 if leading else 0),
        )
        try:
            server = HealthServer(
                HealthApp(metrics.text, lambda: not elector.lost.is_set()),
                args.bind_address,
                args.secure_port,
                args.port,
                tls,
            )
        except OSError as error:
            raise InputError(f"cannot listen: {error}", field="--secure-port/--port") from error
        server.start()
        print(
            f"kubeoracle serve {verb}: serving {' '.join(server.urls())}; {description}",
            flush=True,
        )
        try:
            return _lead_and_run(args, verb, elector, runnable, stop)
        finally:
            server.close()
            print(f"kubeoracle serve {verb}: stopped", file=sys.stderr, flush=True)


def _lead_and_run(
    args: argparse.Namespace,
    verb: str,
    elector: Elector,
    runnable: Runnable,
    stop: threading.Event,
) -> ExitCode:
    lost = threading.Event()
    if args.leader_elect:
        elector.on_status(False)  # a standby reports 0 until it leads
        if not elector.run_until_leader(stop):
            return ExitCode.PASS
        print(f"kubeoracle serve {verb}: leading as {elector.config.identity}", flush=True)
        elector.renew_forever(stop)
        lost = elector.lost
    runnable.run(stop)
    if lost.is_set():
        print(f"kubeoracle serve {verb}: leaderelection lost", file=sys.stderr)
        return ExitCode.VIOLATION
    return ExitCode.PASS
