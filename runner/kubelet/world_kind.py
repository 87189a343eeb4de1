"""The kubelet world's kind (``kubelet``): its checkers, the swarm's choices, the fair schedule
of the liveness phase, and statistics."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any, Final

from models.kubelet.world import (
    Advance,
    Heal,
    KubeletAction,
    KubeletOutput,
    KubeletSetup,
    KubeletWorldState,
    Reboot,
)
from models.trace import SwarmOptions
from runner.kubelet.world import Engine, Step, draw_action
from runner.sim.world import ActionKind, Choice, NotEnabled, Violation, check_world_kind
from spec.kubelet import properties

LEASE_FRESH_MS: Final = 20_000


class SafetyChecker:
    """Every kubelet property on each node, API phase transitions, single instance."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.first: dict[str, int | None] = dict.fromkeys(properties.SOMETIMES)

    def start(self, state: KubeletWorldState) -> tuple[Violation, ...]:
        del state
        return ()

    def step(
        self,
        index: int,
        action: KubeletAction,
        before: KubeletWorldState,
        after: KubeletWorldState,
        outputs: tuple[KubeletOutput, ...],
    ) -> tuple[Violation, ...]:
        del outputs
        found: list[Violation] = []
        for node, (old, new) in enumerate(zip(before.nodes, after.nodes, strict=True)):
            if isinstance(action, Reboot) and action.node == node:
                continue
            config = self.engine.configs[node]
            found.extend(properties.judge_step(config, old.state, new.state))
            for name in properties.companions(old.state, new.state):
                if self.first.get(name, 0) is None:
                    self.first[name] = index
        phases = {p.pod.meta.uid: p.pod.pod_status.phase or "Pending" for p in before.pods}
        for item in after.pods:
            was = phases.get(item.pod.meta.uid)
            now = item.pod.pod_status.phase or "Pending"
            if was is not None and now not in properties.ALLOWED.get(was, frozenset()):
                found.append(
                    Violation(
                        property_name="kubelet.phase_transitions",
                        nodes=(item.node,),
                        reason=f"API pod {item.pod.meta.name} moved from {was} to {now}",
                    )
                )
        found.extend(properties.single_instance({s.name: s.state for s in after.nodes}))
        return tuple(found)

    def finish(self, state: KubeletWorldState, index: int) -> tuple[Violation, ...]:
        del state, index
        return ()

    def coverage(self) -> Mapping[str, int | None]:
        return dict(self.first)


def settled(state: KubeletWorldState) -> bool:
    """Every node reachable with a fresh Lease, every API pod's phase its kubelet's."""
    for slot in state.nodes:
        renewed = slot.lease_renewed_ms
        now = state.now_ms + slot.clock_offset_ms
        if not slot.reachable or renewed is None or now - renewed > LEASE_FRESH_MS:
            return False
    for item in state.pods:
        record = state.nodes[item.node].state.pod(item.pod.meta.uid or "")
        if record is None or (item.pod.pod_status.phase or "Pending") != record.phase:
            return False
    return True


class Settled:
    name = "kubelet.settled"

    def observe(self, state: KubeletWorldState, outputs: tuple[KubeletOutput, ...]) -> bool:
        del outputs
        return settled(state)

    def failure(self, bound: int) -> str:
        return (
            f"within {bound} steps after healing, some node's Lease stayed stale or some pod's "
            "API status did not reach its kubelet's phase"
        )


class FairDriver:
    """Heal every cut-off node, then let time pass a second at a time."""

    def next_action(self, state: KubeletWorldState, index: int) -> KubeletAction:
        del index
        for node, slot in enumerate(state.nodes):
            if not slot.reachable:
                return Heal(node=node)
        return Advance(seconds=1)

    def observe(self, index: int, applied: Step) -> None:
        pass


class Tally:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def count(self, action: KubeletAction, outputs: tuple[KubeletOutput, ...]) -> None:
        name = type(action).__name__.lower()
        self.counts[name] = self.counts.get(name, 0) + 1
        self.counts["writes"] = self.counts.get("writes", 0) + len(outputs)
        failed = sum(1 for o in outputs if o.code == 0)
        self.counts["unanswered"] = self.counts.get("unanswered", 0) + failed

    def summary(self) -> dict[str, Any]:
        return dict(sorted(self.counts.items()))


class KubeletWorld:
    def __init__(self, setup: KubeletSetup) -> None:
        self.engine = Engine(setup)

    def initial(self) -> Step:
        return self.engine.initial()

    def apply(self, state: KubeletWorldState, action: KubeletAction) -> Step | NotEnabled:
        return self.engine.apply(state, action)

    def choices(self, state: KubeletWorldState, last: Step) -> Sequence[Choice[KubeletAction]]:
        del last
        kinds = ["advance", "reboot", "clock-jump", "pressure"]
        if len(state.pods) < self.engine.setup.max_pods:
            kinds.append("create")
        if any(p.pod.meta.deletion_timestamp is None for p in state.pods):
            kinds.append("delete")
        if any(s.reachable for s in state.nodes):
            kinds.append("partition")
        if any(not s.reachable for s in state.nodes):
            kinds.append("heal")
        return [self._choice(state, kind) for kind in kinds]

    def _choice(self, state: KubeletWorldState, kind: str) -> Choice[KubeletAction]:
        def make(prng: random.Random) -> KubeletAction:
            return draw_action(self.engine, state, kind, prng)

        return Choice(kind, make)

    def checkers(self) -> tuple[SafetyChecker, ...]:
        return (SafetyChecker(self.engine),)

    def progress(self) -> Settled:
        return Settled()

    def driver(self, prng: random.Random) -> FairDriver:
        del prng
        return FairDriver()

    def statistics(self) -> Tally:
        return Tally()


class KubeletWorldKind:
    name: Final = "kubelet"
    setup_type: Final = KubeletSetup
    action_type: Final[Any] = KubeletAction
    action_kinds: Final = (
        ActionKind("advance", None, 30, 60),
        ActionKind("create", None, 5, 10),
        ActionKind("delete", None, 2, 5),
        ActionKind("partition", "partition", 1, 3),
        ActionKind("heal", "partition", 2, 6),
        ActionKind("reboot", "reboot", 1, 2),
        ActionKind("clock-jump", "clock", 1, 2),
        ActionKind("pressure", "pressure", 1, 4),
    )
    fault_kinds: Final = ("partition", "reboot", "clock", "pressure")

    def build(self, setup: KubeletSetup, swarm: SwarmOptions) -> KubeletWorld:
        del swarm
        return KubeletWorld(setup)


KUBELET: Final = KubeletWorldKind()
check_world_kind(KUBELET)
