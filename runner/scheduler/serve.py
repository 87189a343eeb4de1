"""``kubeoracle serve scheduler``: the reference kube-scheduler against any API server.

Start-up is the shared one of :mod:`runner.served.component` (``/healthz`` and ``/metrics`` on
kube-scheduler's secure port 10259, the ``kube-system/kube-scheduler`` Lease with 15s/10s/2s),
then :class:`~runner.scheduler.live.LiveScheduler` runs every profile of the
KubeSchedulerConfiguration (``--config``; kube-scheduler's defaults without one) in one process.
"""

from __future__ import annotations

import argparse
import socket

from runner.apiserver.client import Endpoint
from runner.exit_codes import ExitCode
from runner.scheduler.inputs import scheduler_config
from runner.scheduler.live import LiveScheduler
from runner.scheduler.metrics import SchedulerMetrics
from runner.scheduler.timing import PluginTimer, timed_config
from runner.served.component import serve_component


def serve(args: argparse.Namespace) -> ExitCode:
    """Serve until SIGINT/SIGTERM (exit 0) or until leadership is lost (exit 1)."""
    config = scheduler_config(args.config, args.feature_gates)

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
