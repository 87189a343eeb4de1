"""Node-pressure eviction for the ``memory.available`` signal.

Theory of operation. Each usage observation compares ``memory.available`` with the hard
threshold (``evictionHard``, default 100Mi). Below it, the node is under memory pressure: the
MemoryPressure condition is True, and stays True until ``evictionPressureTransitionPeriod``
(5 min) has passed without the signal below the threshold. While below, the kubelet evicts one
pod per observation, unless an earlier victim is still stopping. Victims are ranked as
``rankMemoryPressure`` does: pods whose memory use exceeds their request first, then lower
priority first, then the larger use above the request first (ties: the pod's UID). A victim
gets phase Failed, reason ``Evicted``, and its containers are stopped with no grace beyond the
kubelet's 2 s minimum.
"""

from __future__ import annotations

from typing import Final

import msgspec

from impl.kubelet import containers as ct
from impl.kubelet.status import TERMINAL
from models.kubelet.config import EVICTION_IGNORES_PRIORITY, KubeletConfig
from models.kubelet.state import KubeletState, PodRecord

EVICTED: Final = "Evicted"


def under_pressure(config: KubeletConfig, state: KubeletState) -> bool:
    """The MemoryPressure condition (with the transition period)."""
    seen = state.pressure_observed_ms
    return seen is not None and state.now_ms - seen < config.eviction_pressure_transition_period_ms


def _memory_request(record: PodRecord) -> int:
    return dict(record.requests).get("memory", 0)


def rank(config: KubeletConfig, state: KubeletState) -> tuple[PodRecord, ...]:
    """Active admitted pods in eviction order."""
    use = {u.uid: u.memory_bytes for u in state.usage}

    def order(record: PodRecord) -> tuple[int, int, int, str]:
        above = use.get(record.uid, 0) - _memory_request(record)
        priority = record.pod.pod_spec.priority or 0
        if config.mutant == EVICTION_IGNORES_PRIORITY:
            priority = 0
        return (0 if above > 0 else 1, priority, -above, record.uid)

    candidates = [
        r
        for r in state.pods
        if r.admitted and r.phase not in TERMINAL and r.deletion_deadline_ms is None
    ]
    return tuple(sorted(candidates, key=order))


def _message(config: KubeletConfig, available: int) -> str:
    return (
        "The node was low on resource: memory. "
        f"Threshold quantity: {config.eviction_hard_memory_available_bytes // (1024 * 1024)}Mi, "
        f"available: {available // 1024}Ki. "
    )


def evict(config: KubeletConfig, state: KubeletState) -> KubeletState:
    """Mark the first-ranked pod evicted when the signal is below the threshold now."""
    available = state.memory_available_bytes
    if available is None or available >= config.eviction_hard_memory_available_bytes:
        return state
    stopping = any(
        r.reason == EVICTED and any(ct.active(c) for c in r.containers) for r in state.pods
    )
    ranked = rank(config, state)
    if stopping or not ranked:
        return state
    victim = msgspec.structs.replace(
        ranked[0], phase="Failed", reason=EVICTED, message=_message(config, available)
    )
    pods = tuple(victim if r.uid == victim.uid else r for r in state.pods)
    return msgspec.structs.replace(state, pods=pods)
