"""``kubeoracle serve scheduler``'s options, with kube-scheduler's names."""

from __future__ import annotations

import argparse

from impl.controllers import leaderelection
from runner.cli.schedule import add_gates_option
from runner.cli.serve_component import add_component_options
from runner.exit_codes import ExitCode


def register_scheduler(targets: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = targets.add_parser(
        "scheduler",
        help="the reference kube-scheduler against any API server",
        description=(
            "Schedule the pods of the API server named by --kubeconfig whose schedulerName is "
            "one of the profiles of --config (default-scheduler without one): bind them through "
            "pods/binding, record Scheduled and FailedScheduling events and set the "
            "PodScheduled condition. Leader election on the kube-system/kube-scheduler Lease; "
            "/metrics and /healthz on HTTPS --secure-port and plain HTTP --port. Flags keep "
            "kube-scheduler's names; --leader-elect* flags given override the configuration's "
            "leaderElection."
        ),
    )
    add_component_options(parser, 10259, leaderelection.SCHEDULER_LEASE_NAME, from_config=True)
    parser.add_argument("--config", help="a KubeSchedulerConfiguration (v1) YAML file")
    add_gates_option(parser)
    parser.add_argument(
        "--seed",
        type=int,
        help="seed for breaking ties among top-scoring nodes (default: from the system)",
    )
    parser.set_defaults(handler=serve_scheduler)


def serve_scheduler(args: argparse.Namespace) -> ExitCode:
    from runner.scheduler.serve import serve

    return serve(args)
