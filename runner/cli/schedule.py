"""``kubeoracle schedule``: kube-scheduler's verdicts, reasons and scores for a pod against a
cluster (``--pod``), or the bindings of a queue of pods scheduled one after another
(``--pods``), at the Kubernetes release of :mod:`models.kubernetes_version`.

The cluster file is what ``kubectl get nodes,pods -A -o yaml`` prints (a List, or
multi-document YAML); pods with ``spec.nodeName`` are existing pods. ``--config`` takes a
KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1); ``--feature-gates`` takes
kube-scheduler's ``Name=bool,...``.
"""

from __future__ import annotations

import argparse
import random
from typing import TYPE_CHECKING, Any

from models.kubernetes_version import KUBERNETES_VERSION
from runner.cli.output import OutputFormat, add_output_option, emit
from runner.errors import InputError
from runner.exit_codes import ExitCode

if TYPE_CHECKING:
    from runner.cli.output import VerbParsers


def register(verbs: VerbParsers) -> None:
    """Add ``kubeoracle schedule``."""
    parser = verbs.add_parser(
        "schedule",
        help=f"kube-scheduler's ({KUBERNETES_VERSION}) filter verdicts, reasons and scores for "
        "a pod on a cluster",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--cluster", required=True, help="nodes and pods (kubectl get -o yaml)")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--pod", help="the pod to schedule (one Pod object)")
    which.add_argument("--pods", help="pods to schedule one after another, in file order")
    parser.add_argument("--config", help="a KubeSchedulerConfiguration (v1) YAML file")
    add_gates_option(parser)
    parser.add_argument(
        "--seed",
        type=int,
        help="with --pods: break ties among top-scoring nodes at random from this seed "
        "(default: the first node by name)",
    )
    add_output_option(parser)
    output = parser._option_string_actions["-o"]
    output.choices = ("text", "table", "json")
    output.help = "text or table: tables for people (default); json: the machine-readable report"
    parser.set_defaults(handler=handle)


def add_gates_option(parser: argparse.ArgumentParser) -> None:
    """``--feature-gates``, as kube-scheduler takes it."""
    parser.add_argument(
        "--feature-gates",
        metavar="NAME=BOOL,...",
        help=f"kube-scheduler feature gates ({KUBERNETES_VERSION} defaults otherwise), e.g. "
        "TaintTolerationComparisonOperators=true,SchedulerPopFromBackoffQ=false",
    )


def _queue_report(args: argparse.Namespace) -> dict[str, Any]:
    from impl.scheduler.run import run_pods
    from models.scheduling.cluster import pod_key
    from runner.scheduler.inputs import load_cluster, load_pods, scheduler_config

    config = scheduler_config(args.config, args.feature_gates)
    cluster = load_cluster(args.cluster)
    pods = load_pods(args.pods)
    chooser = random.Random(args.seed) if args.seed is not None else None
    attempts, _ = run_pods(
        config, cluster, pods, (lambda _: chooser.randrange(2**31)) if chooser else lambda _: 0
    )
    keys = [pod_key(p) for p in pods]
    return {
        "attempts": [
            {
                "pod": a.pod,
                "node": a.node or None,
                "attempt": a.attempt,
                "timeMs": a.time_ms,
                "message": a.message,
                "nominatedNode": a.nominated_node or None,
                "victims": list(a.victims),
            }
            for a in attempts
        ],
        "bindings": {a.pod: a.node for a in attempts if a.node},
        "unscheduled": sorted(set(keys) - {a.pod for a in attempts if a.node}),
    }


def _single_report(args: argparse.Namespace) -> dict[str, Any]:
    from impl.scheduler.podinfo import pod_info
    from impl.scheduler.schedule import outcome_report, schedule_one
    from impl.scheduler.snapshot import build_snapshot
    from runner.scheduler.inputs import load_cluster, load_pods, scheduler_config

    config = scheduler_config(args.config, args.feature_gates)
    cluster = load_cluster(args.cluster)
    pods = load_pods(args.pod)
    if len(pods) != 1:
        raise InputError(f"expected one Pod, found {len(pods)} (use --pods)", source=args.pod)
    info = pod_info(pods[0], config.features)
    profile = config.profiles.get(info.scheduler_name)
    if profile is None:
        raise InputError(
            f"no profile has schedulerName {info.scheduler_name!r}",
            source=args.pod,
            field="spec.schedulerName",
        )
    snapshot = build_snapshot(cluster, config.features)
    outcome, _ = schedule_one(profile, snapshot, info)
    return outcome_report(outcome)


def handle(args: argparse.Namespace) -> ExitCode:
    """Run the scheduler on the files named by the arguments."""
    from runner.scheduler.report import render_queue, render_report

    output: OutputFormat = "json" if args.output == "json" else "text"
    if args.pods is not None:
        report = _queue_report(args)
        report["kubernetesVersion"] = KUBERNETES_VERSION
        emit(report, output, render_queue)
        return ExitCode.PASS if not report["unscheduled"] else ExitCode.VIOLATION
    report = _single_report(args)
    report["kubernetesVersion"] = KUBERNETES_VERSION
    emit(report, output, render_report)
    return ExitCode.PASS if report["feasible"] else ExitCode.VIOLATION
