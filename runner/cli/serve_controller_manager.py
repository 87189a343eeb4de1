"""``kubeoracle serve controller-manager``'s options, with kube-controller-manager's names."""

from __future__ import annotations

import argparse
from typing import Final

from impl.controllers import garbagecollector, leaderelection, replicaset
from runner.cli.serve_component import add_component_options
from runner.exit_codes import ExitCode

MUTANTS: Final = (
    replicaset.IGNORES_EXPECTATIONS,
    replicaset.COUNTS_TERMINATING_AVAILABLE,
    garbagecollector.FORGETS_ORPHANING,
)


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
    add_component_options(parser, 10257, leaderelection.LEASE_NAME)
    parser.add_argument(
        "--controllers",
        default="*",
        help="comma-separated: * for all, NAME to enable, -NAME to disable (default *)",
    )
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
