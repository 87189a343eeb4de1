"""The result of one state-machine transition, shared by every component.

Every component is ``init(config, persisted) -> Step[State]`` and
``on_event(config, state, event) -> Step[State]``: a ``Step`` carries the new state and the
commands (data) the runner must carry out, in order.
"""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

StateT = TypeVar("StateT")


class Step(msgspec.Struct, Generic[StateT], frozen=True, kw_only=True):
    """A new state and the commands the transition produced, in the order to carry them out.

    ``commands`` holds the component's own command union; it is typed ``object`` here because
    the union differs per component: consumers narrow with ``match``/``isinstance``.
    """

    state: StateT
    commands: tuple[object, ...] = ()
