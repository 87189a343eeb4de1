"""The kube-proxy machine: when it syncs, full versus partial syncs, failures, and that a run
of partial syncs leaves the kernel (as the interpreters see it) implementing the model (for
ipvs mode, with its documented departures)."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from impl.proxy.machine import current_cluster, init, on_event
from models.k8s.core.service import Service
from models.k8s.discovery import EndpointSlice
from models.proxy.config import ProxyMode
from models.proxy.events import (
    EndpointSliceDeleted,
    EndpointSliceUpserted,
    EnsureJumpRules,
    InitialListsSynced,
    IptablesRestore,
    IpvsApply,
    NftablesRun,
    ProxyCommand,
    ProxyEvent,
    ServiceDeleted,
    ServiceUpserted,
    SyncApplied,
    SyncDue,
)
from models.proxy.state import ProxyMachineConfig, ProxyState
from spec.proxy.ipset_rules import IpSets, apply_ipset
from spec.proxy.iptables_eval import ensure_jumps, iptables_proxy
from spec.proxy.iptables_rules import Ruleset, apply_restore
from spec.proxy.ipvs_eval import ipvs_proxy
from spec.proxy.ipvs_mode import ipvs_expectation
from spec.proxy.ipvs_rules import IpvsTable, apply_ipvsadm
from spec.proxy.judge import first_difference
from spec.proxy.nft_eval import nft_proxy
from spec.proxy.nft_read import apply_transaction
from spec.proxy.nft_rules import NftRuleset
from tests.proxy.builders import config, endpoint_slice, ep, service, tcp
from tests.proxy.strategies import services_and_slices

Generated = tuple[list[Service], list[EndpointSlice]]


def machine(mode: ProxyMode = "iptables") -> ProxyMachineConfig:
    return ProxyMachineConfig(proxy=config(), mode=mode)


def run(
    setup: ProxyMachineConfig, state: ProxyState, events: list[ProxyEvent]
) -> tuple[ProxyState, list[ProxyCommand]]:
    commands: list[ProxyCommand] = []
    for event in events:
        step = on_event(setup, state, event)
        state = step.state
        commands.extend(step.commands)
    return state, commands


def web(ip: str = "10.180.0.1") -> list[ProxyEvent]:
    return [
        ServiceUpserted(service=service("ns", "web", "172.30.0.1", [tcp("p", 80)])),
        EndpointSliceUpserted(endpoint_slice=endpoint_slice("ns", "web", [ep(ip)], [tcp("p", 80)])),
    ]


def test_no_sync_before_the_initial_lists_are_in() -> None:
    setup = machine()
    _, commands = run(setup, init(setup).state, [*web(), SyncDue(now_seconds=1)])
    assert commands == []


def test_first_sync_is_full_then_partial_then_full_after_a_failure() -> None:
    setup = machine()
    state, commands = run(
        setup, init(setup).state, [*web(), InitialListsSynced(), SyncDue(now_seconds=1)]
    )
    assert [type(c) for c in commands] == [EnsureJumpRules, IptablesRestore]
    state, _ = run(setup, state, [SyncApplied(ok=True)])
    state, commands = run(setup, state, [*web("10.180.0.2")[1:], SyncDue(now_seconds=2)])
    restore = commands[-1]
    assert isinstance(restore, IptablesRestore)
    assert not restore.full
    assert "10.180.0.2:80" in restore.text
    state, commands = run(setup, state, [SyncApplied(ok=False), SyncDue(now_seconds=3)])
    assert isinstance(commands[-1], IptablesRestore)
    assert commands[-1].full


def test_an_unchanged_service_is_left_out_of_a_partial_sync() -> None:
    setup = machine()
    other: list[ProxyEvent] = [
        ServiceUpserted(service=service("ns", "db", "172.30.0.2", [tcp("p", 5432)])),
        EndpointSliceUpserted(
            endpoint_slice=endpoint_slice("ns", "db", [ep("10.180.0.9")], [tcp("p", 5432)])
        ),
    ]
    events: list[ProxyEvent] = [
        *web(),
        *other,
        InitialListsSynced(),
        SyncDue(now_seconds=1),
        SyncApplied(ok=True),
    ]
    state, _ = run(setup, init(setup).state, events)
    _, commands = run(setup, state, [*web("10.180.0.3")[1:], SyncDue(now_seconds=2)])
    restore = commands[-1]
    assert isinstance(restore, IptablesRestore)
    assert "10.180.0.3:80" in restore.text
    assert "10.180.0.9:5432" not in restore.text


def test_a_full_sync_runs_at_least_hourly() -> None:
    setup = machine()
    events = [*web(), InitialListsSynced(), SyncDue(now_seconds=0), SyncApplied(ok=True)]
    state, _ = run(setup, init(setup).state, events)
    _, soon = run(setup, state, [SyncDue(now_seconds=3600)])
    _, late = run(setup, state, [SyncDue(now_seconds=3601)])
    assert isinstance(soon[-1], IptablesRestore)
    assert not soon[-1].full
    assert isinstance(late[-1], IptablesRestore)
    assert late[-1].full


def test_an_ipvs_partial_sync_writes_only_the_changed_real_servers_and_set_entries() -> None:
    setup = machine("ipvs")
    other: list[ProxyEvent] = [
        ServiceUpserted(service=service("ns", "db", "172.30.0.2", [tcp("p", 5432)])),
        EndpointSliceUpserted(
            endpoint_slice=endpoint_slice("ns", "db", [ep("10.180.0.9")], [tcp("p", 5432)])
        ),
    ]
    events: list[ProxyEvent] = [*web(), *other, InitialListsSynced(), SyncDue(now_seconds=1)]
    state, commands = run(setup, init(setup).state, events)
    assert [type(c) for c in commands] == [EnsureJumpRules, IpvsApply]
    state, _ = run(setup, state, [SyncApplied(ok=True)])
    _, commands = run(setup, state, [*web("10.180.0.3")[1:], SyncDue(now_seconds=2)])
    applied = commands[-1]
    assert isinstance(applied, IpvsApply)
    assert not applied.full
    assert applied.ipvsadm == (
        "-d -t 172.30.0.1:80 -r 10.180.0.1:80\n-a -t 172.30.0.1:80 -r 10.180.0.3:80 -m -w 1\n"
    )
    # The ipsets did not change: only their (idempotent) create lines are written.
    assert all(line.startswith("create ") for line in applied.ipset.splitlines())


def events_between(before: Generated, after: Generated) -> list[ProxyEvent]:
    """Informer events turning the cluster ``before`` into ``after``."""
    events: list[ProxyEvent] = []
    names_after = {s.metadata.name for s in after[0] if s.metadata}
    for old in before[0]:
        if old.metadata and old.metadata.name not in names_after:
            events.append(ServiceDeleted(namespace="ns", name=old.metadata.name or ""))
    slices_after = {s.metadata.name for s in after[1] if s.metadata}
    for old_slice in before[1]:
        if old_slice.metadata and old_slice.metadata.name not in slices_after:
            events.append(EndpointSliceDeleted(namespace="ns", name=old_slice.metadata.name or ""))
    events.extend(ServiceUpserted(service=s) for s in after[0])
    events.extend(EndpointSliceUpserted(endpoint_slice=s) for s in after[1])
    return events


def apply_iptables(kernel: Ruleset, commands: list[ProxyCommand]) -> Ruleset:
    for command in commands:
        if isinstance(command, EnsureJumpRules):
            kernel = ensure_jumps(kernel, command.rules)
        elif isinstance(command, IptablesRestore):
            kernel = apply_restore(kernel, command.text)
    return kernel


class IpvsKernel(msgspec.Struct, frozen=True, kw_only=True):
    table: IpvsTable = msgspec.field(default_factory=dict)
    sets: IpSets = msgspec.field(default_factory=dict)
    rules: Ruleset = msgspec.field(default_factory=dict)


def apply_ipvs(kernel: IpvsKernel, commands: list[ProxyCommand]) -> IpvsKernel:
    for command in commands:
        if isinstance(command, EnsureJumpRules):
            kernel = msgspec.structs.replace(
                kernel, rules=ensure_jumps(kernel.rules, command.rules)
            )
        elif isinstance(command, IpvsApply):
            kernel = IpvsKernel(
                table=apply_ipvsadm(kernel.table, command.ipvsadm),
                sets=apply_ipset(kernel.sets, command.ipset),
                rules=apply_restore(kernel.rules, command.iptables),
            )
    return kernel


def apply_nftables(kernel: NftRuleset, commands: list[ProxyCommand]) -> NftRuleset:
    for command in commands:
        if isinstance(command, NftablesRun):
            kernel = apply_transaction(kernel, command.text)
    return kernel


@settings(max_examples=15, deadline=None)
@given(st.lists(services_and_slices(max_services=3), min_size=2, max_size=4))
def test_partial_syncs_keep_the_kernel_implementing_the_model(history: list[Generated]) -> None:
    for mode in ("iptables", "nftables", "ipvs"):
        setup = machine(mode)
        state = init(setup).state
        iptables_kernel: Ruleset = {}
        nft_kernel: NftRuleset = {}
        ipvs_kernel = IpvsKernel()
        previous: Generated = ([], [])
        for number, cluster_objects in enumerate(history):
            events = [*events_between(previous, cluster_objects), InitialListsSynced()]
            events.append(SyncDue(now_seconds=10.0 * number))
            state, commands = run(setup, state, events)
            state, _ = run(setup, state, [SyncApplied(ok=True)])
            cluster = current_cluster(state)
            node = setup.proxy
            expect = None
            if mode == "iptables":
                iptables_kernel = apply_iptables(iptables_kernel, commands)
                proxy = iptables_proxy(iptables_kernel, node, cluster)
            elif mode == "nftables":
                nft_kernel = apply_nftables(nft_kernel, commands)
                proxy = nft_proxy(nft_kernel, node, cluster)
            else:
                ipvs_kernel = apply_ipvs(ipvs_kernel, commands)
                k = ipvs_kernel
                proxy = ipvs_proxy(k.table, k.sets, k.rules, node, cluster)
                expect = ipvs_expectation(node, cluster)
            assert first_difference(node, cluster, proxy, expect) is None, (mode, number)
            previous = cluster_objects
