"""The dispatcher: starts a node and routes each event to the module that handles it."""

from __future__ import annotations

from models.raft import ConfState, Event, PersistedState, RaftConfig, RaftNodeState
from models.step import Step


def init(
    config: RaftConfig, persisted: PersistedState | None, initial_conf: ConfState
) -> Step[RaftNodeState]:
    """Start (or restart from ``persisted``) as a follower (paper section 5.2)."""
    raise NotImplementedError


def on_event(config: RaftConfig, state: RaftNodeState, event: Event) -> Step[RaftNodeState]:
    """Handle one event."""
    raise NotImplementedError
