"""One node's kubelet with the simulated runtime: feed an event, let the runtime answer.

``pump`` hands the event to the kubelet machine, passes each runtime command to the simulated
runtime, then feeds back every runtime event that is due (bounded), and returns the API
commands for the caller (a server, a simulation world, a test) to carry out. Everything is
immutable data, so the same code serves ``serve kubelet --runtime simulated`` and the world.
"""

from __future__ import annotations

from typing import Final, assert_never

import msgspec

from impl.kubelet import machine
from models.kubelet.config import KubeletConfig
from models.kubelet.events import (
    Command,
    CreateSandbox,
    DeletePod,
    Event,
    PatchPodStatus,
    RegisterNode,
    RemoveSandbox,
    RenewLease,
    RunPreStop,
    RunProbe,
    StartContainer,
    StopContainer,
    UpdateNodeStatus,
)
from models.kubelet.state import KubeletState
from runner.kubelet import simulated
from runner.kubelet.simulated import Runtime

MAX_ROUNDS: Final = 64
"""Runtime answers fed back per pump (each round is one batch of due events)."""

ApiCommand = RegisterNode | UpdateNodeStatus | RenewLease | PatchPodStatus | DeletePod
RuntimeCommand = (
    CreateSandbox | StartContainer | StopContainer | RunProbe | RunPreStop | RemoveSandbox
)


class Pumped(msgspec.Struct, frozen=True, kw_only=True):
    state: KubeletState
    runtime: Runtime
    api: tuple[ApiCommand, ...] = ()
    runtime_commands: tuple[Command, ...] = ()
    log: tuple[Command | Event, ...] = ()
    """The event fed, then the runtime commands sent and the runtime events fed back, in the
    order they happened (what the kubelet's event recorder looks at)."""


def boot(config: KubeletConfig, now_ms: int, node_index: int) -> Pumped:
    """A node that just booted: a fresh kubelet and an empty runtime."""
    step = machine.init(config, now_ms)
    return _route(
        config, step.state, Runtime(node_index=node_index, boot_ms=now_ms), step.commands, now_ms
    )


def split(commands: tuple[Command, ...]) -> tuple[list[ApiCommand], list[RuntimeCommand]]:
    """A step's commands: the API writes and the runtime requests, each in order."""
    api: list[ApiCommand] = []
    runtime: list[RuntimeCommand] = []
    for command in commands:
        match command:
            case (
                RegisterNode() | UpdateNodeStatus() | RenewLease() | PatchPodStatus() | DeletePod()
            ):
                api.append(command)
            case (
                CreateSandbox()
                | StartContainer()
                | StopContainer()
                | RunProbe()
                | RunPreStop()
                | RemoveSandbox()
            ):
                runtime.append(command)
            case _:
                assert_never(command)
    return api, runtime


def _carry(
    commands: tuple[Command, ...],
    runtime: Runtime,
    now_ms: int,
    api: list[ApiCommand],
    sent: list[Command],
    log: list[Command | Event],
) -> Runtime:
    writes, requests = split(commands)
    api.extend(writes)
    for request in requests:
        sent.append(request)
        log.append(request)
        runtime = simulated.on_command(runtime, request, now_ms)
    return runtime


def _route(
    config: KubeletConfig,
    state: KubeletState,
    runtime: Runtime,
    commands: tuple[Command, ...],
    now_ms: int,
    fed: Event | None = None,
) -> Pumped:
    api: list[ApiCommand] = []
    sent: list[Command] = []
    log: list[Command | Event] = [fed] if fed is not None else []
    runtime = _carry(commands, runtime, now_ms, api, sent, log)
    for _ in range(MAX_ROUNDS):
        runtime, events = simulated.take_due(runtime, now_ms)
        if not events:
            break
        for event in events:
            log.append(event)
            step = machine.on_event(config, state, event)
            state = step.state
            runtime = _carry(step.commands, runtime, now_ms, api, sent, log)
    return Pumped(
        state=state,
        runtime=runtime,
        api=tuple(api),
        runtime_commands=tuple(sent),
        log=tuple(log),
    )


def pump(config: KubeletConfig, state: KubeletState, runtime: Runtime, event: Event) -> Pumped:
    """Feed one event and every runtime answer it causes."""
    step = machine.on_event(config, state, event)
    return _route(config, step.state, runtime, step.commands, step.state.now_ms, event)
