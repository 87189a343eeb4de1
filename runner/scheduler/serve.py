"""``kubeoracle serve scheduler``: the reference kube-scheduler against any API server.

Start-up is the shared one of :mod:`runner.served.component` (``/healthz`` and ``/metrics`` on
kube-scheduler's secure port 10259, the ``kube-system/kube-scheduler`` Lease with 15s/10s/2s,
or the Lease of the configuration's ``leaderElection``, flags given overriding it), then
:class:`~runner.scheduler.live.LiveScheduler` runs every profile of the
KubeSchedulerConfiguration (``--config``; kube-scheduler's defaults without one) in one process.
"""

from __future__ import annotations

import argparse
import socket

from models.scheduler_config import SchedulerConfiguration
from runner.apiserver.client import Endpoint
from runner.exit_codes import ExitCode
from runner.scheduler.inputs import load_configuration, scheduler_config
from runner.scheduler.live import LiveScheduler
from runner.scheduler.metrics import SchedulerMetrics
from runner.scheduler.timing import PluginTimer, timed_config
from runner.served.component import serve_component


def leader_election_flags(args: argparse.Namespace, configuration: SchedulerConfiguration) -> None:
    """kube-scheduler's rule: ``--leader-elect*`` flags given on the command line override the
    configuration's ``leaderElection``; the others take its values (or its defaults)."""
    election = configuration.leader_election
    for name, value in (
        ("leader_elect", election.leader_elect),
        ("leader_elect_lease_duration", election.lease_duration_ms),
        ("leader_elect_renew_deadline", election.renew_deadline_ms),
        ("leader_elect_retry_period", election.retry_period_ms),
        ("lease", election.resource_name),
        ("leader_elect_resource_namespace", election.resource_namespace),
    ):
        if getattr(args, name) is None:
            setattr(args, name, value)


def serve(args: argparse.Namespace) -> ExitCode:
    """Serve until SIGINT/SIGTERM (exit 0) or until leadership is lost (exit 1)."""
    configuration = load_configuration(args.config)
    config = scheduler_config(args.config, args.feature_gates, configuration)
    leader_election_flags(args, configuration)

    def build(endpoint: Endpoint) -> tuple[SchedulerMetrics, LiveScheduler, str]:
        holder: list[LiveScheduler] = []
        metrics = SchedulerMetrics(
            lambda: holder[0].state if holder else None,
            endpoint.url.split("://", 1)[1],
            lambda: holder[0].binder.in_flight if holder else 0,
        )
        timer = PluginTimer(metrics.observe_plugin)
        scheduler = LiveScheduler(
            endpoint,
            timed_config(config, timer),
            metrics,
            seed=args.seed,
            instance=socket.gethostname(),
            timer=timer,
        )
        holder.append(scheduler)
        profiles = ", ".join(config.profiles)
        return metrics, scheduler, f"profiles {profiles}"

    return serve_component(args, "scheduler", "kube-scheduler", build)
