"""Judging another scheduler's bindings against the reference (``kubeoracle check schedule``).

Theory of operation. The bindings are replayed in order on the cluster state. For each, the
pod (its ``spec.nodeName`` cleared) goes through one full scheduling cycle under the profile
of its ``schedulerName``, with every node evaluated (percentageOfNodesToScore 100, so the
verdict does not depend on kube-scheduler's sampling). The binding is then:

- infeasible when a PreFilter or Filter plugin rejects the chosen node (the plugin and its
  reasons are reported); if the rejection is Unschedulable and evicting lower-priority pods
  would make room, preemption would have been needed (the victims are named);
- not top-scoring when the node is feasible but another has a higher total: the gap and the
  deciding plugin (the one whose weighted score differs most in the best node's favour);
- fine otherwise.

Whatever the verdict, the pod is then placed on its node, as the real cluster has it, before
the next binding is judged. A binding whose schedulerName has no profile is applied without
judgement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal, final

import msgspec

from impl.scheduler.cycle import CycleResult, PluginScore
from impl.scheduler.features import SchedulerFeatures
from impl.scheduler.framework import Code, Status
from impl.scheduler.podinfo import PodInfo, bound_to, pod_info
from impl.scheduler.preemption import select_victims
from impl.scheduler.profile import Profile
from impl.scheduler.schedule import ScheduleOutcome, schedule_one
from impl.scheduler.snapshot import Snapshot
from models.k8s.core.pod import Pod

Verdict = Literal["ok", "not-top-scoring", "infeasible", "unjudged"]
NODE_NOT_FOUND: Final = "the node is not in the cluster"


@final
class Gap(msgspec.Struct, frozen=True, kw_only=True):
    """Why the chosen node is not top-scoring: by how much, and which plugin decides it."""

    best_nodes: tuple[str, ...]
    best_total: int
    chosen_total: int
    deciding_plugin: str
    best_weighted: int
    chosen_weighted: int

    @property
    def points(self) -> int:
        return self.best_total - self.chosen_total


@final
class Judgement(msgspec.Struct, frozen=True, kw_only=True):
    """The verdict on one binding."""

    pod: str
    node: str
    scheduler_name: str
    verdict: Verdict
    rejection: Status | None = None
    """The chosen node's PreFilter or Filter rejection (infeasible)."""
    victims: tuple[str, ...] | None = None
    """Pods whose eviction would make the node feasible (None: preemption cannot help)."""
    gap: Gap | None = None
    feasible_nodes: int = 0
    message: str = ""
    """The FailedScheduling message when no node was feasible."""
    note: str = ""


def _gap(cycle: CycleResult, chosen: str) -> Gap | None:
    totals = dict(cycle.totals)
    if chosen in cycle.top or chosen not in totals:
        return None
    best = cycle.top[0]
    scores: dict[str, dict[str, PluginScore]] = {
        name: {score.plugin: score for score in plugin_scores}
        for name, plugin_scores in cycle.scores
    }
    best_scores, chosen_scores = scores.get(best, {}), scores.get(chosen, {})
    deciding = max(
        sorted(best_scores),
        key=lambda plugin: (
            best_scores[plugin].weighted
            - (chosen_scores[plugin].weighted if plugin in chosen_scores else 0)
        ),
        default="",
    )
    return Gap(
        best_nodes=cycle.top,
        best_total=totals[best],
        chosen_total=totals[chosen],
        deciding_plugin=deciding,
        best_weighted=best_scores[deciding].weighted if deciding else 0,
        chosen_weighted=chosen_scores[deciding].weighted if deciding in chosen_scores else 0,
    )


def _rejection(outcome: ScheduleOutcome, node: str) -> Status | None:
    cycle = outcome.cycle
    if cycle.pre_filter_status is not None:
        return cycle.pre_filter_status
    return dict(cycle.statuses).get(node)


def judge(profile: Profile, snapshot: Snapshot, pod: PodInfo, node: str) -> Judgement:
    """The verdict on binding ``pod`` (pending) to ``node`` on ``snapshot``."""
    base = Judgement(pod=pod.key, node=node, scheduler_name=pod.scheduler_name, verdict="ok")
    if not snapshot.has_node(node):
        missing = Status(code=Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reasons=(NODE_NOT_FOUND,))
        return msgspec.structs.replace(base, verdict="infeasible", rejection=missing)
    outcome, _ = schedule_one(profile.with_percentage(100), snapshot, pod)
    cycle = outcome.cycle
    rejection = _rejection(outcome, node)
    if rejection is not None:
        victims = None
        if rejection.code is Code.UNSCHEDULABLE:
            found, _, _ = select_victims(profile, snapshot, pod, snapshot.node(node))
            victims = tuple(v.key for v in found) if found is not None else None
        return msgspec.structs.replace(
            base,
            verdict="infeasible",
            rejection=rejection,
            victims=victims,
            feasible_nodes=len(cycle.feasible),
            message=outcome.message,
        )
    gap = _gap(cycle, node)
    return msgspec.structs.replace(
        base,
        verdict="ok" if gap is None else "not-top-scoring",
        gap=gap,
        feasible_nodes=len(cycle.feasible),
    )


def _pending(pod: Pod) -> Pod:
    spec = msgspec.structs.replace(pod.pod_spec, node_name=None)
    return msgspec.structs.replace(pod, spec=spec)


def check_bindings(
    profiles: dict[str, Profile],
    features: SchedulerFeatures,
    snapshot: Snapshot,
    bindings: Sequence[Pod],
) -> tuple[list[Judgement], Snapshot]:
    """Judge and apply every binding (pods with ``spec.nodeName``) in order."""
    judgements: list[Judgement] = []
    for generation, bound in enumerate(bindings, start=1):
        node = bound.pod_spec.node_name or ""
        info = pod_info(_pending(bound), features)
        profile = profiles.get(info.scheduler_name)
        if profile is None:
            judgement = Judgement(
                pod=info.key,
                node=node,
                scheduler_name=info.scheduler_name,
                verdict="unjudged",
                note=f"no profile has schedulerName {info.scheduler_name!r}",
            )
        else:
            judgement = judge(profile, snapshot, info, node)
        judgements.append(judgement)
        if snapshot.has_node(node):
            placed = snapshot.node(node).with_pod(bound_to(info, node), generation)
            nominated = tuple(p for p in snapshot.nominated if p.key != info.key)
            snapshot = snapshot.with_node(placed).with_nominated(nominated)
    return judgements, snapshot
