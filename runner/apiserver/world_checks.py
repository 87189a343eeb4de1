"""The API server world's judges for the kernel: the history checker (the API properties and
per-object linearizability, after every step), the liveness property and the statistics."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from models.apiserver.history import ApiHistory
from models.apiserver.messages import Respond
from runner.sim.world import Violation
from spec.apiserver.properties import SOMETIMES, violations
from spec.apiserver.registers import check_objects

HistoryOf = Callable[[Any], ApiHistory]
"""How a world state gives the run's recorded history."""


class HistoryChecker:
    """The API properties and per-object linearizability on the history recorded so far, after
    every step that changed it, and on the whole run at its end."""

    def __init__(self, history_of: HistoryOf) -> None:
        self.history_of = history_of
        self.held: dict[str, int | None] = {name: None for name, _, _ in SOMETIMES}

    def start(self, state: Any) -> tuple[Violation, ...]:
        return self._judge(self.history_of(state), 0)

    def step(
        self,
        index: int,
        action: object,
        before: Any,
        after: Any,
        outputs: tuple[object, ...],
    ) -> tuple[Violation, ...]:
        del action, outputs
        history = self.history_of(after)
        if history == self.history_of(before):
            return ()
        return self._judge(history, index)

    def finish(self, state: Any, index: int) -> tuple[Violation, ...]:
        return self._judge(self.history_of(state), index)

    def _judge(self, history: ApiHistory, index: int) -> tuple[Violation, ...]:
        for name, _, holds in SOMETIMES:
            if self.held[name] is None and holds(history):
                self.held[name] = index
        found = list(violations(history))
        for name, report in check_objects(history).items():
            if report.verdict == "not_linearizable":
                reason = report.violation.explanation if report.violation else report.note
                found.append(
                    Violation(property_name="linearizable", nodes=(), reason=f"{name}: {reason}")
                )
        return tuple(found)

    def coverage(self) -> Mapping[str, int | None]:
        return dict(self.held)


class AnswersFlow:
    """Liveness: once faults stop, a client call is answered without a server error."""

    name = "answers_flow"

    def observe(self, state: Any, outputs: tuple[object, ...]) -> bool:
        del state
        return any(isinstance(o, Respond) and o.response.status < 500 for o in outputs)

    def failure(self, bound: int) -> str:
        return f"no client call was answered without a server error within {bound} steps"


class Tally:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def count(self, action: object, outputs: tuple[object, ...]) -> None:
        del outputs
        name = type(action).__name__
        self.counts[name] = self.counts.get(name, 0) + 1

    def summary(self) -> dict[str, object]:
        return dict(sorted(self.counts.items()))
