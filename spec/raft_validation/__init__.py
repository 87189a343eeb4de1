"""Trace validation for Raft: the reference relation that judges per-node Raft events.

``validate(events, options)`` returns the first ``Violation`` (which event, which node, which
rule, the state the reference expected and the state reported) or a ``Summary`` of a trace
consistent with Raft. The relation is pure and never imports ``impl/``: it judges traces from any
implementation, in kubeoracle's event format (:mod:`models.raft_events`).
"""

from spec.raft_validation.checker import (
    LocatedEvent,
    Options,
    Summary,
    ValidatorState,
    Violation,
    step,
)
from spec.raft_validation.rules import ALL_RULES, Rule
from spec.raft_validation.validator import validate

__all__ = [
    "ALL_RULES",
    "LocatedEvent",
    "Options",
    "Rule",
    "Summary",
    "ValidatorState",
    "Violation",
    "step",
    "validate",
]
