"""``kubeoracle serve controller-manager``'s options, with kube-controller-manager's names."""

from __future__ import annotations

import argparse
import re
from typing import Final

from impl.controllers import garbagecollector, leaderelection, replicaset
from runner.cli.options import bounded_int
from runner.exit_codes import ExitCode

MUTANTS: Final = (
    replicaset.IGNORES_EXPECTATIONS,
    replicaset.COUNTS_TERMINATING_AVAILABLE,
    garbagecollector.FORGETS_ORPHANING,
)
_DURATION: Final = re.compile(r"^(\d+)(ms|s|m)$")
_UNIT_MS: Final = {"ms": 1, "s": 1000, "m": 60_000}


def duration_ms(text: str) -> int:
    """A Go duration of one unit (``500ms``, ``15s``, ``1m``) in milliseconds."""
    match = _DURATION.match(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"expected a duration such as 15s or 500ms, got {text!r}")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def go_bool(text: str) -> bool:
    """Go's flag booleans: ``--leader-elect=false``."""
    lowered = text.strip().lower()
    if lowered in ("true", "t", "1"):
        return True
    if lowered in ("false", "f", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def register_controller_manager(
    targets: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    parser = targets.add_parser(
        "controller-manager",
        help="the reference kube-controller-manager against any API server",
        description=(
            "Run the reference controllers against the API server named by --kubeconfig, with "
            "leader election on a Lease and /metrics and /healthz (HTTPS on --secure-port, "
            "plain HTTP on --port). Flags keep kube-controller-manager's names."
        ),
    )
    parser.add_argument("--kubeconfig", required=True, help="the API server and credentials")
    parser.add_argument(
        "--controllers",
        default="*",
        help="comma-separated: * for all, NAME to enable, -NAME to disable (default *)",
    )
    parser.add_argument("--bind-address", default="0.0.0.0", help="default 0.0.0.0")
    parser.add_argument(
        "--secure-port", type=bounded_int(0, 65535), default=10257, help="HTTPS; 0 disables"
    )
    parser.add_argument(
        "--port", type=bounded_int(0, 65535), default=0, help="plain HTTP (the seed's 10252); 0 off"
    )
    parser.add_argument("--cert-dir", default="", help="where the self-signed certificate goes")
    parser.add_argument("--tls-cert-file", default="")
    parser.add_argument("--tls-private-key-file", default="")
    parser.add_argument(
        "--leader-elect", type=go_bool, nargs="?", const=True, default=True, metavar="BOOL"
    )
    parser.add_argument(
        "--leader-elect-lease-duration",
        type=duration_ms,
        default=leaderelection.LEASE_DURATION_MS,
        help="default 15s",
    )
    parser.add_argument(
        "--leader-elect-renew-deadline",
        type=duration_ms,
        default=leaderelection.RENEW_DEADLINE_MS,
        help="default 10s",
    )
    parser.add_argument(
        "--leader-elect-retry-period",
        type=duration_ms,
        default=leaderelection.RETRY_PERIOD_MS,
        help="default 2s",
    )
    parser.add_argument(
        "--leader-elect-resource-name", dest="lease", default=leaderelection.LEASE_NAME
    )
    parser.add_argument("--leader-elect-resource-namespace", default=leaderelection.LEASE_NAMESPACE)
    parser.add_argument(
        "--mutant",
        choices=MUTANTS,
        default="",
        help="run a deliberately broken controller, to show the checkers catching it",
    )
    parser.set_defaults(handler=serve_controller_manager)


def serve_controller_manager(args: argparse.Namespace) -> ExitCode:
    from runner.controllers.serve import serve

    return serve(args)
