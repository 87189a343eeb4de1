"""Throughput of ``impl.raft`` and of ``spec.raft.check_step``, measured separately.

A leader of an N-node cluster takes proposals; every message is delivered in order; the
cluster observation after every event is recorded. Then the recorded observations are fed to
``check_step`` alone. Prints events per second for the implementation (with this script's
minimal pump) and observations per second (and microseconds each) for the checker.

    python -m benchmarks.raft_core [--nodes 5] [--proposals 400]
"""

from __future__ import annotations

import argparse
import time

from impl.raft import init, on_event
from models.raft import (
    Campaign,
    ClusterObservation,
    ConfState,
    Event,
    Message,
    MessageReceived,
    Propose,
    RaftConfig,
    RaftNodeState,
    RandomDrawn,
    RequestRandom,
    SendMessage,
    Tick,
    observe_node,
)
from spec.raft import RaftHistory, check_step


class Pump:
    """Nodes, an in-order message queue, and the observation after every event."""

    def __init__(self, size: int) -> None:
        conf = ConfState(voters=tuple(range(1, size + 1)))
        self.configs = {n: RaftConfig(node_id=n) for n in conf.voters}
        self.states: dict[int, RaftNodeState] = {}
        self.queue: list[Message] = []
        self.observations: list[ClusterObservation] = []
        self.events = 0
        for node_id, config in self.configs.items():
            step = init(config, None, conf)
            self.states[node_id] = step.state
            self._carry_out(node_id, step.commands)

    def step(self, node_id: int, event: Event) -> None:
        step = on_event(self.configs[node_id], self.states[node_id], event)
        self.events += 1
        self.states[node_id] = step.state
        self._carry_out(node_id, step.commands)
        self.observations.append(
            ClusterObservation(
                nodes=tuple(observe_node(self.states[n]) for n in sorted(self.states))
            )
        )

    def _carry_out(self, node_id: int, commands: tuple[object, ...]) -> None:
        for command in commands:
            if isinstance(command, SendMessage):
                self.queue.append(command.message)
            elif isinstance(command, RequestRandom):
                self.step(node_id, RandomDrawn(value=command.low + node_id - 1))

    def drain(self) -> None:
        for _ in range(100_000):
            if not self.queue:
                return
            message = self.queue.pop(0)
            self.step(message.to_id, MessageReceived(message=message))
        raise AssertionError("the queue did not drain")


def run_core(nodes: int, proposals: int) -> tuple[Pump, float]:
    """Elect node 1, then propose and tick; the pump and the CPU seconds the core took."""
    pump = Pump(nodes)
    started = time.process_time()
    pump.step(1, Campaign())
    pump.drain()
    for number in range(proposals):
        pump.step(1, Propose(data=b"value-%d" % number))
        pump.drain()
        pump.step(1, Tick())
        pump.drain()
    return pump, time.process_time() - started


def core_events_per_second(nodes: int = 5, proposals: int = 400) -> float:
    """Events per CPU second of ``impl.raft`` with this script's minimal pump."""
    pump, seconds = run_core(nodes, proposals)
    return pump.events / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument("--proposals", type=int, default=400)
    options = parser.parse_args()
    pump, impl_seconds = run_core(options.nodes, options.proposals)
    history = RaftHistory()
    started = time.process_time()
    for observation in pump.observations:
        history, violations = check_step(history, observation)
        assert violations == (), violations
    check_seconds = time.process_time() - started
    count = len(pump.observations)
    print(f"cluster: {options.nodes} nodes, {options.proposals} proposals, {pump.events} events")
    print(f"impl.raft + pump: {pump.events / impl_seconds:,.0f} events per CPU second")
    print(
        f"spec.raft.check_step: {count / check_seconds:,.0f} observations per CPU second "
        f"({check_seconds / count * 1e6:.0f} us each)"
    )


if __name__ == "__main__":
    main()
