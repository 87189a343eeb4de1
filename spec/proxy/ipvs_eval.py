"""An interpreter for ipvs-mode rule sets: IPVS virtual servers, the ipsets and the iptables
helper rules together, for the first packet of a connection.

IPVS semantics (Linux ``net/netfilter/ipvs``, ``ipvsadm(8)``): a virtual server is a
protocol, address and port with a scheduler; its real servers have weights. ``rr`` picks the
real servers of weight above 0 in turn, so for a connection whose place in the rotation is
unknown each is equally likely; ``wrr`` in proportion to weight. A virtual server without a
real server of weight above 0 answers a new connection with ICMP port unreachable (rejected).
With persistence (``-p timeout``, kube-proxy's ClientIP affinity) a client whose last
connection to the virtual server, within the timeout, went to a real server that is still
there with weight above 0 goes there again. Masquerading real servers (``-m``) rewrite the
destination only; the source is rewritten by iptables' nat POSTROUTING (kube-proxy's mark).

Where IPVS sits among netfilter's hooks: for an arriving packet, after nat PREROUTING, routing
(the addresses in ipset ``KUBE-IPVS-IPS``, which kube-proxy keeps equal to those it binds to the
dummy interface ``kube-ipvs0``, are local) and filter INPUT, before nat INPUT (LOCAL_IN,
priority NAT_SRC-1); for a packet from a host process, after nat OUTPUT and before filter
OUTPUT (LOCAL_OUT, priority NAT_DST+2). A packet
IPVS forwards then passes filter OUTPUT and nat POSTROUTING. A packet that no virtual server
matches goes on through the iptables walk unchanged (``spec/proxy/iptables_eval.py``, which
also reads the ``-m set`` rules against the ipsets).

The client's affinity memory is taken to be of the addressed virtual server: IPVS keeps a
persistence template per client and virtual server, so a client that last used the cluster IP
is balanced afresh at the NodePort (the judge's memory, per service port, cannot show this).
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Final

import msgspec

from models.proxy.config import ProxyConfig
from models.proxy.packet import Affinity, Outcome, Packet
from models.proxy.view import ServicePortEndpoints
from spec.proxy.ipset_rules import IpSets
from spec.proxy.iptables_eval import IptablesProxy
from spec.proxy.iptables_rules import RulesError, Ruleset
from spec.proxy.ipvs_rules import IpvsTable, RealServer, VirtualServer
from spec.proxy.judge import Proxy, affinity_ages
from spec.proxy.walk import Branch, PacketState

SCHEDULERS: Final = ("rr", "wrr")
BOUND_SET: Final = "KUBE-IPVS-IPS"


def _shares(server: VirtualServer, candidates: tuple[RealServer, ...]) -> list[Fraction]:
    if server.scheduler == "wrr":
        total = sum(r.weight for r in candidates)
        return [Fraction(r.weight, total) for r in candidates]
    return [Fraction(1, len(candidates))] * len(candidates)


def check_schedulers(table: IpvsTable) -> None:
    """Refuse a virtual server whose scheduler is not interpreted."""
    for key, server in table.items():
        if server.scheduler not in SCHEDULERS:
            raise RulesError(
                server.line,
                f"scheduler {server.scheduler} of {key[1]}:{key[2]} is not interpreted "
                f"(only {', '.join(SCHEDULERS)})",
            )


class IpvsProxy(IptablesProxy):
    """IPVS virtual servers plus the ipsets and iptables rules of one node."""

    def __init__(
        self, table: IpvsTable, ipsets: IpSets, ruleset: Ruleset, config: ProxyConfig
    ) -> None:
        bound = ipsets.get(BOUND_SET)
        addresses = frozenset(m[0] for m in bound.members) if bound is not None else frozenset()
        super().__init__(ruleset, config, ipsets=ipsets, bound=addresses)
        check_schedulers(table)
        self.table = table

    def intercept(self, state: PacketState, ages: Mapping[str, int]) -> list[Branch] | None:
        key = (state.protocol, state.destination, state.port)
        server = self.table.get(key)
        if server is None:
            return None
        candidates = tuple(r for r in server.reals if r.weight > 0)
        if not candidates:
            return [(Fraction(1), state, "reject")]
        timeout = server.persistence_seconds
        if timeout is not None:
            remembered = sorted(
                (ages[r.backend], index)
                for index, r in enumerate(candidates)
                if r.backend in ages and ages[r.backend] <= timeout
            )
            if remembered:
                candidates = (candidates[remembered[0][1]],)
        return [
            (
                chance,
                msgspec.structs.replace(
                    state, destination=real.address, port=real.port, dnat=True, virtual=key
                ),
                "accept",
            )
            for chance, real in zip(_shares(server, candidates), candidates, strict=True)
        ]


def ipvs_proxy(
    table: IpvsTable,
    ipsets: IpSets,
    ruleset: Ruleset,
    config: ProxyConfig,
    cluster: tuple[ServicePortEndpoints, ...],
) -> Proxy:
    """A judge's proxy over an ipvs-mode rule set: the client's affinity memory for the
    addressed service port becomes the persistence templates' ages."""
    proxy = IpvsProxy(table, ipsets, ruleset, config)

    def run(packet: Packet, affinity: Affinity) -> Outcome:
        return proxy.outcome(packet, affinity_ages(config, cluster, packet, affinity))

    return run
