"""Reading ipsets (``ipset save`` output or ``ipset restore`` input) and testing a packet's
membership, as iptables' ``-m set --match-set NAME FLAGS`` does.

Set types read: ``hash:ip`` (elements ``ip``), ``hash:ip,port`` (``ip,proto:port``),
``hash:ip,port,ip`` (``ip,proto:port,ip``), ``hash:ip,port,net`` (``ip,proto:port,cidr``),
``hash:net`` (``cidr``) and ``bitmap:port`` (``port`` or ``from-to``). A port written without a
protocol is TCP, as ipset reads it. The match flags pick, per dimension, the packet's source or
destination (``dst,dst,src``: destination address, destination port, source address); a
``bitmap:port`` element matches the port whatever the protocol, a ``hash`` port only with its
protocol. Commands: ``create`` (``family inet`` only), ``add``, ``del``, ``flush``, ``destroy``,
``-exist`` anywhere; anything else is refused with its line (``RulesError``). The source port
of a packet is not modelled, so a ``src`` port flag is refused.
"""

from __future__ import annotations

from typing import Final

import msgspec

from models.proxy.config import in_cidr
from spec.proxy.iptables_rules import RulesError, word_lines
from spec.proxy.walk import PacketState

DIMENSIONS: Final = {
    "hash:ip": ("ip",),
    "hash:ip,port": ("ip", "port"),
    "hash:ip,port,ip": ("ip", "port", "ip"),
    "hash:ip,port,net": ("ip", "port", "net"),
    "hash:net": ("net",),
    "bitmap:port": ("port",),
}
_CREATE_FLAGS: Final = frozenset({"comment", "counters", "skbinfo", "forceadd"})
_CREATE_OPTIONS: Final = frozenset(
    {"family", "hashsize", "maxelem", "range", "timeout", "bucketsize", "initval", "netmask"}
)


class IpSet(msgspec.Struct, frozen=True, kw_only=True):
    """One set: its type and its elements, each a tuple with one string per dimension (ports
    as ``proto:number`` or, in a bitmap, ``low-high``)."""

    kind: str
    members: frozenset[tuple[str, ...]] = frozenset()

    def contains(self, state: PacketState, flags: str) -> bool:
        """Does the packet's (``flags``-chosen) tuple belong to the set? ``flags`` must have
        passed ``check_flags``."""
        directions = flags.split(",")
        dimensions = DIMENSIONS[self.kind]
        return any(
            all(
                _fits(dimension, value, direction, state)
                for dimension, value, direction in zip(dimensions, member, directions, strict=False)
            )
            for member in self.members
        )


def check_flags(kind: str, flags: str, line: int) -> None:
    """Refuse ``--match-set`` flags that do not fit a set of type ``kind``, or that need the
    packet's source port (not modelled)."""
    directions = flags.split(",")
    dimensions = DIMENSIONS[kind]
    if len(directions) < len(dimensions) or any(d not in ("src", "dst") for d in directions):
        raise RulesError(line, f"--match-set flags {flags} do not fit a {kind} set")
    if any(d == "port" and f == "src" for d, f in zip(dimensions, directions, strict=False)):
        raise RulesError(line, "a source port set match is not interpreted")


IpSets = dict[str, IpSet]
"""set name -> set (a plain dict: built by the reader, then only read)."""


def _fits(dimension: str, value: str, direction: str, state: PacketState) -> bool:
    if dimension == "ip":
        return (state.source if direction == "src" else state.destination) == value
    if dimension == "net":
        return in_cidr(state.source if direction == "src" else state.destination, value)
    protocol, _, number = value.partition(":")
    if protocol == "bitmap":
        low, _, high = number.partition("-")
        return int(low) <= state.port <= int(high or low)
    return protocol == state.protocol and int(number) == state.port


def _address(text: str, line: int) -> str:
    parts = text.split(".")
    if len(parts) != 4 or not all(p.isdigit() and int(p) < 256 for p in parts):
        raise RulesError(line, f"{text!r} is not an IPv4 address")
    return text


def _element(kind: str, text: str, line: int) -> tuple[str, ...]:
    values = text.split(",")
    dimensions = DIMENSIONS[kind]
    if len(values) != len(dimensions):
        raise RulesError(line, f"element {text!r} does not fit a {kind} set")
    result: list[str] = []
    for dimension, value in zip(dimensions, values, strict=True):
        if dimension == "ip":
            result.append(_address(value, line))
        elif dimension == "net":
            address, _, prefix = value.partition("/")
            _address(address, line)
            if prefix and not (prefix.isdigit() and int(prefix) <= 32):
                raise RulesError(line, f"{value!r} is not an IPv4 network")
            result.append(value if prefix else f"{value}/32")
        elif kind == "bitmap:port":
            low, _, high = value.partition("-")
            if not low.isdigit() or not (high or low).isdigit():
                raise RulesError(line, f"{value!r} is not a port or port range")
            result.append(f"bitmap:{low}-{high or low}")
        else:
            protocol, _, number = value.rpartition(":")
            if not number.isdigit() or (protocol or "tcp") not in ("tcp", "udp", "sctp"):
                raise RulesError(line, f"{value!r} is not a [proto:]port")
            result.append(f"{protocol or 'tcp'}:{int(number)}")
    return tuple(result)


def _create(words: list[str], line: int) -> tuple[str, IpSet]:
    if len(words) < 3:
        raise RulesError(line, "create needs a set name and a type")
    name, kind = words[1], words[2]
    if kind not in DIMENSIONS:
        raise RulesError(line, f"set type {kind} is not interpreted")
    index = 3
    while index < len(words):
        option = words[index]
        if option in _CREATE_FLAGS:
            index += 1
        elif option in _CREATE_OPTIONS and index + 1 < len(words):
            if option == "family" and words[index + 1] != "inet":
                raise RulesError(line, f"family {words[index + 1]} is not interpreted")
            if option == "netmask" and words[index + 1] != "32":
                raise RulesError(line, "a set netmask is not interpreted")
            index += 2
        else:
            raise RulesError(line, f"create option {option} is not interpreted")
    return name, IpSet(kind=kind)


def apply_ipset(sets: IpSets, text: str) -> IpSets:
    """``sets`` after ``ipset restore`` of ``text`` (a new mapping)."""
    result = dict(sets)
    for number, split in word_lines(text):
        words = [w for w in split if w != "-exist"]
        command = words[0]
        if command in ("create", "-N", "n"):
            name, created = _create(words, number)
            result.setdefault(name, created)
            continue
        if command in ("destroy", "-X", "x") and len(words) == 1:
            result.clear()
            continue
        if len(words) < 2:
            raise RulesError(number, f"{command} needs a set name")
        name = words[1]
        if command in ("destroy", "-X", "x"):
            result.pop(name, None)
            continue
        if name not in result:
            raise RulesError(number, f"set {name} does not exist")
        current = result[name]
        if command in ("flush", "-F", "f"):
            result[name] = IpSet(kind=current.kind)
        elif command in ("add", "-A", "a", "del", "-D", "d") and len(words) >= 3:
            element = _element(current.kind, words[2], number)
            if command in ("add", "-A", "a"):
                members = current.members | {element}
            else:
                members = current.members - {element}
            result[name] = IpSet(kind=current.kind, members=members)
        else:
            raise RulesError(number, f"ipset command {command} is not interpreted")
    return result
