"""``kubeoracle serve kubelet``'s options."""

from __future__ import annotations

import argparse

from models.kubelet.config import MUTANTS
from runner.cli.options import bounded_float, bounded_int
from runner.errors import InputError
from runner.exit_codes import ExitCode


def register_kubelet(targets: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = targets.add_parser(
        "kubelet",
        help="N reference kubelets in one process against any API server",
        description=(
            "Run --nodes kubelets against the API server named by --kubeconfig: each registers "
            "its Node, renews its Lease in kube-node-lease every 10 s, posts NodeStatus, and "
            "runs the pods bound to it on the simulated runtime (container behaviour scripted "
            "by sim.kubeoracle.io/<container>.<field> annotations; see docs/kubelet.md)."
        ),
    )
    parser.add_argument("--kubeconfig", required=True, help="the API server and credentials")
    parser.add_argument(
        "--nodes", type=bounded_int(1, 10_000), default=1, help="kubelets to run (default 1)"
    )
    parser.add_argument(
        "--runtime",
        choices=("simulated", "process"),
        default="simulated",
        help="the container runtime: simulated (default; scripted by annotations) or process "
        "(each container's command and args run as a local process)",
    )
    parser.add_argument(
        "--port",
        type=bounded_int(1, 65535),
        default=None,
        help="node i serves the kubelet API (logs, stats, /metrics/resource for kubectl top) "
        "on its IP at PORT+i (PORT+NODES-1 must be a port too); default 10250 with --runtime "
        "process, none with the simulated runtime",
    )
    parser.add_argument(
        "--node-name-prefix", default="kubeoracle-node-", help="node i is named PREFIX<i>"
    )
    parser.add_argument(
        "--writers",
        type=bounded_int(1, 64),
        default=4,
        help="threads writing to the API server (default 4)",
    )
    parser.add_argument(
        "--report-every",
        type=bounded_float(0.1, 3600),
        default=10.0,
        help="seconds between progress lines (default 10)",
    )
    parser.add_argument(
        "--mutant",
        choices=MUTANTS,
        default="",
        help="run a deliberately broken kubelet, to show the checkers catching it",
    )
    parser.set_defaults(handler=serve_kubelet)


def serve_kubelet(args: argparse.Namespace) -> ExitCode:
    from runner.kubelet.serve import serve

    if args.port is None and args.runtime == "process":
        args.port = 10250
    last = (args.port or 0) + args.nodes - 1
    if args.port is not None and last > 65535:
        raise InputError(
            f"node {args.nodes - 1} would serve on port {last}, past 65535 "
            f"(--port {args.port} with --nodes {args.nodes})",
            field="--port",
        )

    return serve(args)
