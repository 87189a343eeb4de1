"""The container restart backoff: ``flowcontrol.Backoff`` as the kubelet uses it.

Theory of operation. One entry per pod and container (``<uid>/<name>``) holds the current
backoff and when it was last updated. A container that exited is held back while less than
the backoff has passed since it finished (``IsInBackOffSince``); otherwise it restarts and the
entry moves on (``Next``): the first restart sets the initial 10 s, each later one doubles it,
capped at 300 s. An entry not updated for more than twice the cap (600 s: the container ran
stably for ten minutes) has expired: the next exit restarts at once and starts over at 10 s.
So a container that always fails restarts after 0, 10, 20, 40, 80, 160, 300, 300, ... s.
"""

from __future__ import annotations

from models.kubelet.config import BACKOFF_NOT_RESET, KubeletConfig
from models.kubelet.state import BackoffEntry


def key(uid: str, container: str) -> str:
    return f"{uid}/{container}"


def _find(entries: tuple[BackoffEntry, ...], name: str) -> BackoffEntry | None:
    for entry in entries:
        if entry.key == name:
            return entry
    return None


def _expired(config: KubeletConfig, event_ms: int, last_update_ms: int) -> bool:
    """``hasExpired``: stable for more than twice the maximum."""
    if config.mutant == BACKOFF_NOT_RESET:
        return False
    return event_ms - last_update_ms > 2 * config.max_container_backoff_ms


def in_backoff(
    config: KubeletConfig,
    entries: tuple[BackoffEntry, ...],
    name: str,
    finished_ms: int,
    now_ms: int,
) -> int | None:
    """The backoff (ms) still holding back a container that finished at ``finished_ms``, or
    None when it may restart now."""
    entry = _find(entries, name)
    if entry is None or _expired(config, finished_ms, entry.last_update_ms):
        return None
    return entry.backoff_ms if now_ms - finished_ms < entry.backoff_ms else None


def advance(
    config: KubeletConfig, entries: tuple[BackoffEntry, ...], name: str, now_ms: int
) -> tuple[BackoffEntry, ...]:
    """``Next``: record a restart at ``now_ms``."""
    entry = _find(entries, name)
    if entry is None or _expired(config, now_ms, entry.last_update_ms):
        backoff_ms = config.initial_backoff_ms
    else:
        backoff_ms = min(entry.backoff_ms * 2, config.max_container_backoff_ms)
    updated = BackoffEntry(key=name, backoff_ms=backoff_ms, last_update_ms=now_ms)
    if entry is None:
        return (*entries, updated)
    return tuple(updated if e.key == name else e for e in entries)


def forget(entries: tuple[BackoffEntry, ...], uid: str) -> tuple[BackoffEntry, ...]:
    """Drop a removed pod's entries."""
    prefix = f"{uid}/"
    return tuple(e for e in entries if not e.key.startswith(prefix))
