"""``kubeoracle serve controller-manager``: the reference controllers against any API server.

Start-up follows kube-controller-manager: serve ``/healthz`` and ``/metrics`` (HTTPS on the
secure port with a self-signed certificate unless one is given, plain HTTP on ``--port`` if
set), win the ``kube-system/kube-controller-manager`` Lease (unless ``--leader-elect=false``),
then start the chosen controllers. Losing the Lease ends the process with exit 1, as
kube-controller-manager exits on "leaderelection lost"; SIGINT/SIGTERM end it with exit 0.
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading
import uuid
from pathlib import Path
from types import FrameType
from typing import Any

from impl.controllers import deployment, garbagecollector, leaderelection, replicaset
from impl.controllers.plan import ControllerDef
from models.controllers.config import ControllerConfig
from runner.apiserver.client import credentials_folder, endpoint_from_kubeconfig
from runner.controllers.certs import self_signed
from runner.controllers.http import HealthApp, HealthServer
from runner.controllers.leader import Elector
from runner.controllers.manager import Manager
from runner.controllers.metrics import ManagerMetrics
from runner.errors import InputError
from runner.exit_codes import ExitCode

KNOWN: tuple[ControllerDef[Any], ...] = (
    deployment.DEFINITION,
    replicaset.DEFINITION,
    garbagecollector.DEFINITION,
)


def choose(text: str) -> list[ControllerDef[Any]]:
    """kube-controller-manager's ``--controllers``: ``*`` for all, ``name`` to enable,
    ``-name`` to disable; names or their aliases."""
    by_name = {name: d for d in KNOWN for name in (d.name, *d.aliases)}
    chosen: dict[str, ControllerDef[Any]] = {}
    disabled: set[str] = set()
    for item in (part.strip() for part in text.split(",")):
        name = item.removeprefix("-")
        if item == "*":
            chosen.update((d.name, d) for d in KNOWN)
        elif name in by_name:
            target = by_name[name]
            if item.startswith("-"):
                disabled.add(target.name)
            else:
                chosen[target.name] = target
        else:
            known = ", ".join(sorted(by_name))
            raise InputError(f"{item!r} is not a known controller ({known})", field="--controllers")
    return [d for name, d in sorted(chosen.items()) if name not in disabled]


def _tls(args: argparse.Namespace, folder: Path) -> tuple[Path, Path] | None:
    if not args.secure_port:
        return None
    if bool(args.tls_cert_file) != bool(args.tls_private_key_file):
        raise InputError("give both or neither", field="--tls-cert-file/--tls-private-key-file")
    if args.tls_cert_file:
        return Path(args.tls_cert_file), Path(args.tls_private_key_file)
    cert_dir = Path(args.cert_dir) if args.cert_dir else folder
    cert_dir.mkdir(parents=True, exist_ok=True)
    return self_signed(cert_dir)


def serve(args: argparse.Namespace) -> ExitCode:
    """Serve until SIGINT/SIGTERM (exit 0) or until leadership is lost (exit 1)."""
    definitions = choose(args.controllers)
    config = ControllerConfig(mutant=args.mutant)
    stop = threading.Event()

    def on_signal(signal_number: int, frame: FrameType | None) -> None:
        del signal_number, frame
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with credentials_folder() as folder:
        endpoint = endpoint_from_kubeconfig(Path(args.kubeconfig), folder)
        tls = _tls(args, folder)
        holder: list[Manager] = []
        metrics = ManagerMetrics(
            lambda: holder[0].queues() if holder else {}, endpoint.url.split("://", 1)[1]
        )
        manager = Manager(endpoint, definitions, config, metrics)
        holder.append(manager)
        elector = Elector(
            endpoint,
            _election(args),
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
        names = ", ".join(d.name for d in definitions)
        print(
            f"kubeoracle serve controller-manager: serving {' '.join(server.urls())}; "
            f"controllers {names}",
            flush=True,
        )
        try:
            return _lead_and_run(args, elector, manager, stop)
        finally:
            server.close()
            print("kubeoracle serve controller-manager: stopped", file=sys.stderr, flush=True)


def _lead_and_run(
    args: argparse.Namespace, elector: Elector, manager: Manager, stop: threading.Event
) -> ExitCode:
    lost = threading.Event()
    if args.leader_elect:
        elector.on_status(False)  # a standby reports 0 until it leads
        if not elector.run_until_leader(stop):
            return ExitCode.PASS
        print(
            f"kubeoracle serve controller-manager: leading as {elector.config.identity}", flush=True
        )
        elector.renew_forever(stop)
        lost = elector.lost
    manager.run(stop)
    if lost.is_set():
        print("kubeoracle serve controller-manager: leaderelection lost", file=sys.stderr)
        return ExitCode.VIOLATION
    return ExitCode.PASS


def _election(args: argparse.Namespace) -> leaderelection.ElectionConfig:
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
