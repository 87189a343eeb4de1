"""``kubeoracle serve etcd``: the reference etcd over etcd 3.4's v3 JSON gateway.

Any client of the gateway (curl, etcd3gw, ``kubeoracle conform etcd --endpoints``) can use it.
It prints ``listening on URL`` once the port is bound and serves until interrupted.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING

from runner.cli.output import add_output_option
from runner.errors import InputError
from runner.exit_codes import ExitCode

if TYPE_CHECKING:
    from runner.cli.output import VerbParsers


def register(verbs: VerbParsers) -> None:
    """Add ``serve`` with its ``etcd`` target."""
    parser = verbs.add_parser("serve", help="serve a reference component over its real API")
    targets = parser.add_subparsers(dest="target", metavar="<target>", required=True)
    etcd = targets.add_parser("etcd", help="the reference etcd over the v3 JSON gateway")
    etcd.add_argument(
        "--listen",
        default="127.0.0.1:2379",
        help="HOST:PORT to listen on (default 127.0.0.1:2379; port 0 picks a free port)",
    )
    etcd.add_argument(
        "--members",
        type=int,
        default=3,
        help="Raft members simulated in the process (default 3; 0: one member without Raft)",
    )
    etcd.add_argument(
        "--progress-notify-interval",
        type=float,
        default=0.5,
        help="seconds between watch progress notifications (default 0.5)",
    )
    etcd.add_argument(
        "--strict-fields",
        action="store_true",
        help="refuse request fields etcd does not know, naming them (etcd ignores them)",
    )
    add_output_option(etcd)
    etcd.set_defaults(handler=serve_etcd)


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` to a socket address."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise InputError(f"expected HOST:PORT, got {text!r}", field="--listen")
    return host, int(port)


def serve_etcd(args: argparse.Namespace) -> ExitCode:
    """Serve until SIGINT or SIGTERM."""
    from runner.etcd.backend import make_backend
    from runner.etcd.server import GatewayServer, start_in_thread

    address = parse_listen(args.listen)
    if not 0 <= args.members <= 9:
        raise InputError("--members must be between 0 and 9", field="--members")
    backend = make_backend(args.members)
    try:
        server = GatewayServer(
            address, backend, args.progress_notify_interval, strict_fields=args.strict_fields
        )
    except OSError as error:
        backend.close()
        raise InputError(f"cannot listen on {args.listen}: {error}", field="--listen") from error
    stopped = threading.Event()

    def on_signal(signal_number: int, frame: FrameType | None) -> None:
        del signal_number, frame
        stopped.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    thread = start_in_thread(server)
    print(
        f"kubeoracle serve etcd: listening on {server.url} ({args.members} member(s))",
        flush=True,
    )
    stopped.wait()
    server.close()
    thread.join(timeout=5)
    print("kubeoracle serve etcd: stopped", file=sys.stderr, flush=True)
    return ExitCode.PASS
