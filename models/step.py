"""The result of one state-machine transition, shared by every component.

Every component is ``init(config, persisted) -> Step[State, Command]`` and
``on_event(config, state, event) -> Step[State, Command]``: a ``Step`` carries the new state
and the commands (data) the runner must carry out, in order. ``Command`` is the component's
own tagged union (``models.raft.Command`` for Raft), so mypy checks what a handler emits and
what a runner matches on. A handler that dispatches on an event or command union matches
every member and ends with ``case _: assert_never(value)``, so adding a member to a union
makes mypy name every handler that forgot it.

Example (the shape, for a component ``c``)::

    def on_event(config: CConfig, state: CState, event: CEvent) -> Step[CState, CCommand]:
        match event:
            case Tick():
                ...
            case Request():
                ...
            case _:
                assert_never(event)
"""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

StateT = TypeVar("StateT")
CommandT = TypeVar("CommandT")


class Step(msgspec.Struct, Generic[StateT, CommandT], frozen=True, kw_only=True):
    """A new state and the commands the transition produced, in the order to carry them out."""

    state: StateT
    commands: tuple[CommandT, ...] = ()
