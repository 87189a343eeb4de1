"""Named properties, reusable by every component's spec.

A ``Property`` is a name, a kind and a predicate over some observed value (a state, a step, a
history). ``always`` must hold at every observation; ``sometimes`` must hold at least once in a
run (it shows the situation a safety property guards actually arises); ``eventually`` must hold
by the end of a run's liveness phase. A broken property is reported as a ``Violation``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

import msgspec

PropertyKind = Literal["always", "sometimes", "eventually"]

ObservedT = TypeVar("ObservedT")


@dataclass(frozen=True)
class Property(Generic[ObservedT]):
    """A named predicate. ``predicate`` returns True when the property holds for the value."""

    name: str
    kind: PropertyKind
    predicate: Callable[[ObservedT], bool]
    description: str = ""

    def holds(self, observed: ObservedT) -> bool:
        return self.predicate(observed)


class Violation(msgspec.Struct, frozen=True, kw_only=True):
    """A property that failed: which, the nodes (or objects) involved, and why, in words."""

    property_name: str
    nodes: tuple[int, ...]
    reason: str
