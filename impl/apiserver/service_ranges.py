"""The Service allocation records in etcd: which cluster IPs and node ports are taken.

kube-apiserver reserves a Service's cluster IP and node ports atomically in etcd, so two
Services never get the same address or port, even when their creates are decided at the same
time on one server or on two. This server keeps kube's ``RangeAllocation`` records: one object
at ``/registry/ranges/serviceips`` (the service CIDR) and one at
``/registry/ranges/servicenodeports`` (the node port range), each a bitmap of the taken offsets
(bit ``i`` of the big-endian integer in ``data`` set: the range's ``i``-th address or port is
taken). A Service write that takes or frees an address or a port carries the new record in the
same etcd transaction, guarded by the record's ``mod_revision`` as the decision read it; when
another write changed the record first the guard fails, the machine reads the record the store
holds and decides again (the retry loop of every write), so the second Service gets another
address. A record absent from the store is empty (its first write creates it). Allocation
treats an address or port as taken when the record says so or a Service in the watch cache
holds it (Services stored before the record existed keep theirs).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Final

import msgspec

from impl.apiserver.cache import WatchCache, objects_under
from impl.apiserver.context import KeyWrite
from impl.apiserver.objects import decode, stored_bytes

Json = dict[str, Any]
SERVICE_IPS_KEY: Final = "/registry/ranges/serviceips"
NODE_PORTS_KEY: Final = "/registry/ranges/servicenodeports"
SERVICES_PREFIX: Final = "/registry/services/specs/"
NODE_PORT_RANGE: Final = (30000, 32767)
"""kube-apiserver's default ``--service-node-port-range``."""


class Record(msgspec.Struct, frozen=True, kw_only=True):
    """One allocation record as the cache holds it: the taken offsets, and the revision a write
    must find (0: absent)."""

    taken: frozenset[int]
    mod_revision: int


def _address(text: str) -> int | None:
    parts = text.split(".")
    if len(parts) != 4 or not all(part.isdigit() and int(part) < 256 for part in parts):
        return None
    value = 0
    for part in parts:
        value = (value << 8) | int(part)
    return value


def ip_text(address: int) -> str:
    return ".".join(str((address >> shift) & 255) for shift in (24, 16, 8, 0))


def cidr_bounds(cidr: str) -> tuple[int, int]:
    """The first address of ``cidr`` and its size (``--service-cluster-ip-range``)."""
    base, _, bits = cidr.partition("/")
    start = _address(base) or 0
    return start, 1 << (32 - int(bits or "24"))


def _offsets(data: object) -> frozenset[int]:
    if not isinstance(data, str):
        return frozenset()
    try:
        bitmap = int.from_bytes(base64.b64decode(data, validate=True), "big")
    except (binascii.Error, ValueError):
        return frozenset()
    return frozenset(bit for bit in range(bitmap.bit_length()) if bitmap >> bit & 1)


def _bitmap(taken: frozenset[int]) -> str:
    value = sum(1 << offset for offset in taken)
    return base64.b64encode(value.to_bytes((value.bit_length() + 7) // 8, "big")).decode()


def record(cache: WatchCache, key: str) -> Record:
    cached = cache.objects.get(key)
    if cached is None:
        return Record(taken=frozenset(), mod_revision=0)
    return Record(
        taken=_offsets(decode(cached.value).get("data")), mod_revision=cached.mod_revision
    )


def held_ips(spec: Json) -> set[str]:
    """The cluster IPs a Service spec holds."""
    found = [spec.get("clusterIP"), *(spec.get("clusterIPs") or [])]
    return {ip for ip in found if isinstance(ip, str) and ip not in ("", "None")}


def held_ports(spec: Json) -> set[int]:
    """The node ports (and health check node port) a Service spec holds."""
    ports = [port for port in spec.get("ports") or [] if isinstance(port, dict)]
    held = {port["nodePort"] for port in ports if isinstance(port.get("nodePort"), int)}
    if isinstance(spec.get("healthCheckNodePort"), int):
        held.add(spec["healthCheckNodePort"])
    return held


def _spec(obj: Json | None) -> Json:
    spec = (obj or {}).get("spec")
    return spec if isinstance(spec, dict) else {}


def _ip_offsets(cidr: str, ips: set[str]) -> set[int]:
    start, size = cidr_bounds(cidr)
    offsets = set()
    for ip in ips:
        address = _address(ip)
        if address is not None and 0 <= address - start < size:
            offsets.add(address - start)
    return offsets


def _port_offsets(ports: set[int]) -> set[int]:
    low, high = NODE_PORT_RANGE
    return {port - low for port in ports if low <= port <= high}


def _others(cache: WatchCache, own_key: str | None) -> list[Json]:
    return [
        _spec(decode(cached.value))
        for key, cached in objects_under(cache, SERVICES_PREFIX)
        if key != own_key
    ]


def ips_in_use(cache: WatchCache, cidr: str, own_key: str | None, old: Json | None) -> set[str]:
    """The cluster IPs another Service holds: recorded (less those ``old``, this Service's
    stored object, holds) or held by a cached Service other than ``own_key``."""
    start, _ = cidr_bounds(cidr)
    taken = record(cache, SERVICE_IPS_KEY).taken - _ip_offsets(cidr, held_ips(_spec(old)))
    used = {ip_text(start + offset) for offset in taken}
    for spec in _others(cache, own_key):
        used |= held_ips(spec)
    return used


def ports_in_use(cache: WatchCache, own_key: str | None, old: Json | None) -> set[int]:
    """The node ports another Service holds (as ``ips_in_use``)."""
    low, _ = NODE_PORT_RANGE
    taken = record(cache, NODE_PORTS_KEY).taken - _port_offsets(held_ports(_spec(old)))
    used = {low + offset for offset in taken}
    for spec in _others(cache, own_key):
        used |= held_ports(spec)
    return used


def _write(
    cache: WatchCache, key: str, span: str, before: set[int], after: set[int]
) -> KeyWrite | None:
    current = record(cache, key)
    taken = frozenset((current.taken - before) | after)
    if taken == current.taken:
        return None
    value = {
        "apiVersion": "v1",
        "kind": "RangeAllocation",
        "metadata": {},
        "range": span,
        "data": _bitmap(taken),
    }
    return KeyWrite(key=key, expected=current.mod_revision, value=stored_bytes(value))


def range_writes(
    cache: WatchCache, cidr: str, old: Json | None, new: Json | None
) -> tuple[KeyWrite, ...]:
    """The record writes that go with a Service changing from ``old`` to ``new`` (None: absent):
    what ``old`` held is freed, what ``new`` holds is taken; a record left as it was is not
    written."""
    low, high = NODE_PORT_RANGE
    writes = (
        _write(
            cache,
            SERVICE_IPS_KEY,
            cidr,
            _ip_offsets(cidr, held_ips(_spec(old))),
            _ip_offsets(cidr, held_ips(_spec(new))),
        ),
        _write(
            cache,
            NODE_PORTS_KEY,
            f"{low}-{high}",
            _port_offsets(held_ports(_spec(old))),
            _port_offsets(held_ports(_spec(new))),
        ),
    )
    return tuple(write for write in writes if write is not None)
