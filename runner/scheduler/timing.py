"""Timing the plugins for ``scheduler_plugin_execution_duration_seconds``, as kube-scheduler
does: in a sample of the cycles (``pluginMetricsSamplePercent``, 10), every PreFilter, Filter,
PreScore, Score and NormalizeScore call of every plugin is timed and observed with its
extension point and status.

The machine stays as it is: the profiles it runs get each plugin wrapped in :class:`Timed`,
which hands every call to the plugin unchanged and, while the driver has switched sampling on
for the current cycle, reads the clock around it. The wrapper changes no result.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Final, TypeVar

from impl.scheduler.framework import (
    ClusterEvent,
    CycleContext,
    EventKind,
    Plugin,
    PreFilterResult,
    QueuedPodInfo,
    Status,
)
from impl.scheduler.machine import SchedulerConfig
from impl.scheduler.nodeinfo import NodeInfo
from impl.scheduler.podinfo import PodInfo
from impl.scheduler.profile import Profile

SAMPLE_PERCENT: Final = 10
"""kube-scheduler's ``pluginMetricsSamplePercent``."""

Result = TypeVar("Result")
Observe = Callable[[str, str, str, float], None]
"""``(plugin, extension point, status, seconds)``."""


class PluginTimer:
    """Whether the current cycle is sampled, and where the timings go."""

    def __init__(self, observe: Observe) -> None:
        self.observe = observe
        self.sampling = False

    def run(
        self,
        plugin: str,
        point: str,
        call: Callable[[], Result],
        status: Callable[[Result], str],
    ) -> Result:
        if not self.sampling:
            return call()
        started = time.perf_counter()
        result = call()
        self.observe(plugin, point, status(result), time.perf_counter() - started)
        return result


def _success(_: object) -> str:
    return "Success"


def _code(status: Status) -> str:
    return status.code.value


class Timed(Plugin):
    """A plugin whose extension points are timed by ``timer``; otherwise the plugin itself."""

    def __init__(self, inner: Plugin, timer: PluginTimer) -> None:
        self.inner = inner
        self.timer = timer
        self.name = inner.name

    def implements(self, point: str) -> bool:
        return self.inner.implements(point)

    def filter_memo_key(self, context: CycleContext) -> object | None:
        return self.inner.filter_memo_key(context)

    def score_memo_key(self, context: CycleContext) -> object | None:
        return self.inner.score_memo_key(context)

    def less(self, left: QueuedPodInfo, right: QueuedPodInfo) -> bool:
        return self.inner.less(left, right)

    def pre_enqueue(self, pod: PodInfo) -> Status:
        return self.inner.pre_enqueue(pod)

    def cluster_events(self) -> frozenset[EventKind]:
        return self.inner.cluster_events()

    def queueing_hint(self, event: ClusterEvent, pod: PodInfo) -> bool:
        return self.inner.queueing_hint(event, pod)

    def pre_filter(self, context: CycleContext) -> PreFilterResult:
        return self.timer.run(
            self.name,
            "PreFilter",
            lambda: self.inner.pre_filter(context),
            lambda result: _code(result.status),
        )

    def filter(self, context: CycleContext, node: NodeInfo) -> Status:
        return self.timer.run(self.name, "Filter", lambda: self.inner.filter(context, node), _code)

    def pre_score(self, context: CycleContext, nodes: Sequence[NodeInfo]) -> Status:
        return self.timer.run(
            self.name, "PreScore", lambda: self.inner.pre_score(context, nodes), _code
        )

    def score(self, context: CycleContext, node: NodeInfo) -> int:
        return self.timer.run(self.name, "Score", lambda: self.inner.score(context, node), _success)

    def normalize_score(
        self, context: CycleContext, nodes: Sequence[NodeInfo], scores: list[int]
    ) -> list[int]:
        return self.timer.run(
            self.name,
            "NormalizeScore",
            lambda: self.inner.normalize_score(context, nodes, scores),
            _success,
        )


def timed_profile(profile: Profile, timer: PluginTimer) -> Profile:
    """``profile`` with every plugin of the timed extension points wrapped."""
    wrapped: dict[str, Timed] = {}

    def wrap(plugin: Plugin) -> Plugin:
        return wrapped.setdefault(plugin.name, Timed(plugin, timer))

    return profile.replaced(
        pre_filter=tuple(wrap(p) for p in profile.pre_filter),
        filter=tuple(wrap(p) for p in profile.filter),
        pre_score=tuple(wrap(p) for p in profile.pre_score),
        score=tuple((wrap(p), weight) for p, weight in profile.score),
    )


def timed_config(config: SchedulerConfig, timer: PluginTimer) -> SchedulerConfig:
    """``config`` with every profile's plugins timed by ``timer``."""
    profiles = {name: timed_profile(p, timer) for name, p in config.profiles.items()}
    return SchedulerConfig(profiles, config.features, config.backoff)
