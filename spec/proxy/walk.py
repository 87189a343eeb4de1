"""What the rule interpreters share: the state of a packet walking netfilter hooks, and turning
the walk's end states into an ``Outcome``."""

from __future__ import annotations

from fractions import Fraction

import msgspec

from models.proxy.packet import Dropped, Outcome, Packet, Rejected, Untouched, forwarded


class PacketState(msgspec.Struct, frozen=True, kw_only=True):
    source: str
    destination: str
    port: int
    protocol: str
    mark: int = 0
    dnat: bool = False
    masquerade: bool = False
    virtual: tuple[str, str, int] | None = None
    """The IPVS virtual service (protocol, address, port) that took the packet, if any."""


Branch = tuple[Fraction, PacketState, str]
"""(probability, packet state, how the walk ended: return, accept, drop, reject)."""


def start(packet: Packet) -> PacketState:
    return PacketState(
        source=packet.source,
        destination=packet.destination,
        port=packet.port,
        protocol=packet.protocol.lower(),
    )


def to_outcome(branches: list[Branch]) -> Outcome:
    """The walk's end states as an outcome; a mix of kinds shows the odd ones as pseudo
    backends ``(dropped)``, ``(rejected)``, ``(untouched)`` so that a difference names them."""
    kinds = {("forwarded" if s.dnat and e == "accept" else e) for _, s, e in branches}
    if kinds == {"drop"}:
        return Dropped()
    if kinds == {"reject"}:
        return Rejected()
    if kinds == {"accept"}:
        return Untouched()
    shares: dict[tuple[str, bool], Fraction] = {}
    for chance, state, end in branches:
        if state.dnat and end == "accept":
            key = (f"{state.destination}:{state.port}", state.masquerade)
        else:
            pseudo = {"drop": "dropped", "reject": "rejected", "accept": "untouched"}[end]
            key = (f"({pseudo})", False)
        shares[key] = shares.get(key, Fraction(0)) + chance
    return forwarded(shares)
