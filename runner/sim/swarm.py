"""Swarm testing and the seeded choice of the next action, for any world.

Swarm testing (Groce et al., "Swarm Testing", ISSTA 2012; TigerBeetle's VOPR) gives each run a
different mix rather than every fault at a fixed rate: a run without crashes reaches deep
states that constant crashing would never let it reach, and a run with many partitions
stresses elections. :func:`draw_swarm` draws, from the run's PRNG, which of the world's fault
kinds the run may inject and the weight of every action kind (0 for a kind whose fault is
off). Every option goes into the trace header, so the seed alone, or the header, reproduces the
choices.

:func:`choose` picks the next action among a world's enabled choices: a kind with probability
proportional to its weight among the enabled kinds, then the concrete action from the PRNG.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

from models.trace import SwarmOptions
from runner.sim.world import ActionKind, Choice

ActionT = TypeVar("ActionT")

FAULT_PROBABILITY = 0.5
"""Each fault kind is on in a swarm run with this probability."""


def draw_swarm(
    prng: random.Random,
    action_kinds: Sequence[ActionKind],
    fault_kinds: Sequence[str],
    faults: Sequence[str] | None,
) -> SwarmOptions:
    """The run's fault mix and action weights. ``faults=None``: each fault kind is on with
    :data:`FAULT_PROBABILITY`; otherwise exactly ``faults``. Draws happen in the catalogue's
    order, whatever is on, so a seed's other choices do not depend on the mix."""
    if faults is None:
        chosen = tuple(sorted(kind for kind in fault_kinds if prng.random() < FAULT_PROBABILITY))
    else:
        chosen = tuple(sorted(set(faults)))
    assert set(chosen) <= set(fault_kinds), (chosen, fault_kinds)
    weights: dict[str, int] = {}
    for kind in action_kinds:
        drawn = prng.randint(kind.weight_low, kind.weight_high)
        weights[kind.name] = drawn if kind.fault is None or kind.fault in chosen else 0
    return SwarmOptions(faults=chosen, weights=weights)


def choose(prng: random.Random, swarm: SwarmOptions, choices: Sequence[Choice[ActionT]]) -> ActionT:
    """One enabled action: a kind with probability proportional to its weight among the
    enabled kinds with a positive weight, then the action that kind's choice makes."""
    weighted = [(swarm.weights.get(choice.kind, 0), choice) for choice in choices]
    weighted = [(weight, choice) for weight, choice in weighted if weight > 0]
    total = sum(weight for weight, _ in weighted)
    assert total > 0, "no action is enabled"
    point = prng.random() * total
    for weight, choice in weighted:
        point -= weight
        if point < 0:
            return choice.make(prng)
    return weighted[-1][1].make(prng)
