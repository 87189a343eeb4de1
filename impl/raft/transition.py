"""The accumulator for one transition: the evolving node state and the commands, in order.

Handlers in ``impl.raft`` take a ``Transition`` and update it; ``node.on_event`` creates one per
event and turns it into a ``Step`` with ``finish``. It lives only for the duration of one call
(no state outlives the call), so the component stays a pure function of (state, event).

Persistence is derived, not hand-emitted: ``finish`` compares the persisted state before and
after the event and puts ``PersistSnapshot``, ``PersistEntries`` and ``PersistHardState`` FIRST,
so a runner that carries out commands in order writes to stable storage before it sends any
message (paper Figure 2: "respond to RPCs only after updating stable storage").
"""

from __future__ import annotations

from typing import Any

import msgspec

from models.raft import (
    Command,
    Entry,
    Message,
    PersistedState,
    PersistEntries,
    PersistHardState,
    PersistSnapshot,
    Progress,
    RaftConfig,
    RaftNodeState,
    SendMessage,
)
from models.step import Step


class Transition:
    """Mutable only while one event is handled; see the module docstring."""

    __slots__ = ("commands", "config", "log_dirty_from", "original", "snapshot_installed", "state")

    def __init__(self, config: RaftConfig, state: RaftNodeState) -> None:
        self.config = config
        self.state = state
        self.original = state.persisted
        self.commands: list[Command] = []
        # Lowest log index written during this transition (0: the log is untouched).
        self.log_dirty_from = 0
        # True once a leader's snapshot replaced the whole log (vs. local compaction).
        self.snapshot_installed = False

    # -- state updates -------------------------------------------------------------------------

    def update(self, **changes: Any) -> None:
        """Replace fields of the node state (checked by msgspec at runtime)."""
        self.state = msgspec.structs.replace(self.state, **changes)

    def update_persisted(self, **changes: Any) -> None:
        self.update(persisted=msgspec.structs.replace(self.state.persisted, **changes))

    def set_log(self, log: tuple[Entry, ...], dirty_from: int) -> None:
        """Replace the log; entries from ``dirty_from`` on are new and must be persisted."""
        self.update_persisted(log=log)
        if dirty_from > 0 and (self.log_dirty_from == 0 or dirty_from < self.log_dirty_from):
            self.log_dirty_from = dirty_from

    def progress_of(self, node_id: int) -> Progress | None:
        for progress in self.state.progress:
            if progress.node_id == node_id:
                return progress
        return None

    def set_progress(self, progress: Progress) -> None:
        """Insert or replace one member's progress, keeping the tuple sorted by node id."""
        others = tuple(p for p in self.state.progress if p.node_id != progress.node_id)
        self.update(
            progress=tuple(sorted((*others, progress), key=lambda item: item.node_id)),
        )

    # -- output --------------------------------------------------------------------------------

    def emit(self, command: Command) -> None:
        self.commands.append(command)

    def send(self, message: Message) -> None:
        self.commands.append(SendMessage(message=message))

    def finish(self) -> Step[RaftNodeState, Command]:
        return Step(state=self.state, commands=(*self._persist_commands(), *self.commands))

    def _persist_commands(self) -> tuple[Command, ...]:
        before: PersistedState = self.original
        after = self.state.persisted
        if after is before:
            return ()
        commands: list[Command] = []
        if after.snapshot is not before.snapshot:
            commands.append(
                PersistSnapshot(snapshot=after.snapshot, discard_log=self.snapshot_installed)
            )
        if self.log_dirty_from > 0:
            offset = self.log_dirty_from - after.first_index()
            written = after.log[max(offset, 0) :]
            if written:
                commands.append(PersistEntries(entries=written))
        if (after.term, after.vote, after.commit_index) != (
            before.term,
            before.vote,
            before.commit_index,
        ):
            commands.append(
                PersistHardState(term=after.term, vote=after.vote, commit_index=after.commit_index)
            )
        return tuple(commands)
