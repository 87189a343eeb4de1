"""``kubeoracle serve etcd``: the reference etcd over etcd 3.4's v3 gRPC API and JSON gateway.

Both protocols share one port, as in etcd: etcdctl, etcd's Go client and other gRPC clients,
and any client of the gateway (curl, etcd3gw, ``kubeoracle conform etcd --endpoints``) can use it.
It prints ``listening on URL`` once the port is bound and serves until interrupted.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import msgspec

from runner.apiserver import MUTANTS
from runner.cli import apiserver_security, serve_proxy
from runner.cli.options import bounded_float, positive_seconds
from runner.cli.output import add_output_option
from runner.cli.serve_cluster import register_cluster
from runner.cli.serve_controller_manager import register_controller_manager
from runner.cli.serve_kubelet import register_kubelet
from runner.cli.serve_scheduler import register_scheduler
from runner.errors import InputError
from runner.exit_codes import ExitCode

if TYPE_CHECKING:
    from runner.cli.output import VerbParsers

DEFAULT_SECURE_PORT = 6443
"""kube-apiserver's ``--secure-port`` default, served when no port is asked for."""


def register(verbs: VerbParsers) -> None:
    """Add ``serve`` with its ``etcd``, ``apiserver``, ``controller-manager`` and ``scheduler``
    targets."""
    parser = verbs.add_parser("serve", help="serve a reference component over its real API")
    targets = parser.add_subparsers(dest="target", metavar="<target>", required=True)
    etcd = targets.add_parser(
        "etcd", help="the reference etcd over etcd's v3 gRPC API and JSON gateway (one port)"
    )
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
        type=positive_seconds,
        default=0.5,
        help="seconds between watch progress notifications (default 0.5)",
    )
    etcd.add_argument(
        "--body-read-timeout",
        type=bounded_float(0, 86_400),
        default=30.0,
        help="seconds a unary request's body may take to arrive before the answer is 408 "
        "(default 30; etcd waits for ever)",
    )
    etcd.add_argument(
        "--auth-token-ttl",
        type=bounded_float(0, 86_400 * 365),
        default=300.0,
        help="seconds an unused auth token stays valid (default 300, etcd's --auth-token-ttl)",
    )
    etcd.add_argument(
        "--strict-fields",
        action="store_true",
        help="refuse request fields etcd does not know, naming them (etcd ignores them)",
    )
    add_output_option(etcd)
    etcd.set_defaults(handler=serve_etcd)
    _register_apiserver(targets)
    register_controller_manager(targets)
    register_scheduler(targets)
    register_kubelet(targets)
    register_cluster(targets)


def _register_apiserver(targets: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    apiserver = targets.add_parser(
        "apiserver",
        help="the reference kube-apiserver, for kubectl and client libraries",
        description=(
            "Serve the Kubernetes API on the in-process reference etcd. Flags keep "
            "kube-apiserver's names. --secure-port serves HTTPS with authentication and "
            "authorization (RBAC by default); --insecure-port serves plain HTTP with no "
            "authentication. With neither, HTTPS on 6443 only, as kube-apiserver."
        ),
    )
    apiserver.add_argument(
        "--insecure-port",
        type=int,
        default=None,
        help="plain HTTP port without authentication (0 picks a free port; default: off, "
        "and without --secure-port too: HTTPS on 6443)",
    )
    apiserver.add_argument(
        "--bind-address",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: loopback only)",
    )
    apiserver.add_argument(
        "--service-cluster-ip-range",
        default="10.0.0.0/24",
        help="CIDR that Service cluster IPs come from (default 10.0.0.0/24)",
    )
    apiserver.add_argument(
        "--write-kubeconfig",
        metavar="FILE",
        type=Path,
        help="write a kubeconfig for this server to FILE once it listens",
    )
    apiserver.add_argument(
        "--etcd-servers",
        metavar="URL,...",
        help="store in a real etcd through its v3 API (http://host:port, comma-separated) "
        "instead of the in-process reference etcd",
    )
    apiserver.add_argument(
        "--mutant",
        choices=MUTANTS,
        default="",
        help="serve a deliberately broken server, to show conform apiserver catching it",
    )
    apiserver.add_argument(
        "--watch-cache-size",
        type=int,
        default=1000,
        help="revisions the watch cache keeps for watches to resume from (default 1000)",
    )
    apiserver.add_argument(
        "--metric-resolution",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="serve metrics.k8s.io (kubectl top), scraping every node's kubelet "
        "/metrics/resource this often, as metrics-server does (default 15; 0: not served)",
    )
    apiserver_security.add_arguments(apiserver)
    apiserver.set_defaults(handler=serve_apiserver)
    serve_proxy.add_target(targets)


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
            address,
            backend,
            args.progress_notify_interval,
            strict_fields=args.strict_fields,
            body_read_timeout_seconds=args.body_read_timeout,
            auth_token_ttl_seconds=args.auth_token_ttl,
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


def _service_range(text: str) -> str:
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InputError(
            f"expected a CIDR such as 10.0.0.0/24, got {text!r}", field="--service-cluster-ip-range"
        ) from None
    if network.version != 4 or network.num_addresses < 8:
        raise InputError(
            "must be an IPv4 range of at least 8 addresses", field="--service-cluster-ip-range"
        )
    return str(network)


def _etcd_servers(text: str) -> list[str]:
    servers = [part.strip() for part in text.split(",") if part.strip()]
    for server in servers:
        host, _, port = server.removeprefix("http://").rstrip("/").rpartition(":")
        if not server.startswith("http://") or not host or not port.isdigit():
            raise InputError(
                f"expected http://HOST:PORT, got {server!r} (https is not supported yet)",
                field="--etcd-servers",
            )
    if not servers:
        raise InputError("no server given", field="--etcd-servers")
    return servers


def _wait_for_signal() -> None:
    stopped = threading.Event()

    def on_signal(signal_number: int, frame: FrameType | None) -> None:
        del signal_number, frame
        stopped.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    stopped.wait()


def serve_apiserver(args: argparse.Namespace) -> ExitCode:
    """Serve until SIGINT or SIGTERM."""
    from impl.apiserver.context import builtin_config
    from runner.apiserver.bootstrap import kubernetes_service_ip
    from runner.apiserver.kubeconfig import kubeconfig_text
    from runner.apiserver.server import ApiHttpServer, SecurePortError, start_in_thread
    from runner.input_files import check_output_path, write_output

    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
    if args.insecure_port is None and args.secure_port is None:
        args.secure_port = DEFAULT_SECURE_PORT  # kube-apiserver's default; it has no HTTP port
    if args.insecure_port is not None and not 0 <= args.insecure_port <= 65535:
        raise InputError("must be a port number (0-65535)", field="--insecure-port")
    if not 1 <= args.watch_cache_size <= 1_000_000:
        raise InputError("must be between 1 and 1000000", field="--watch-cache-size")
    if not (args.metric_resolution == 0 or 1 <= args.metric_resolution <= 3600):
        raise InputError(
            "must be 0 (off) or between 1 and 3600 seconds", field="--metric-resolution"
        )
    if args.write_kubeconfig is not None:
        check_output_path(args.write_kubeconfig, "kubeconfig")
    config = builtin_config(
        service_cluster_ip_range=_service_range(args.service_cluster_ip_range),
        watch_cache_capacity=args.watch_cache_size,
    )
    files = apiserver_security.secure_files(args, kubernetes_service_ip(config))
    config = msgspec.structs.replace(
        config,
        auth=apiserver_security.auth_config(args, files),
        admission_plugins=apiserver_security.admission_plugins(args),
    )
    address = (args.bind_address, args.insecure_port) if args.insecure_port is not None else None
    secure = ((args.bind_address, args.secure_port), files) if files is not None else None
    etcd_servers = _etcd_servers(args.etcd_servers) if args.etcd_servers else None
    try:
        server = ApiHttpServer(
            address,
            config,
            etcd_servers=etcd_servers,
            mutant=args.mutant,
            secure=secure,
            metric_resolution_seconds=args.metric_resolution,
        )
    except SecurePortError as error:
        where = f"{args.bind_address}:{args.secure_port}"
        raise InputError(f"cannot listen on {where}: {error}", field="--secure-port") from error
    except OSError as error:
        where = f"{args.bind_address}:{args.insecure_port}"
        raise InputError(f"cannot listen on {where}: {error}", field="--insecure-port") from error
    thread = start_in_thread(server)
    if args.write_kubeconfig is not None:
        text = (
            apiserver_security.admin_kubeconfig(server.secure_url, files)
            if files is not None
            else kubeconfig_text(server.url)
        )
        write_output(args.write_kubeconfig, text, "kubeconfig")
        args.write_kubeconfig.chmod(0o600)
    if address is not None:
        print(f"kubeoracle serve apiserver: listening on {server.url}", flush=True)
    if files is not None:
        print(f"kubeoracle serve apiserver: listening on {server.secure_url}", flush=True)
        if files.admin_cert is not None:
            print(f"kubeoracle serve apiserver: certificates in {files.cert.parent}", flush=True)
    _wait_for_signal()
    server.close()
    thread.join(timeout=5)
    print("kubeoracle serve apiserver: stopped", file=sys.stderr, flush=True)
    return ExitCode.PASS
