"""Leader election on a coordination.k8s.io Lease, as client-go does it, as pure decisions.

Theory of operation (``k8s.io/client-go/tools/leaderelection``, ``tryAcquireOrRenew``). A
candidate reads the Lease every retry period. It judges expiry by its *own* clock: the time it
last saw the record change (``observed_ms``), plus the lease duration, never the holder's
``renewTime`` (clocks of different machines are not compared). So:

- no Lease: create it naming itself (transitions 0);
- someone else holds it and the record changed less than a lease duration ago: wait;
- otherwise write it (an update carrying the read ``resourceVersion``, so a racing candidate
  loses with a conflict): keep ``acquireTime`` and ``leaseTransitions`` when renewing its own
  lease, set ``acquireTime`` to now and add one transition when taking it over.

A leader that cannot renew within the renew deadline stops leading (kube-controller-manager
then exits). Timings default to kube-controller-manager's: 15 s duration, 10 s renew deadline,
2 s retry period.
"""

from __future__ import annotations

from typing import Final

import msgspec

LEASE_DURATION_MS: Final = 15_000
RENEW_DEADLINE_MS: Final = 10_000
RETRY_PERIOD_MS: Final = 2_000
LEASE_NAME: Final = "kube-controller-manager"
SCHEDULER_LEASE_NAME: Final = "kube-scheduler"
LEASE_NAMESPACE: Final = "kube-system"


class ElectionConfig(msgspec.Struct, frozen=True, kw_only=True):
    identity: str
    lease_duration_ms: int = LEASE_DURATION_MS
    renew_deadline_ms: int = RENEW_DEADLINE_MS
    retry_period_ms: int = RETRY_PERIOD_MS
    name: str = LEASE_NAME
    namespace: str = LEASE_NAMESPACE


class LeaseRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The fields of a Lease that election reads and writes (times as MicroTime text)."""

    holder: str = ""
    duration_seconds: int = 0
    acquire_time: str = ""
    renew_time: str = ""
    transitions: int = 0


class Observation(msgspec.Struct, frozen=True, kw_only=True):
    """The last record this candidate saw and when (its own clock) it saw it change."""

    record: LeaseRecord | None = None
    observed_ms: int = 0


class Create(msgspec.Struct, frozen=True, kw_only=True):
    record: LeaseRecord


class Update(msgspec.Struct, frozen=True, kw_only=True):
    record: LeaseRecord


class Wait(msgspec.Struct, frozen=True, kw_only=True):
    holder: str


Decision = Create | Update | Wait


def observe(observation: Observation, current: LeaseRecord | None, now_ms: int) -> Observation:
    """Fold the record just read into what this candidate has seen."""
    if current != observation.record:
        return Observation(record=current, observed_ms=now_ms)
    return observation


def decide(
    config: ElectionConfig,
    observation: Observation,
    current: LeaseRecord | None,
    now_ms: int,
    now_text: str,
) -> Decision:
    """What to do after reading ``current`` (``None``: no Lease exists) at ``now_ms``."""
    mine = LeaseRecord(
        holder=config.identity,
        duration_seconds=config.lease_duration_ms // 1000,
        acquire_time=now_text,
        renew_time=now_text,
        transitions=0,
    )
    if current is None:
        return Create(record=mine)
    held_by_other = current.holder not in ("", config.identity)
    if held_by_other and observation.observed_ms + config.lease_duration_ms > now_ms:
        return Wait(holder=current.holder)
    if current.holder == config.identity:
        renewed = msgspec.structs.replace(
            mine, acquire_time=current.acquire_time, transitions=current.transitions
        )
        return Update(record=renewed)
    return Update(record=msgspec.structs.replace(mine, transitions=current.transitions + 1))


def lost(config: ElectionConfig, last_renewed_ms: int, now_ms: int) -> bool:
    """A leader whose last successful renewal is older than the renew deadline stops leading."""
    return now_ms - last_renewed_ms >= config.renew_deadline_ms
