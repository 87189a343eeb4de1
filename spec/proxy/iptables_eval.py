"""An interpreter for iptables rule sets: what the ``filter`` and ``nat`` tables do to the first
packet of a connection.

The packet walks netfilter's hooks as the kernel orders them. Arriving: ``nat PREROUTING``,
then the routing decision (a local destination goes to ``filter INPUT``, any other to ``filter
FORWARD`` and then ``nat POSTROUTING``). From a host process: ``nat OUTPUT``, ``filter
OUTPUT``, ``nat POSTROUTING``, and ``filter INPUT`` too when it is addressed to the node itself
(it comes back over loopback; nat is not consulted again for a connection it has seen).

In each chain rules are tried in order; ``-j`` calls a chain and comes back on RETURN or at its
end, ``-g`` does not come back; at the end of a built-in chain its policy applies. DNAT and
MASQUERADE end the nat chain they run in; MARK changes the packet's mark and goes on.
``statistic --mode random --probability p`` splits the walk in two (p: the rule matches; 1-p:
it does not), so the result is a distribution, with exact probabilities read from the decimals
written in the rules. ``recent --rcheck --seconds s`` matches when the client used the list
within ``s`` seconds: the list's backend is the DNAT destination of the rule that ``--set``s
it, and the caller says which backends the client used and how long ago. ``conntrack
--ctstate`` sees a first packet: NEW, plus DNAT once a DNAT ran. The mangle and raw tables are
not interpreted. ``-m physdev`` never matches (the model has no bridged packets: pods and
clients reach the node over routed links); ``-m ipvs`` matches the packets an IPVS virtual
service took (``spec/proxy/ipvs_eval.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Final

import msgspec

from models.proxy.config import ProxyConfig, in_cidr, is_local
from models.proxy.events import JumpRule
from models.proxy.packet import Affinity, Outcome, Packet
from models.proxy.view import ServicePortEndpoints
from spec.proxy.ipset_rules import IpSets, check_flags
from spec.proxy.iptables_rules import Chain, Match, Rule, RulesError, Ruleset, parse_rule
from spec.proxy.judge import Proxy, affinity_ages
from spec.proxy.walk import Branch, PacketState, start, to_outcome

MAX_DEPTH: Final = 32


STOPS: Final = frozenset({"drop", "reject"})


class IptablesProxy:
    """A rule set, ready to judge packets (see the module docstring). ``ipsets`` are the sets
    ``-m set`` rules test; ``bound`` are addresses the node owns besides its own (ipvs mode's
    dummy interface), which routing and ``addrtype LOCAL`` treat as local."""

    def __init__(
        self,
        ruleset: Ruleset,
        config: ProxyConfig,
        *,
        ipsets: IpSets | None = None,
        bound: frozenset[str] = frozenset(),
    ) -> None:
        self.ruleset = ruleset
        self.config = config
        self.ipsets: IpSets = ipsets or {}
        self.bound = bound
        self.recent_backends = _recent_backends(ruleset)
        check_sets(ruleset, self.ipsets)

    def is_local(self, address: str) -> bool:
        return is_local(self.config, address) or address in self.bound

    def intercept(
        self,
        state: PacketState,  # noqa: ARG002 - used by the ipvs interpreter's override
        ages: Mapping[str, int],  # noqa: ARG002
    ) -> list[Branch] | None:
        """What a load balancer hooked after the nat table does to a new connection (ipvs mode
        overrides this); None when it leaves the packet alone."""
        return None

    def walk(self, packet: Packet, ages: Mapping[str, int]) -> list[Branch]:
        state = start(packet)
        first = "OUTPUT" if packet.from_host else "PREROUTING"
        results: list[Branch] = []
        for chance, after_nat, end in self._base("nat", first, state, ages):
            if end in STOPS:
                results.append((chance, after_nat, end))
            elif packet.from_host:
                served = self.intercept(after_nat, ages) or [(Fraction(1), after_nat, "accept")]
                results.extend(self._leave(chance, served, ages))
            elif not self.is_local(after_nat.destination):
                for more, after_filter, verdict in self._base("filter", "FORWARD", after_nat, ages):
                    if verdict in STOPS:
                        results.append((chance * more, after_filter, verdict))
                        continue
                    for last, final, ending in self._base("nat", "POSTROUTING", after_filter, ages):
                        results.append((chance * more * last, final, ending))
            else:
                for more, after_filter, verdict in self._base("filter", "INPUT", after_nat, ages):
                    balanced = self.intercept(after_filter, ages) if verdict == "accept" else None
                    if balanced is None:
                        results.append((chance * more, after_filter, verdict))
                    else:
                        results.extend(self._leave(chance * more, balanced, ages))
        return results

    def _leave(
        self, chance: Fraction, branches: list[Branch], ages: Mapping[str, int]
    ) -> list[Branch]:
        """A packet sent by the node: filter OUTPUT, nat POSTROUTING, and filter INPUT too when
        it is addressed to the node itself (it comes back over loopback; nat is not consulted
        again for a connection it has seen)."""
        results: list[Branch] = []
        for step, state, how in branches:
            if how in STOPS:
                results.append((chance * step, state, how))
                continue
            for more, after_filter, verdict in self._base("filter", "OUTPUT", state, ages):
                if verdict in STOPS:
                    results.append((chance * step * more, after_filter, verdict))
                    continue
                for last, final, ending in self._base("nat", "POSTROUTING", after_filter, ages):
                    weight = chance * step * more * last
                    if ending in STOPS or not self.is_local(final.destination):
                        results.append((weight, final, ending))
                        continue
                    for again, delivered, end in self._base("filter", "INPUT", final, ages):
                        results.append((weight * again, delivered, end))
        return results

    def outcome(self, packet: Packet, ages: Mapping[str, int]) -> Outcome:
        return to_outcome(self.walk(packet, ages))

    def _base(
        self, table: str, chain: str, state: PacketState, ages: Mapping[str, int]
    ) -> list[Branch]:
        chains = self.ruleset.get(table, {})
        base = chains.get(chain, Chain(policy="ACCEPT"))
        results = []
        for chance, after, end in self._rules(chains, base.rules, 0, state, ages, 0):
            if end == "return":
                end = "drop" if base.policy == "DROP" else "accept"
            results.append((chance, after, end))
        return results

    def _rules(
        self,
        chains: dict[str, Chain],
        rules: tuple[Rule, ...],
        start: int,
        state: PacketState,
        ages: Mapping[str, int],
        depth: int,
    ) -> list[Branch]:
        if depth > MAX_DEPTH:
            line = rules[0].line if rules else 0
            raise RulesError(line, f"chains nest deeper than {MAX_DEPTH} (a loop?)")
        for index in range(start, len(rules)):
            rule = rules[index]
            if not all(self._matches(m, state, ages) for m in rule.matches):
                continue
            chance = rule.probability
            taken = self._target(chains, rules, index, state, ages, depth)
            if chance is None:
                return taken
            rest = self._rules(chains, rules, index + 1, state, ages, depth)
            return [(p * chance, s, e) for p, s, e in taken] + [
                (p * (1 - chance), s, e) for p, s, e in rest
            ]
        return [(Fraction(1), state, "return")]

    def _target(
        self,
        chains: dict[str, Chain],
        rules: tuple[Rule, ...],
        index: int,
        state: PacketState,
        ages: Mapping[str, int],
        depth: int,
    ) -> list[Branch]:
        rule = rules[index]
        target = rule.target
        if target in ("ACCEPT", "DROP", "REJECT"):
            return [(Fraction(1), state, target.lower())]
        if target == "RETURN":
            return [(Fraction(1), state, "return")]
        if target == "DNAT":
            return [(Fraction(1), _dnat(state, rule), "accept")]
        if target == "MASQUERADE":
            return [(Fraction(1), msgspec.structs.replace(state, masquerade=True), "accept")]
        if target in ("", "MARK"):
            after = _mark(state, rule) if target == "MARK" else state
            return self._rules(chains, rules, index + 1, after, ages, depth)
        if target not in chains:
            raise RulesError(rule.line, f"jump to missing chain {target}")
        results: list[Branch] = []
        for chance, after, end in self._rules(
            chains, chains[target].rules, 0, state, ages, depth + 1
        ):
            if end != "return" or rule.goto:
                results.append((chance, after, end))
                continue
            for more, final, ending in self._rules(chains, rules, index + 1, after, ages, depth):
                results.append((chance * more, final, ending))
        return results

    def _matches(self, match: Match, state: PacketState, ages: Mapping[str, int]) -> bool:
        return _test(self, match, state, ages) != match.negated


def _test(proxy: IptablesProxy, match: Match, state: PacketState, ages: Mapping[str, int]) -> bool:
    kind = match.kind
    if kind in ("source", "destination"):
        address = state.source if kind == "source" else state.destination
        return in_cidr(address, match.value)
    if kind == "protocol":
        return match.value in (state.protocol, "all")
    if kind == "dport":
        low, _, high = match.value.partition(":")
        return int(low) <= state.port <= int(high or low)
    if kind in ("src-type", "dst-type"):
        if match.value != "LOCAL":
            raise RulesError(0, f"addrtype {match.value} is not interpreted")
        address = state.source if kind == "src-type" else state.destination
        return proxy.is_local(address)
    if kind == "set":
        return proxy.ipsets[match.value].contains(state, match.flags)
    if kind.startswith("ipvs"):
        return _ipvs_match(kind, match.value, state.virtual)
    if kind == "physdev":
        return False
    if kind == "probability":
        return True
    if kind == "mark":
        value, _, mask = match.value.partition("/")
        return state.mark & int(mask or "0xffffffff", 0) == int(value, 0)
    if kind == "ctstate":
        states = {"NEW", "DNAT"} if state.dnat else {"NEW"}
        return bool(states & set(match.value.split(",")))
    if kind == "recent":
        backend = proxy.recent_backends.get(match.value)
        age = ages.get(backend) if backend is not None else None
        return age is not None and age <= match.seconds
    raise RulesError(0, f"match {kind} is not interpreted")


IP_PROTOCOLS: Final = {"6": "tcp", "17": "udp", "132": "sctp"}


def _ipvs_match(kind: str, value: str, virtual: tuple[str, str, int] | None) -> bool:
    """``-m ipvs``: the packet belongs to an IPVS connection of that virtual service."""
    if virtual is None:
        return False
    protocol, address, port = virtual
    if kind == "ipvs-vaddr":
        return in_cidr(address, value if "/" in value else f"{value}/32")
    if kind == "ipvs-vproto":
        return IP_PROTOCOLS.get(value, value.lower()) == protocol
    if kind == "ipvs-vport":
        low, _, high = value.partition(":")
        return int(low) <= port <= int(high or low)
    return True


def _dnat(state: PacketState, rule: Rule) -> PacketState:
    target = rule.argument("--to-destination")
    address, _, port = target.partition(":")
    return msgspec.structs.replace(
        state, destination=address, port=int(port) if port else state.port, dnat=True
    )


def _mark(state: PacketState, rule: Rule) -> PacketState:
    mark = state.mark
    for option, value in rule.arguments:
        number, _, mask_text = value.partition("/")
        bits = int(number, 0)
        mask = int(mask_text, 0) if mask_text else 0xFFFFFFFF
        if option == "--or-mark":
            mark |= bits
        elif option == "--xor-mark":
            mark ^= bits
        elif option == "--and-mark":
            mark &= bits
        elif option in ("--set-xmark", "--set-mark"):
            mark = (mark & ~mask) ^ bits if option == "--set-xmark" else (mark & ~mask) | bits
        else:
            raise RulesError(rule.line, f"MARK {option} is not interpreted")
    return msgspec.structs.replace(state, mark=mark)


def _recent_backends(ruleset: Ruleset) -> dict[str, str]:
    """recent list name -> the backend (``ip:port``) of the DNAT rule that records it."""
    found: dict[str, str] = {}
    for chains in ruleset.values():
        for chain in chains.values():
            for rule in chain.rules:
                if rule.recent_set and rule.target == "DNAT":
                    found[rule.recent_set] = rule.argument("--to-destination")
    return found


def check_sets(ruleset: Ruleset, ipsets: IpSets) -> None:
    """Refuse a ``-m set`` rule naming a set that is not given, or with flags its type does
    not take."""
    for chains in ruleset.values():
        for chain in chains.values():
            for rule in chain.rules:
                for match in rule.matches:
                    if match.kind != "set":
                        continue
                    found = ipsets.get(match.value)
                    if found is None:
                        raise RulesError(rule.line, f"ipset {match.value} is not given")
                    check_flags(found.kind, match.flags, rule.line)


def ensure_jumps(ruleset: Ruleset, jumps: tuple[JumpRule, ...]) -> Ruleset:
    """``ruleset`` after kube-proxy's EnsureChain + EnsureRule(Prepend) of each jump, in
    order: a missing target chain is created, a missing jump is inserted first."""
    result: Ruleset = {table: dict(chains) for table, chains in ruleset.items()}
    for jump in jumps:
        chains = result.setdefault(jump.table, {})
        chains.setdefault(jump.target, Chain())
        _, rule = parse_rule([jump.chain, *jump.arguments()], 0)
        old = chains.get(jump.chain, Chain(policy="ACCEPT"))
        same = [r for r in old.rules if msgspec.structs.replace(r, line=0) == rule]
        if not same:
            chains[jump.chain] = Chain(policy=old.policy, rules=(rule, *old.rules))
    return result


def iptables_proxy(
    ruleset: Ruleset, config: ProxyConfig, cluster: tuple[ServicePortEndpoints, ...]
) -> Proxy:
    """A judge's proxy over ``ruleset``: the client's affinity memory for the addressed
    service port becomes the recent lists' ages."""
    proxy = IptablesProxy(ruleset, config)

    def run(packet: Packet, affinity: Affinity) -> Outcome:
        return proxy.outcome(packet, affinity_ages(config, cluster, packet, affinity))

    return run
