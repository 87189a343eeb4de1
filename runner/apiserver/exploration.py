"""The API server world as ``kubeoracle explore`` runs it (``runner.explore.simulation.
Explorable``): the seed draws the setup as for ``simulate apiserver``; every mutant of
``runner.apiserver.mutants``."""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, final

import msgspec

from models.trace import SwarmOptions
from runner.apiserver.world import APISERVER, ApiSetup, ApiWorldKind, draw_setup

MUTANT_DESCRIPTIONS: Final[Mapping[str, str]] = {
    "stale-list": "a list without resourceVersion is read a few revisions in the past",
    "skip-watch-event": "every fifth change event of each watch stream is not sent",
    "ignore-resource-version": "updates and deletes lose their resourceVersion preconditions",
}


def _draw(mutant: str, prng: random.Random, swarm: SwarmOptions) -> ApiSetup:
    drawn = draw_setup(prng, swarm)
    return msgspec.structs.replace(drawn, mutant="" if mutant == "none" else mutant)


@final
@dataclass(frozen=True, slots=True)
class ApiServerExploration:
    """Clients against the reference API server on the reference etcd, and its mutants; runs
    of 300 safety steps unless the user says otherwise."""

    safety_steps: int = 300

    @property
    def kind(self) -> ApiWorldKind:
        return APISERVER

    @property
    def mutants(self) -> Mapping[str, str]:
        return MUTANT_DESCRIPTIONS

    def setup_drawer(self, mutant: str) -> Callable[[random.Random, SwarmOptions], ApiSetup]:
        return functools.partial(_draw, mutant)
