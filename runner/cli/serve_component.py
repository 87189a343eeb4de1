"""The options every served component shares (``serve controller-manager``, ``serve
scheduler``), with the Kubernetes components' flag names and Go's flag syntax."""

from __future__ import annotations

import argparse
import re
from typing import Final

from impl.controllers import leaderelection
from runner.cli.options import bounded_int

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


def add_component_options(
    parser: argparse.ArgumentParser, secure_port: int, lease: str, from_config: bool = False
) -> None:
    """``--kubeconfig``, the serving flags and the ``--leader-elect*`` flags (Lease ``lease``
    in kube-system, 15s/10s/2s). With ``from_config`` the ``--leader-elect*`` flags default to
    None: the component takes what its configuration file says for those not given."""
    parser.add_argument("--kubeconfig", required=True, help="the API server and credentials")
    parser.add_argument("--bind-address", default="0.0.0.0", help="default 0.0.0.0")
    parser.add_argument(
        "--secure-port",
        type=bounded_int(0, 65535),
        default=secure_port,
        help=f"HTTPS for /metrics and /healthz (default {secure_port}); 0 disables",
    )
    parser.add_argument(
        "--port", type=bounded_int(0, 65535), default=0, help="plain HTTP (insecure); 0 off"
    )
    parser.add_argument("--cert-dir", default="", help="where the self-signed certificate goes")
    parser.add_argument("--tls-cert-file", default="")
    parser.add_argument("--tls-private-key-file", default="")

    def default(value: object) -> object:
        return None if from_config else value

    parser.add_argument(
        "--leader-elect",
        type=go_bool,
        nargs="?",
        const=True,
        default=default(True),
        metavar="BOOL",
    )
    parser.add_argument(
        "--leader-elect-lease-duration",
        type=duration_ms,
        default=default(leaderelection.LEASE_DURATION_MS),
        help="default 15s",
    )
    parser.add_argument(
        "--leader-elect-renew-deadline",
        type=duration_ms,
        default=default(leaderelection.RENEW_DEADLINE_MS),
        help="default 10s",
    )
    parser.add_argument(
        "--leader-elect-retry-period",
        type=duration_ms,
        default=default(leaderelection.RETRY_PERIOD_MS),
        help="default 2s",
    )
    parser.add_argument("--leader-elect-resource-name", dest="lease", default=default(lease))
    parser.add_argument(
        "--leader-elect-resource-namespace", default=default(leaderelection.LEASE_NAMESPACE)
    )
