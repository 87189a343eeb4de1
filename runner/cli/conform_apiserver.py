"""``kubeoracle conform apiserver``: drive an API server (ours, a real kube-apiserver, k3s,
KWOK's) with a seeded concurrent workload and watches in a fresh namespace, then check the
recorded history: the API properties and each object's linearizability.

Exit codes: 0 pass, 1 a property is violated or an object's history is not linearizable,
2 bad flags or an unreachable server, 3 inconclusive (the search ran out, or the run did not
exercise what a property guards).
"""

from __future__ import annotations

import argparse
import secrets
from pathlib import Path

from runner.cli.output import add_output_option, emit
from runner.errors import InputError
from runner.exit_codes import ExitCode
from runner.progress import timed


def register_target(targets: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    apiserver = targets.add_parser(
        "apiserver",
        help="an API server: seeded concurrent workload and watches, properties, linearizability",
    )
    apiserver.add_argument("--server", default="", help="the API server's URL (http or https)")
    apiserver.add_argument(
        "--kubeconfig",
        type=Path,
        help="take the server and credentials from this kubeconfig's current context",
    )
    apiserver.add_argument("--seed", type=int, default=1, help="seed of the workload (default 1)")
    apiserver.add_argument(
        "--duration", type=float, default=5.0, help="seconds of workload (default 5)"
    )
    apiserver.add_argument("--clients", type=int, default=4, help="concurrent clients (default 4)")
    apiserver.add_argument("--watchers", type=int, default=2, help="watch streams (default 2)")
    apiserver.add_argument(
        "--history", type=Path, help="also write the recorded history (JSON) to this file"
    )
    add_output_option(apiserver)
    apiserver.set_defaults(handler=conform_apiserver)


def conform_apiserver(args: argparse.Namespace) -> ExitCode:
    """Run the workload in a fresh namespace, remove it, check, report."""
    import msgspec

    from runner.apiserver.client import (
        ApiClient,
        Endpoint,
        credentials_folder,
        endpoint_from_kubeconfig,
    )
    from runner.apiserver.conform import run_workload
    from runner.apiserver.conform_check import judge, summary
    from runner.input_files import check_output_path, write_output

    if bool(args.server) == (args.kubeconfig is not None):
        raise InputError("give either --server or --kubeconfig")
    if args.duration <= 0 or args.clients < 1 or args.watchers < 0:
        raise InputError("--duration must be positive, --clients at least 1, --watchers >= 0")
    if args.history is not None:
        check_output_path(args.history, "history")
    with credentials_folder() as folder:
        if args.kubeconfig is not None:
            endpoint = endpoint_from_kubeconfig(args.kubeconfig, folder)
        else:
            if not args.server.startswith(("http://", "https://")):
                raise InputError(f"expected an http(s) URL, got {args.server!r}", field="--server")
            endpoint = Endpoint(url=args.server.rstrip("/"))
        namespace = f"kubeoracle-conform-{args.seed}-{secrets.token_hex(3)}"
        client = ApiClient(endpoint)
        status, answer = client.request(
            "POST", "/api/v1/namespaces", {"metadata": {"name": namespace}}
        )
        if status != 201:
            raise InputError(f"cannot create namespace {namespace}: {status} {answer}")
        try:
            with timed("conform apiserver: workload", args.duration, args.output):
                history = run_workload(
                    endpoint, namespace, args.seed, args.duration, args.clients, args.watchers
                )
        finally:
            client.request("DELETE", f"/api/v1/namespaces/{namespace}")
            client.close()
    if args.history is not None:
        write_output(args.history, msgspec.json.encode(history), "history")
    code, report = judge(history)
    emit(report, args.output, summary)
    return code
