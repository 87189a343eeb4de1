"""``kubeoracle serve controller-manager``: the reference controllers against any API server.

Start-up is the shared one of :mod:`runner.served.component` (``/healthz`` and ``/metrics``,
the ``kube-system/kube-controller-manager`` Lease), then the chosen controllers run.
"""

from __future__ import annotations

import argparse
from typing import Any

from impl.controllers import (
    deployment,
    disruption,
    endpoints,
    endpointslice,
    garbagecollector,
    job,
    nodelifecycle,
    replicaset,
    tainteviction,
)
from impl.controllers.plan import ControllerDef
from models.controllers.config import ControllerConfig
from runner.apiserver.client import Endpoint
from runner.controllers.manager import Manager
from runner.controllers.metrics import ManagerMetrics
from runner.errors import InputError
from runner.exit_codes import ExitCode
from runner.served.component import serve_component

KNOWN: tuple[ControllerDef[Any], ...] = (
    deployment.DEFINITION,
    replicaset.DEFINITION,
    garbagecollector.DEFINITION,
    endpoints.DEFINITION,
    endpointslice.DEFINITION,
    disruption.DEFINITION,
    job.DEFINITION,
    nodelifecycle.DEFINITION,
    tainteviction.DEFINITION,
)


def choose(text: str) -> list[ControllerDef[Any]]:
    """kube-controller-manager's ``--controllers``: ``*`` for all, ``name`` to enable,
    ``-name`` to disable; names or their aliases."""
    by_name = {name: d for d in KNOWN for name in (d.name, *d.aliases)}
    chosen: dict[str, ControllerDef[Any]] = {}
    disabled: set[str] = set()
    for item in (part.strip() for part in text.split(",")):
        name = item.removeprefix("-")
        if item == "*":
            chosen.update((d.name, d) for d in KNOWN)
        elif name in by_name:
            target = by_name[name]
            if item.startswith("-"):
                disabled.add(target.name)
            else:
                chosen[target.name] = target
        else:
            known = ", ".join(sorted(by_name))
            raise InputError(f"{item!r} is not a known controller ({known})", field="--controllers")
    return [d for name, d in sorted(chosen.items()) if name not in disabled]


def serve(args: argparse.Namespace) -> ExitCode:
    """Serve until SIGINT/SIGTERM (exit 0) or until leadership is lost (exit 1)."""
    definitions = choose(args.controllers)
    config = ControllerConfig(mutant=args.mutant, record_events=True)

    def build(endpoint: Endpoint) -> tuple[ManagerMetrics, Manager, str]:
        holder: list[Manager] = []
        metrics = ManagerMetrics(
            lambda: holder[0].queues() if holder else {}, endpoint.url.split("://", 1)[1]
        )
        manager = Manager(endpoint, definitions, config, metrics)
        holder.append(manager)
        return metrics, manager, f"controllers {', '.join(d.name for d in definitions)}"

    return serve_component(args, "controller-manager", "kube-controller-manager", build)
