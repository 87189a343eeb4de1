"""``kubeoracle check schedule``: were another scheduler's bindings what kube-scheduler would
allow and prefer (at the release of :mod:`models.kubernetes_version`)?

The bindings file holds pods with ``spec.nodeName`` (what ``kubectl get pods -A -o yaml``
prints); they are replayed in order (``--order``) on the cluster file's state. Each is judged
under the profile of its ``schedulerName``: feasible or not (the filter and its reasons),
top-scoring or not (the gap and the deciding plugin), whether preemption was needed. Exit 0
when every binding is feasible (and top-scoring under ``--strict``), 1 otherwise, 2 on bad
input.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import TYPE_CHECKING

from models.kubernetes_version import KUBERNETES_VERSION
from runner.cli.output import add_output_option, emit
from runner.errors import InputError
from runner.exit_codes import ExitCode

if TYPE_CHECKING:
    from models.k8s.core.pod import Pod

ORDERS = ("file", "scheduled")


def add_target(targets: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``check schedule``."""
    parser = targets.add_parser(
        "schedule",
        help=f"judge another scheduler's bindings against kube-scheduler {KUBERNETES_VERSION}",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--cluster",
        required=True,
        help="the cluster before the bindings: nodes, pods already there, namespaces, "
        "services, controllers, PodDisruptionBudgets (kubectl get -o yaml)",
    )
    parser.add_argument(
        "--bindings",
        required=True,
        help="the bound pods to judge (pods with spec.nodeName; others are skipped)",
    )
    parser.add_argument("--config", help="a KubeSchedulerConfiguration (v1) YAML file")
    parser.add_argument(
        "--feature-gates",
        metavar="NAME=BOOL,...",
        help=f"kube-scheduler feature gates ({KUBERNETES_VERSION} defaults otherwise)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="a binding that is feasible but not top-scoring fails the check (else a warning)",
    )
    parser.add_argument(
        "--order",
        choices=ORDERS,
        default="file",
        help="replay order: file order (default), or by the PodScheduled condition's "
        "lastTransitionTime (then creationTimestamp, then file order)",
    )
    add_output_option(parser)
    parser.set_defaults(handler=handle)


def _scheduled_at(pod: Pod) -> datetime | None:
    """When the pod was bound: its PodScheduled condition, else its creation."""
    for condition in pod.pod_status.conditions or ():
        at = condition.last_transition_time
        if condition.type == "PodScheduled" and condition.status == "True" and isinstance(at, str):
            return datetime.fromisoformat(at)
    created = pod.meta.creation_timestamp
    return datetime.fromisoformat(created) if isinstance(created, str) else None


def ordered(pods: tuple[Pod, ...], order: str) -> list[Pod]:
    """The pods in replay order (stable: ties keep file order; pods without a time last)."""
    if order == "file":
        return list(pods)

    def sort_key(indexed: tuple[int, Pod]) -> tuple[int, float, int]:
        index, pod = indexed
        instant = _scheduled_at(pod)
        return (1, 0.0, index) if instant is None else (0, instant.timestamp(), index)

    return [pod for _, pod in sorted(enumerate(pods), key=sort_key)]


def handle(args: argparse.Namespace) -> ExitCode:
    """Replay and judge the bindings."""
    from impl.scheduler.check import check_bindings
    from impl.scheduler.snapshot import build_snapshot
    from models.scheduling.cluster import pod_key
    from runner.scheduler.check_report import check_report, render_check
    from runner.scheduler.inputs import load_cluster, load_pods, scheduler_config

    config = scheduler_config(args.config, args.feature_gates)
    cluster = load_cluster(args.cluster)
    pods = load_pods(args.bindings)
    seen: set[str] = set()
    for pod in pods:
        key = pod_key(pod)
        if key in seen:
            raise InputError(f"pod {key} appears twice", source=args.bindings)
        seen.add(key)
    bindings = ordered(tuple(p for p in pods if p.pod_spec.node_name), args.order)
    skipped = sorted(pod_key(p) for p in pods if not p.pod_spec.node_name)
    judged = {pod_key(p) for p in bindings}
    before = cluster.without_pods(judged)
    judgements, _ = check_bindings(
        config.profiles, config.features, build_snapshot(before, config.features), bindings
    )
    report, code = check_report(judgements, args.strict, skipped)
    report["order"] = args.order
    report["kubernetesVersion"] = KUBERNETES_VERSION
    emit(report, args.output, render_check)
    return code
