"""``kubeoracle serve proxy --kubeconfig F --mode iptables|nftables|ipvs|userspace [--dry-run]``:
the reference kube-proxy, watching Services and EndpointSlices through any API server and
keeping the rules in sync.

Without ``--dry-run`` the rules go to this host's kernel (root; iptables, nft) or, in
userspace mode, to a local TCP/UDP proxy; the ipvs mode runs only with ``--dry-run`` (its rules
are not loaded into a kernel: the kernels here have no IPVS; judge them with ``check proxy``).
With ``--dry-run`` each sync prints its rules (the ``iptables-restore`` input, the ``nft -f``
transaction, the ``ipvsadm``/``ipset``/iptables inputs, or the userspace routes) and a unified
diff against the previous sync. The node is
``--hostname-override`` with addresses ``--node-ip``; ``--config`` reads a
KubeProxyConfiguration (flags win). ``/metrics`` (kube-proxy's metric names) and ``/healthz``
are served over HTTP on ``--metrics-bind-address`` (default 127.0.0.1:10249; ``0`` or empty
disables; a port that cannot be bound is reported and skipped, as kube-proxy does without
``bindAddressHardFail``). Exit codes: 0 stopped (Ctrl-C, ``--duration``, ``--max-syncs``),
2 bad input.
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from models.kubernetes_version import KUBERNETES_VERSION
from models.proxy.config import PROXY_MODES
from runner.exit_codes import ExitCode

if TYPE_CHECKING:
    from runner.apiserver.client import Endpoint


def add_target(targets: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = targets.add_parser(
        "proxy",
        help=f"the reference kube-proxy ({KUBERNETES_VERSION}) against any API server",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--kubeconfig", required=True, help="kubeconfig of the API server")
    parser.add_argument("--mode", choices=PROXY_MODES, default="iptables")
    parser.add_argument("--dry-run", action="store_true", help="print rules and diffs only")
    parser.add_argument("--config", help="a KubeProxyConfiguration file")
    parser.add_argument("--hostname-override", help="this node's name (default: the hostname)")
    parser.add_argument("--node-ip", action="append", default=[], help="a node address (repeat)")
    parser.add_argument("--cluster-cidr", help="pod CIDRs, comma-separated")
    parser.add_argument("--masquerade-all", action="store_true")
    parser.add_argument(
        "--metrics-bind-address",
        help="HOST:PORT of /metrics and /healthz (default 127.0.0.1:10249; 0 disables)",
    )
    parser.add_argument("--max-syncs", type=int, help="stop after this many syncs")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> ExitCode:
    from runner.apiserver.client import credentials_folder, endpoint_from_kubeconfig
    from runner.errors import InputError

    if args.mode == "ipvs" and not args.dry_run:
        raise InputError(
            "--mode ipvs runs only with --dry-run: ipvs rules are not loaded into a kernel here "
            "(no IPVS; judge them with check proxy)"
        )
    with credentials_folder() as folder:
        return _serve(args, endpoint_from_kubeconfig(Path(args.kubeconfig), folder))


def _serve(args: argparse.Namespace, server: Endpoint) -> ExitCode:
    import msgspec

    from models.k8s.codec import decode_data
    from models.k8s.core.node import Node
    from models.proxy.inputs import KubeProxyConfiguration, ProxyInputs
    from models.proxy.state import ProxyMachineConfig
    from runner.errors import InputError
    from runner.proxy.inputs import load_config, load_inputs
    from runner.proxy.metrics import (
        DEFAULT_BIND_ADDRESS,
        ProxyMetrics,
        metrics_server,
        parse_bind_address,
    )
    from runner.proxy.serve import ProxyServer

    configuration = KubeProxyConfiguration()
    if args.config:
        found = load_inputs(args.config, require_services=False).configuration
        if found is None:
            raise InputError("no KubeProxyConfiguration object found", source=args.config)
        configuration = found
    bind_address = parse_bind_address(
        args.metrics_bind_address
        if args.metrics_bind_address is not None
        else configuration.metrics_bind_address or DEFAULT_BIND_ADDRESS
    )
    name = args.hostname_override or configuration.hostname_override or socket.gethostname()
    overrides: dict[str, object] = {"hostname_override": name}
    if args.cluster_cidr:
        overrides["cluster_cidr"] = args.cluster_cidr
    configuration = msgspec.structs.replace(configuration, **overrides)
    addresses = [{"type": "InternalIP", "address": ip} for ip in args.node_ip or ["127.0.0.1"]]
    node = decode_data({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
                        "status": {"addresses": addresses}})  # fmt: skip
    decoded = node.unwrap()
    if not isinstance(decoded, Node):
        raise InputError("--node-ip: not an address")
    inputs = ProxyInputs(nodes=(decoded,), configuration=configuration)
    proxy = load_config(args.config or "--node-ip", inputs, args.mode)
    if args.masquerade_all:
        proxy = msgspec.structs.replace(proxy, masquerade_all=True)
    machine = ProxyMachineConfig(proxy=proxy, mode=args.mode)
    metrics = ProxyMetrics(args.mode)
    loop = ProxyServer(server, machine, sys.stdout, dry_run=args.dry_run, metrics=metrics)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        loop.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    listener = None
    if bind_address is not None:
        try:
            listener = metrics_server(metrics, bind_address)
        except InputError as error:
            print(f"kubeoracle serve proxy: metrics server not started: {error}", file=sys.stderr)
    if listener is not None:
        listener.start()
        print(f"# metrics: {' '.join(listener.urls())}/metrics", flush=True)
    try:
        loop.run(max_syncs=args.max_syncs, duration_seconds=args.duration)
    finally:
        if listener is not None:
            listener.close()
    return ExitCode.PASS
