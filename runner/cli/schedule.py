"""``kubeoracle schedule``: kube-scheduler's verdicts, reasons and scores for a pod against a
cluster (``--pod``), or the bindings of a queue of pods scheduled one after another (``--pods``).

The cluster file is what ``kubectl get nodes,pods -A -o yaml`` prints (a List, or multi-document
YAML); pods with ``spec.nodeName`` are existing pods. ``--config`` takes a
KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1).
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.cli.output import OutputFormat, add_output_option, emit
from runner.errors import InputError
from runner.exit_codes import ExitCode

if TYPE_CHECKING:
    from impl.scheduler.profile import Profile
    from models.scheduling import ClusterState, Pod
    from runner.cli.output import VerbParsers


def register(verbs: VerbParsers) -> None:
    """Add ``kubeoracle schedule``."""
    parser = verbs.add_parser(
        "schedule",
        help="kube-scheduler's filter verdicts, reasons and scores for a pod on a cluster",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--cluster", required=True, help="nodes and pods (kubectl get -o yaml)")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--pod", help="the pod to schedule (one Pod object)")
    which.add_argument("--pods", help="pods to schedule one after another, in file order")
    parser.add_argument("--config", help="a KubeSchedulerConfiguration (v1) YAML file")
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


def load_documents(path: str) -> list[object]:
    """Every YAML document of a file, read as Kubernetes reads YAML (go-yaml's scalar rules),
    with the file, document and line named on failure."""
    from returns.result import Failure

    from models.k8s.codec import load_yaml_documents

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror}", source=path) from error
    result = load_yaml_documents(text)
    if isinstance(result, Failure):
        problem = result.failure()
        raise InputError(
            f"document {problem.document}: {problem.reason}",
            source=path,
            line=problem.line,
        )
    return [document for document in result.unwrap() if document is not None]


def load_cluster(path: str) -> ClusterState:
    """The cluster file decoded."""
    from returns.result import Failure

    from models.scheduling_decode import decode_cluster

    result = decode_cluster(load_documents(path))
    if isinstance(result, Failure):
        error = result.failure()
        raise InputError(error.reason, source=path, field=error.field)
    cluster: ClusterState = result.unwrap()
    return cluster


def load_pods(path: str) -> tuple[Pod, ...]:
    """Pods of a file, in order (bound or not: each is scheduled as a new pod)."""
    cluster = load_cluster(path)
    pods = sorted(cluster.pending_pods + cluster.bound_pods, key=lambda pod: pod.creation_index)
    if not pods:
        raise InputError("no Pod object found", source=path)
    return tuple(pods)


def load_profiles(path: str | None) -> dict[str, Profile]:
    """Profiles by schedulerName (the default profile without ``--config``)."""
    from returns.result import Failure, Success

    from impl.scheduler.profile import build_profile
    from models.scheduler_config import decode_configuration

    if path is None:
        profile = build_profile()
        return {profile.scheduler_name: profile}
    documents = load_documents(path)
    if len(documents) != 1:
        raise InputError("expected exactly one KubeSchedulerConfiguration document", source=path)
    match decode_configuration(documents[0]):
        case Success(config):
            return {p.scheduler_name: build_profile(p) for p in config.profiles}
        case Failure(error):
            raise InputError(error.reason, source=path, field=error.field)
    raise AssertionError("unreachable")


def handle(args: argparse.Namespace) -> ExitCode:
    """Run the scheduler on the files named by the arguments."""
    from impl.scheduler.nodeinfo import build_snapshot, pod_info
    from impl.scheduler.queue import first_by_name, run_queue
    from impl.scheduler.schedule import outcome_report, schedule_one

    cluster = load_cluster(args.cluster)
    profiles = load_profiles(args.config)
    snapshot = build_snapshot(
        cluster.nodes,
        cluster.bound_pods,
        cluster.namespaces,
        cluster.selecting,
        nominated=[p for p in cluster.pending_pods if p.nominated_node_name],
        budgets=cluster.budgets,
    )
    output: OutputFormat = "json" if args.output == "json" else "text"
    if args.pods is not None:
        pods = load_pods(args.pods)
        tie_break = first_by_name
        if args.seed is not None:
            chooser = random.Random(args.seed)
            tie_break = lambda top: top[chooser.randrange(len(top))]  # noqa: E731
        bindings, _ = run_queue(profiles, snapshot, pods, tie_break)
        report: dict[str, Any] = {
            "attempts": [
                {
                    "pod": b.pod,
                    "node": b.node or None,
                    "attempt": b.attempt,
                    "timeMs": b.time_ms,
                    "message": b.message,
                    "nominatedNode": b.nominated_node or None,
                    "victims": list(b.victims),
                }
                for b in bindings
            ],
            "bindings": {b.pod: b.node for b in bindings if b.node},
            "unscheduled": sorted({p.key for p in pods} - {b.pod for b in bindings if b.node}),
        }
        emit(report, output, render_queue)
        return ExitCode.PASS if not report["unscheduled"] else ExitCode.VIOLATION
    pods = load_pods(args.pod)
    if len(pods) != 1:
        raise InputError(f"expected one Pod, found {len(pods)} (use --pods)", source=args.pod)
    pod = pods[0]
    profile = profiles.get(pod.scheduler_name)
    if profile is None:
        raise InputError(
            f"no profile has schedulerName {pod.scheduler_name!r}",
            source=args.pod,
            field="spec.schedulerName",
        )
    outcome = schedule_one(profile, snapshot, pod_info(pod))
    report = outcome_report(outcome)
    emit(report, output, render_report)
    return ExitCode.PASS if outcome.cycle.feasible else ExitCode.VIOLATION


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def render_report(report: Mapping[str, Any]) -> str:
    """The single-pod report as tables."""
    lines = [f"pod {report['pod']} (profile {report['profile']}), {report['nodeCount']} nodes"]
    nodes: Mapping[str, Any] = report["nodes"]
    rows = [["NODE", "FILTER", "PLUGIN", "REASONS"]]
    for name in sorted(nodes):
        verdict = nodes[name]["filter"]
        rows.append(
            [name, verdict["code"], verdict["plugin"] or "-", "; ".join(verdict["reasons"])]
        )
    lines += ["", *_table(rows)]
    plugins = sorted({p for name in nodes for p in nodes[name]["scores"]})
    scored = [name for name in sorted(nodes) if nodes[name]["total"] is not None]
    if scored and plugins:
        rows = [["NODE", *plugins, "TOTAL"]]
        for name in scored:
            cells = []
            for plugin in plugins:
                score = nodes[name]["scores"].get(plugin)
                cells.append(
                    "-"
                    if score is None
                    else f"{score['raw']}->{score['normalized']} x={score['weighted']}"
                )
            rows.append([name, *cells, str(nodes[name]["total"])])
        lines += ["", "scores (raw->normalized x=weighted):", *_table(rows)]
    lines += ["", f"feasible: {', '.join(report['feasible']) or '(none)'}"]
    lines.append(f"selected (top-scoring): {', '.join(report['selected']) or '(none)'}")
    post = report["postFilter"]
    if post is not None:
        if post["nominatedNode"]:
            lines.append(
                f"preemption: nominated node {post['nominatedNode']}, "
                f"victims {', '.join(post['victims'])}"
            )
        else:
            lines.append(post["message"])
    if report["message"]:
        lines.append(report["message"])
    return "\n".join(lines)


def render_queue(report: Mapping[str, Any]) -> str:
    """The queue run as one line per attempt."""
    lines = []
    for attempt in report["attempts"]:
        if attempt["node"]:
            lines.append(f"{attempt['timeMs']:>7}ms  {attempt['pod']} -> {attempt['node']}")
        else:
            extra = ""
            if attempt["nominatedNode"]:
                extra = (
                    f" (nominated {attempt['nominatedNode']}, evicting "
                    + ", ".join(attempt["victims"])
                    + ")"
                )
            lines.append(
                f"{attempt['timeMs']:>7}ms  {attempt['pod']} unschedulable: "
                f"{attempt['message']}{extra}"
            )
    if report["unscheduled"]:
        lines.append(f"unscheduled: {', '.join(report['unscheduled'])}")
    return "\n".join(lines)
