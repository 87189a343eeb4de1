"""The leader's per-member replication progress (etcd ``tracker.Progress``).

Theory of operation. For each member the leader knows ``match_index`` (highest entry known to
be replicated there) and ``next_index`` (next entry to send). A member is in one of three
states:

- ``probe``: the leader does not know where the logs diverge; it sends one MsgApp and waits
  (``probe_sent``) for the answer or the next heartbeat response before sending another.
- ``replicate``: the logs match up to ``match_index``; the leader streams entries without
  waiting, advancing ``next_index`` optimistically and recording each in-flight MsgApp in
  ``inflight`` (at most ``max_inflight_appends``).
- ``snapshot``: the needed entries are compacted; a MsgSnap is in flight and nothing else is
  sent until the member acknowledges it (or the transport reports failure).

Transitions: probe -> replicate on the first successful answer; replicate -> probe on a
rejection or an unreachable report; any -> snapshot when entries are compacted; snapshot ->
probe (-> replicate) once the member's match covers the snapshot.
"""

from __future__ import annotations

import msgspec

from models.raft import Progress


def reset(node_id: int, last_index: int, is_learner: bool, is_self: bool) -> Progress:
    """A fresh progress after an election (etcd ``raft.reset``): probe from last_index + 1."""
    return Progress(
        node_id=node_id,
        match_index=last_index if is_self else 0,
        next_index=last_index + 1,
        state="probe",
        recent_active=is_self,
        is_learner=is_learner,
    )


def is_paused(progress: Progress, max_inflight: int) -> bool:
    """Whether the leader must not send a MsgApp now (etcd ``IsPaused``)."""
    if progress.state == "probe":
        return progress.probe_sent
    if progress.state == "replicate":
        return len(progress.inflight) >= max_inflight
    return True


def become_probe(progress: Progress) -> Progress:
    """Back to probing; after a snapshot, probe just past it."""
    if progress.state == "snapshot":
        next_index = max(progress.match_index + 1, progress.pending_snapshot_index + 1)
    else:
        next_index = progress.match_index + 1
    return msgspec.structs.replace(
        progress,
        state="probe",
        next_index=next_index,
        probe_sent=False,
        pending_snapshot_index=0,
        inflight=(),
    )


def become_replicate(progress: Progress) -> Progress:
    return msgspec.structs.replace(
        progress,
        state="replicate",
        next_index=progress.match_index + 1,
        probe_sent=False,
        pending_snapshot_index=0,
        inflight=(),
    )


def become_snapshot(progress: Progress, snapshot_index: int) -> Progress:
    return msgspec.structs.replace(
        progress,
        state="snapshot",
        probe_sent=False,
        pending_snapshot_index=snapshot_index,
        inflight=(),
    )


def maybe_update(progress: Progress, index: int) -> tuple[Progress, bool]:
    """Record an acknowledgement up to ``index``; True if ``match_index`` grew (etcd
    ``MaybeUpdate``)."""
    updated = progress.match_index < index
    return (
        msgspec.structs.replace(
            progress,
            match_index=max(progress.match_index, index),
            next_index=max(progress.next_index, index + 1),
            probe_sent=False if updated else progress.probe_sent,
        ),
        updated,
    )


def maybe_decrease_to(progress: Progress, rejected: int, match_hint: int) -> Progress | None:
    """Handle a rejected MsgApp for ``prev_log_index == rejected``; ``match_hint`` is the
    largest index that may match. None when the rejection is stale (etcd ``MaybeDecrTo``)."""
    if progress.state == "replicate":
        if rejected <= progress.match_index:
            return None
        return msgspec.structs.replace(progress, next_index=progress.match_index + 1)
    if progress.next_index - 1 != rejected:
        return None
    return msgspec.structs.replace(
        progress,
        next_index=max(min(rejected, match_hint + 1), progress.match_index + 1),
        probe_sent=False,
    )


def sent_entries(progress: Progress, last_sent_index: int) -> Progress:
    """Account for a MsgApp carrying entries up to ``last_sent_index``."""
    if progress.state == "replicate":
        return msgspec.structs.replace(
            progress,
            next_index=last_sent_index + 1,
            inflight=(*progress.inflight, last_sent_index),
        )
    if progress.state == "probe":
        return msgspec.structs.replace(progress, probe_sent=True)
    return progress


def free_inflight_up_to(progress: Progress, index: int) -> Progress:
    """Forget in-flight appends acknowledged by an answer up to ``index``."""
    remaining = tuple(last for last in progress.inflight if last > index)
    if len(remaining) == len(progress.inflight):
        return progress
    return msgspec.structs.replace(progress, inflight=remaining)


def free_first_inflight(progress: Progress) -> Progress:
    """On a heartbeat response with a full window, let one more MsgApp go (etcd 3.4)."""
    return msgspec.structs.replace(progress, inflight=progress.inflight[1:])
