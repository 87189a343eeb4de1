"""Packets and what becomes of them: the vocabulary shared by the service model, the rule
interpreters and ``check proxy``.

A ``Packet`` is the first packet of a connection arriving at the proxy's node: its source,
destination address, destination port, protocol and whether a host process on the node sent it
(the netfilter OUTPUT path) rather than an interface (PREROUTING). ``Affinity`` is what the node
remembers of earlier connections for ClientIP session affinity.

An ``Outcome`` is one of:

- ``Forwarded``: the packet is delivered to one backend (``ip:port``) chosen at random; each
  ``Share`` gives a backend, its probability as an exact fraction, and whether the source is
  masqueraded (rewritten to the node's address) on the way;
- ``Rejected`` (ICMP unreachable or TCP reset) or ``Dropped`` (silently);
- ``Untouched``: not service traffic; the packet continues unchanged;
- ``Unspecified``: the Service API leaves the behaviour open (a cluster IP's undefined port).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Final

import msgspec

PROTOCOLS: Final = ("TCP", "UDP", "SCTP")


class Packet(msgspec.Struct, frozen=True, kw_only=True):
    source: str
    destination: str
    port: int
    protocol: str = "TCP"
    from_host: bool = False

    def describe(self) -> str:
        origin = "host process" if self.from_host else "arriving"
        return f"{self.protocol} {self.source} -> {self.destination}:{self.port} ({origin})"


class AffinityEntry(msgspec.Struct, frozen=True, kw_only=True):
    """The client's last new connection to ``service`` went to ``backend`` this long ago."""

    service: str
    backend: str
    age_seconds: int


class Affinity(msgspec.Struct, frozen=True, kw_only=True):
    """What the node remembers about one client (the packet's source)."""

    entries: tuple[AffinityEntry, ...] = ()

    def live(self, service: str, timeout_seconds: int) -> tuple[str, ...]:
        """Backends of ``service`` this client used less than ``timeout_seconds`` ago."""
        return tuple(
            entry.backend
            for entry in self.entries
            if entry.service == service and entry.age_seconds < timeout_seconds
        )


NO_AFFINITY: Final = Affinity()


class Share(msgspec.Struct, frozen=True, kw_only=True):
    backend: str
    numerator: int
    denominator: int
    masquerade: bool = False

    @property
    def probability(self) -> Fraction:
        return Fraction(self.numerator, self.denominator)


def share(backend: str, probability: Fraction, *, masquerade: bool) -> Share:
    return Share(
        backend=backend,
        numerator=probability.numerator,
        denominator=probability.denominator,
        masquerade=masquerade,
    )


class Forwarded(msgspec.Struct, frozen=True, kw_only=True, tag="forwarded"):
    shares: tuple[Share, ...]

    def describe(self) -> str:
        parts = [
            f"{s.backend} p={float(s.probability):.6f}{' masquerade' if s.masquerade else ''}"
            for s in self.shares
        ]
        return "forwarded to " + ", ".join(parts)


class Rejected(msgspec.Struct, frozen=True, kw_only=True, tag="rejected"):
    def describe(self) -> str:
        return "rejected"


class Dropped(msgspec.Struct, frozen=True, kw_only=True, tag="dropped"):
    def describe(self) -> str:
        return "dropped"


class Untouched(msgspec.Struct, frozen=True, kw_only=True, tag="untouched"):
    def describe(self) -> str:
        return "not service traffic (passes unchanged)"


class Unspecified(msgspec.Struct, frozen=True, kw_only=True, tag="unspecified"):
    """Left open by the API: any outcome, or one of ``allowed`` (outcome tags) when given."""

    allowed: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.allowed:
            return "left open by the Service API among: " + ", ".join(self.allowed)
        return "left open by the Service API"

    def admits(self, outcome: object) -> bool:
        tag = type(outcome).__struct_config__.tag if isinstance(outcome, msgspec.Struct) else ""
        return not self.allowed or tag in self.allowed


Outcome = Forwarded | Rejected | Dropped | Untouched | Unspecified


def forwarded(shares: dict[tuple[str, bool], Fraction]) -> Forwarded:
    """A ``Forwarded`` outcome from (backend, masquerade) -> probability, in a stable order."""
    return Forwarded(
        shares=tuple(
            share(backend, probability, masquerade=masquerade)
            for (backend, masquerade), probability in sorted(shares.items())
            if probability > 0
        )
    )
