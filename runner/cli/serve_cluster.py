"""``kubeoracle serve cluster``'s options: a whole cluster (API server, two controller
managers, scheduler, N kubelets, kube-proxy) for kubectl, in one command."""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from pathlib import Path
from types import FrameType

from runner.cli.options import bounded_float, bounded_int
from runner.errors import InputError
from runner.exit_codes import ExitCode

PROXY_MODES = ("userspace", "iptables", "nftables", "none")


def register_cluster(targets: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = targets.add_parser(
        "cluster",
        help="a whole reference cluster for kubectl: API server, controller managers, "
        "scheduler, N kubelets and kube-proxy",
        description=(
            "Start the reference API server on an HTTPS secure port (generated PKI, RBAC), two "
            "controller managers with leader election on the kube-system/kube-controller-"
            "manager Lease, the scheduler, --nodes kubelets and kube-proxy, each in its own "
            "process as its own serve verb runs it. When every node is Ready and both Leases "
            "are held, the admin kubeconfig is written to --write-kubeconfig. Serves until "
            "SIGINT or SIGTERM (exit 0); a component that fails ends it (exit 1). See "
            "docs/serve-cluster.md."
        ),
    )
    parser.add_argument(
        "--write-kubeconfig",
        metavar="FILE",
        type=Path,
        required=True,
        help="where the admin kubeconfig goes once the cluster is ready (an old file there is "
        "removed at start)",
    )
    parser.add_argument(
        "--nodes", type=bounded_int(1, 1000), default=1, help="kubelets to run (default 1)"
    )
    parser.add_argument(
        "--runtime",
        choices=("simulated", "process"),
        default="simulated",
        help="the kubelets' container runtime: simulated (default: containers scripted by "
        "annotations) or process (each container's command runs as a local process)",
    )
    parser.add_argument(
        "--secure-port",
        type=bounded_int(0, 65535),
        default=0,
        help="the API server's HTTPS port (default 0: a free port, written to the kubeconfig)",
    )
    parser.add_argument(
        "--bind-address",
        default="127.0.0.1",
        help="the API server's address (default 127.0.0.1)",
    )
    parser.add_argument(
        "--proxy-mode",
        choices=PROXY_MODES,
        default="userspace",
        help="kube-proxy's mode: userspace (default: a local TCP/UDP proxy per Service port, no "
        "root needed), iptables or nftables (the host's kernel: root), or none",
    )
    parser.add_argument(
        "--proxy-dry-run",
        action="store_true",
        help="kube-proxy prints its rules to its log instead of applying them",
    )
    parser.add_argument(
        "--kubelet-port",
        type=bounded_int(1, 65535),
        default=10250,
        help="with --runtime process: node i serves the kubelet API on port PORT+i (default 10250)",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        help="where the PKI, the components' kubeconfig and their logs go (default: a new "
        "temporary folder, removed after a clean stop)",
    )
    parser.add_argument(
        "--wait",
        type=bounded_float(1, 3600),
        default=120.0,
        help="seconds the cluster may take to become ready (default 120)",
    )
    parser.set_defaults(handler=serve_cluster)


def serve_cluster(args: argparse.Namespace) -> ExitCode:
    """Serve until SIGINT or SIGTERM."""
    from runner.input_files import check_output_path
    from runner.served.cluster import VERB, Cluster, ClusterConfig, remove_folder

    check_output_path(args.write_kubeconfig, "kubeconfig")
    if args.runtime == "process" and args.kubelet_port + args.nodes - 1 > 65535:
        raise InputError(
            f"node {args.nodes - 1} would serve on port {args.kubelet_port + args.nodes - 1}, "
            f"past 65535 (--kubelet-port {args.kubelet_port} with --nodes {args.nodes})",
            field="--kubelet-port",
        )
    if args.proxy_dry_run and args.proxy_mode == "none":
        raise InputError("there is no kube-proxy to dry-run", field="--proxy-dry-run")
    if args.dir is not None:
        if args.dir.exists() and not args.dir.is_dir():
            raise InputError("not a folder", field="--dir", source=str(args.dir))
        try:
            args.dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputError(f"cannot create it: {error}", field="--dir") from error
    # an old file is removed now, so that the file appearing means the cluster is ready
    try:
        args.write_kubeconfig.unlink(missing_ok=True)
    except OSError as error:
        raise InputError(f"cannot replace it: {error}", source=str(args.write_kubeconfig)) from None
    folder = args.dir or Path(tempfile.mkdtemp(prefix="kubeoracle-cluster-"))
    config = ClusterConfig(
        nodes=args.nodes,
        runtime=args.runtime,
        kubeconfig=args.write_kubeconfig,
        folder=folder,
        bind_address=args.bind_address,
        secure_port=args.secure_port,
        proxy_mode=args.proxy_mode,
        proxy_dry_run=args.proxy_dry_run,
        kubelet_port=args.kubelet_port,
        wait_seconds=args.wait,
    )

    def say(line: str) -> None:
        print(f"{VERB}: {line}", flush=True)

    cluster = Cluster(config, say)

    def on_signal(signal_number: int, frame: FrameType | None) -> None:
        del signal_number, frame
        cluster.stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    code = cluster.serve()
    if args.dir is None:
        if code == ExitCode.PASS:
            remove_folder(folder)
        else:
            print(f"{VERB}: logs kept in {folder / 'logs'}", file=sys.stderr, flush=True)
    return code
