"""kube-proxy v1.35 as one sans-I/O state machine, for every proxy mode.

Theory of operation. Informer events (Services and EndpointSlices added, updated, deleted)
update the cache in the state and mark the owning Service as changed when what the proxy reads
of it (``models.proxy.view``) changed, as kube-proxy's change trackers do. Until both initial
lists are in (``InitialListsSynced``) no sync runs. ``SyncDue`` (the runner's bounded-frequency
timer, with the time) renders the mode's rules:

- a full sync when one is needed (start-up, a failed sync, a zone label change, rules flushed
  behind the proxy's back) or the last full sync is over ``full_sync_period_seconds`` old;
- otherwise a partial sync that rewrites only changed Services' chains.

The sync's commands go to the runner; ``SyncApplied(ok)`` says how they went: on success the
kernel state the sync left becomes the state, on failure the next sync is full (kube-proxy has
consumed the changes it would need for a partial one). Time enters only through ``SyncDue``.
"""

from __future__ import annotations

from typing import assert_never

import immutables
import msgspec

from impl.proxy import iptables, ipvs, nftables, userspace
from models.proxy.events import (
    EndpointSliceDeleted,
    EndpointSliceUpserted,
    EnsureJumpRules,
    InitialListsSynced,
    IptablesRestore,
    IpvsApply,
    NftablesRun,
    NodeZoneChanged,
    ProxyCommand,
    ProxyEvent,
    RulesFlushed,
    ServiceDeleted,
    ServiceUpserted,
    SyncApplied,
    SyncDue,
    UserspaceTable,
)
from models.proxy.state import InFlight, Key, ProxyMachineConfig, ProxyState
from models.proxy.view import ServicePortEndpoints, cluster_view, slice_service
from models.step import Step

ProxyStep = Step[ProxyState, ProxyCommand]


def init(config: ProxyMachineConfig) -> ProxyStep:
    return Step(state=ProxyState(zone=config.proxy.zone))


def _key(namespace: str | None, name: str | None) -> Key:
    return (namespace or "default", name or "")


def _projection(state: ProxyState, owner: Key) -> tuple[ServicePortEndpoints, ...]:
    service = state.services.get(owner)
    if service is None:
        return ()
    keys = state.owner_slices.get(owner, frozenset())
    return cluster_view([service], [state.slices[key] for key in sorted(keys)])


def _index(state: ProxyState, key: Key, old: Key | None, new: Key | None) -> ProxyState:
    """Move slice ``key`` from owner ``old`` to owner ``new`` in the owner index."""
    index = state.owner_slices
    if old is not None:
        remaining = index.get(old, frozenset()) - {key}
        index = index.set(old, remaining) if remaining else index.delete(old)
    if new is not None:
        index = index.set(new, index.get(new, frozenset()) | {key})
    return msgspec.structs.replace(state, owner_slices=index)


def _changed(before: ProxyState, after: ProxyState, owner: Key | None) -> ProxyState:
    if owner is None or _projection(before, owner) == _projection(after, owner):
        return after
    return msgspec.structs.replace(after, changed=after.changed.set(owner, True))


def on_event(config: ProxyMachineConfig, state: ProxyState, event: ProxyEvent) -> ProxyStep:
    match event:
        case ServiceUpserted(service=service):
            meta = service.metadata
            key = _key(meta.namespace if meta else None, meta.name if meta else None)
            after = msgspec.structs.replace(state, services=state.services.set(key, service))
            return Step(state=_changed(state, after, key))
        case ServiceDeleted(namespace=namespace, name=name):
            key = _key(namespace, name)
            if key not in state.services:
                return Step(state=state)
            after = msgspec.structs.replace(state, services=state.services.delete(key))
            return Step(state=_changed(state, after, key))
        case EndpointSliceUpserted(endpoint_slice=endpoint_slice):
            meta = endpoint_slice.metadata
            key = _key(meta.namespace if meta else None, meta.name if meta else None)
            old = state.slices.get(key)
            old_owner = slice_service(old) if old is not None else None
            new_owner = slice_service(endpoint_slice)
            after = msgspec.structs.replace(state, slices=state.slices.set(key, endpoint_slice))
            after = _index(after, key, old_owner, new_owner)
            for owner in {old_owner, new_owner}:
                after = _changed(state, after, owner)
            return Step(state=after)
        case EndpointSliceDeleted(namespace=namespace, name=name):
            key = _key(namespace, name)
            old = state.slices.get(key)
            if old is None:
                return Step(state=state)
            owner = slice_service(old)
            after = msgspec.structs.replace(state, slices=state.slices.delete(key))
            after = _index(after, key, owner, None)
            return Step(state=_changed(state, after, owner))
        case NodeZoneChanged(zone=zone):
            if zone == state.zone:
                return Step(state=state)
            return Step(state=msgspec.structs.replace(state, zone=zone, need_full_sync=True))
        case InitialListsSynced():
            return Step(state=msgspec.structs.replace(state, lists_synced=True))
        case RulesFlushed():
            return Step(state=msgspec.structs.replace(state, need_full_sync=True))
        case SyncDue(now_seconds=now):
            return _sync(config, state, now)
        case SyncApplied(ok=ok):
            return Step(state=_applied(state, ok))
        case _:
            assert_never(event)


def _applied(state: ProxyState, ok: bool) -> ProxyState:
    flight = state.in_flight
    if flight is None:
        return state
    if not ok:
        return msgspec.structs.replace(state, in_flight=None, need_full_sync=True)
    return msgspec.structs.replace(
        state,
        in_flight=None,
        kernel=flight.kernel,
        need_full_sync=False,
        last_full_sync_seconds=flight.now_seconds if flight.full else state.last_full_sync_seconds,
        last_cleanup_seconds=flight.now_seconds
        if flight.cleaned_up
        else state.last_cleanup_seconds,
    )


def current_cluster(state: ProxyState) -> tuple[ServicePortEndpoints, ...]:
    """The cluster as the proxy now sees it (every proxied service port and its endpoints)."""
    return cluster_view(state.services.values(), state.slices.values())


def _sync(config: ProxyMachineConfig, state: ProxyState, now: float) -> ProxyStep:
    if not state.lists_synced or state.in_flight is not None:
        return Step(state=state)
    last = state.last_full_sync_seconds
    full = state.need_full_sync or last is None or now - last > config.full_sync_period_seconds
    changed = None if full else frozenset(state.changed.keys())
    proxy = msgspec.structs.replace(config.proxy, zone=state.zone)
    cluster = current_cluster(state)
    kernel = state.kernel
    commands: list[ProxyCommand] = []
    cleaned = False
    mode = config.mode
    if mode == "iptables":
        cleanup_due = now - state.last_cleanup_seconds > config.sync_period_seconds
        rendered = iptables.render(
            proxy,
            cluster,
            changed=changed,
            existing_nat_chains=kernel.iptables_chains,
            cleanup_due=cleanup_due,
        )
        if full:
            commands.append(EnsureJumpRules(rules=iptables.JUMP_RULES))
        commands.append(IptablesRestore(text=rendered.restore, full=full))
        kernel = msgspec.structs.replace(kernel, iptables_chains=rendered.nat_chains)
        cleaned = rendered.cleaned_up
    elif mode == "nftables":
        result = nftables.render(proxy, cluster, kernel.nftables, changed=changed, now_seconds=now)
        commands.extend(NftablesRun(text=text, full=full) for text in result.transactions)
        kernel = msgspec.structs.replace(kernel, nftables=result.state)
    elif mode == "ipvs":
        applied = ipvs.render(
            proxy, cluster, kernel.ipvs_servers, full=full, previous_sets=kernel.ipvs_sets
        )
        if full:
            commands.append(EnsureJumpRules(rules=ipvs.JUMP_RULES))
        commands.append(
            IpvsApply(
                ipvsadm=applied.ipvsadm, ipset=applied.ipset, iptables=applied.iptables, full=full
            )
        )
        kernel = msgspec.structs.replace(
            kernel, ipvs_servers=applied.servers, ipvs_sets=applied.sets
        )
    elif mode == "userspace":
        commands.append(UserspaceTable(routes=userspace.routes(proxy, cluster)))
    else:
        assert_never(mode)
    flight = InFlight(kernel=kernel, full=full, now_seconds=now, cleaned_up=cleaned)
    after = msgspec.structs.replace(state, changed=immutables.Map(), in_flight=flight)
    return Step(state=after, commands=tuple(commands))
