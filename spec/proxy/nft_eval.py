"""An interpreter for nftables rule sets: what the ``ip``/``inet`` tables do to the first packet
of a connection.

Every base chain is attached to a hook with a priority; at each hook the chains run in priority
order, and ``accept`` (or the end of a chain with policy accept) passes the packet on to the
next chain, ``drop``/``reject`` end it. The hooks are walked as the kernel orders them:
arriving, ``prerouting``, then ``input`` for a local destination or ``forward`` and
``postrouting``; from a host process, ``output`` and ``postrouting``, then ``input`` (without
nat chains) when the destination is the node itself. Within a chain, rules run in order;
``jump`` comes back, ``goto`` does not; ``dnat`` and ``masquerade`` end the chain with accept.
A verdict-map lookup whose key is absent does not match; ``numgen random mod N`` splits the
walk N ways with probability 1/N each. A dynamic set filled by ``update @set { ip saddr }``
holds the client while the caller's memory of the backend that set leads to (the ``dnat`` of
the same chain) is younger than the set's timeout.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Final

import msgspec

from models.proxy.config import ProxyConfig, in_cidr, is_local
from models.proxy.packet import Affinity, Outcome, Packet
from models.proxy.view import ServicePortEndpoints
from spec.proxy.judge import Proxy, affinity_ages
from spec.proxy.nft_rules import NftChain, NftError, NftRule, NftRuleset, NftSet, Statement
from spec.proxy.walk import Branch, PacketState, start, to_outcome

MAX_DEPTH: Final = 32
Chains = dict[str, NftChain]


class NftProxy:
    """A ruleset, ready to judge packets (see the module docstring)."""

    def __init__(self, ruleset: NftRuleset, config: ProxyConfig) -> None:
        self.ruleset = ruleset
        self.config = config
        self.hooks: dict[str, list[tuple[int, str, str]]] = {}
        for table_name, table in sorted(ruleset.items()):
            for chain_name, chain in table.chains.items():
                if chain.hook:
                    entry = (chain.priority, table_name, chain_name)
                    self.hooks.setdefault(chain.hook, []).append(entry)
        for entries in self.hooks.values():
            entries.sort()
        self.affinity_backends = _affinity_backends(ruleset)

    def walk(self, packet: Packet, ages: Mapping[str, int]) -> list[Branch]:
        branches: list[Branch] = [(Fraction(1), start(packet), "accept")]
        if packet.from_host:
            branches = self._hook("output", branches, ages)
            branches = self._hook("postrouting", branches, ages)
            local = [
                b for b in branches if b[2] == "accept" and is_local(self.config, b[1].destination)
            ]
            rest = [b for b in branches if b not in local]
            return rest + self._hook("input", local, ages, nat=False)
        branches = self._hook("prerouting", branches, ages)
        local = [
            b for b in branches if b[2] == "accept" and is_local(self.config, b[1].destination)
        ]
        routed = [b for b in branches if b not in local]
        forwarded = self._hook("postrouting", self._hook("forward", routed, ages), ages)
        return forwarded + self._hook("input", local, ages)

    def outcome(self, packet: Packet, ages: Mapping[str, int]) -> Outcome:
        return to_outcome(self.walk(packet, ages))

    def _hook(
        self, hook: str, branches: list[Branch], ages: Mapping[str, int], nat: bool = True
    ) -> list[Branch]:
        for _, table_name, chain_name in self.hooks.get(hook, []):
            chains = self.ruleset[table_name].chains
            base = chains[chain_name]
            if base.kind == "nat" and not nat:
                continue
            after: list[Branch] = []
            for chance, state, end in branches:
                if end != "accept":
                    after.append((chance, state, end))
                    continue
                context = _Context(self, table_name, ages)
                for more, final, verdict in context.rules(base.rules, 0, state, 0):
                    if verdict == "return":
                        verdict = "accept" if base.policy == "accept" else "drop"
                    after.append((chance * more, final, verdict))
            branches = after
        return branches


class _Context:
    """One table's chains and sets during one walk."""

    def __init__(self, proxy: NftProxy, table: str, ages: Mapping[str, int]) -> None:
        self.proxy = proxy
        self.chains = proxy.ruleset[table].chains
        self.sets = proxy.ruleset[table].sets
        self.ages = ages

    def rules(
        self, rules: tuple[NftRule, ...], index: int, state: PacketState, depth: int
    ) -> list[Branch]:
        if depth > MAX_DEPTH:
            raise NftError(rules[0].line if rules else 0, "chains nest too deep (a loop?)")
        if index >= len(rules):
            return [(Fraction(1), state, "return")]
        rule = rules[index]
        results: list[Branch] = []
        for chance, after, end in self.statements(rule, rule.statements, state, depth):
            if end == "next":
                for more, final, verdict in self.rules(rules, index + 1, after, depth):
                    results.append((chance * more, final, verdict))
            else:
                results.append((chance, after, end))
        return results

    def statements(
        self, rule: NftRule, statements: tuple[Statement, ...], state: PacketState, depth: int
    ) -> list[Branch]:
        """Run a rule's statements; ``next`` means go on with the next rule."""
        for statement in statements:
            kind = statement.kind
            if kind in ("cmp", "fib", "ct", "mark-cmp"):
                if not self.test(statement, state, rule.line):
                    return [(Fraction(1), state, "next")]
            elif kind == "mark-set":
                state = _set_mark(state, statement)
            elif kind == "update":
                continue
            elif kind == "dnat":
                address, port = statement.values
                target = msgspec.structs.replace(
                    state, destination=address, port=int(port) if port else state.port, dnat=True
                )
                return [(Fraction(1), target, "accept")]
            elif kind == "masquerade":
                return [(Fraction(1), msgspec.structs.replace(state, masquerade=True), "accept")]
            elif kind in ("vmap", "numgen"):
                return self.lookup(rule, statement, state, depth)
            elif kind == "verdict":
                return self.verdict(rule, statement.op, statement.ref, state, depth)
            else:
                raise NftError(rule.line, f"statement {kind} is not interpreted")
        return [(Fraction(1), state, "next")]

    def verdict(
        self, rule: NftRule, op: str, target: str, state: PacketState, depth: int
    ) -> list[Branch]:
        if op in ("accept", "drop", "reject"):
            return [(Fraction(1), state, op)]
        if op == "return":
            return [(Fraction(1), state, "return")]
        if op == "continue":
            return [(Fraction(1), state, "next")]
        if target not in self.chains:
            raise NftError(rule.line, f"{op} to missing chain {target}")
        results: list[Branch] = []
        for chance, after, end in self.rules(self.chains[target].rules, 0, state, depth + 1):
            if end == "return" and op == "jump":
                end = "next"
            results.append((chance, after, end))
        return results

    def lookup(
        self, rule: NftRule, statement: Statement, state: PacketState, depth: int
    ) -> list[Branch]:
        if statement.kind == "numgen":
            outcomes: list[Branch] = []
            table = dict(statement.elements)
            for index in range(statement.modulus):
                chance = Fraction(1, statement.modulus)
                verdict = table.get((str(index),))
                branches = (
                    self._run_verdict(rule, verdict, state, depth)
                    if verdict
                    else [(Fraction(1), state, "next")]
                )
                outcomes.extend((chance * p, s, e) for p, s, e in branches)
            return outcomes
        elements = self._map(statement, rule.line).elements
        found = [_selector(name, state) for name in statement.selectors]
        key = tuple(value for value in found if value is not None)
        if len(key) != len(found):
            return [(Fraction(1), state, "next")]
        for element_key, verdict in elements:
            if len(element_key) == len(key) and all(
                _component(part, value) for part, value in zip(element_key, key, strict=True)
            ):
                return self._run_verdict(rule, verdict, state, depth)
        return [(Fraction(1), state, "next")]

    def _map(self, statement: Statement, line: int) -> NftSet:
        if not statement.ref:
            return NftSet(is_map=True, elements=statement.elements)
        if statement.ref not in self.sets:
            raise NftError(line, f"map {statement.ref} does not exist")
        return self.sets[statement.ref]

    def _run_verdict(
        self, rule: NftRule, verdict: str, state: PacketState, depth: int
    ) -> list[Branch]:
        op, _, target = verdict.partition(" ")
        return self.verdict(rule, op, target, state, depth)

    def test(self, statement: Statement, state: PacketState, line: int) -> bool:
        negated = statement.op == "!="
        kind = statement.kind
        if kind == "fib":
            address = state.source if statement.selectors[0] == "saddr" else state.destination
            return is_local(self.proxy.config, address) != negated
        if kind == "ct":
            states = {"new", "dnat"} if state.dnat else {"new"}
            return bool(states & set(statement.values)) != negated
        if kind == "mark-cmp":
            mask, expected = (int(v, 0) for v in statement.values)
            return ((state.mark & mask) == expected) != negated
        values = [_selector(name, state) for name in statement.selectors]
        if any(value is None for value in values):
            return False
        value = " . ".join(v for v in values if v is not None)
        if statement.ref:
            found = self._in_set(statement.ref, value, line)
        else:
            found = any(_component(candidate, value) for candidate in statement.values)
        return found != negated

    def _in_set(self, name: str, value: str, line: int) -> bool:
        if name not in self.sets:
            raise NftError(line, f"set {name} does not exist")
        chosen = self.sets[name]
        if chosen.timeout_seconds:
            backend = self.proxy.affinity_backends.get(name)
            age = self.ages.get(backend) if backend is not None else None
            return age is not None and age < chosen.timeout_seconds
        return any(_component(key[0], value) for key, _ in chosen.elements)


def _selector(name: str, state: PacketState) -> str | None:
    if name == "ip daddr":
        return state.destination
    if name == "ip saddr":
        return state.source
    if name == "meta l4proto":
        return state.protocol
    if name == "th dport":
        return str(state.port)
    protocol = name.split()[0]
    return str(state.port) if protocol == state.protocol else None


def _component(element: str, value: str) -> bool:
    if "/" in element and "." in value and "/" not in value:
        return in_cidr(value, element)
    if "-" in element and element[0].isdigit() and element.count(".") == 6:
        low, high = element.split("-")
        return _number(low) <= _number(value) <= _number(high)
    return element == value


def _number(address: str) -> int:
    parts = [int(part) for part in address.split(".")]
    return (parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]


def _set_mark(state: PacketState, statement: Statement) -> PacketState:
    value = int(statement.values[0], 0)
    mark = state.mark | value if statement.op == "or" else state.mark ^ value
    return msgspec.structs.replace(state, mark=mark)


def _affinity_backends(ruleset: NftRuleset) -> dict[str, str]:
    """dynamic set name -> backend (``ip:port``) of the ``dnat`` in the chain that updates it."""
    found: dict[str, str] = {}
    for table in ruleset.values():
        for chain in table.chains.values():
            updated = [s.ref for r in chain.rules for s in r.statements if s.kind == "update"]
            targets = [s.values for r in chain.rules for s in r.statements if s.kind == "dnat"]
            for name in updated:
                if targets:
                    address, port = targets[0]
                    found[name] = f"{address}:{port}"
    return found


def nft_proxy(
    ruleset: NftRuleset, config: ProxyConfig, cluster: tuple[ServicePortEndpoints, ...]
) -> Proxy:
    """A judge's proxy over ``ruleset`` (affinity memory as the dynamic sets' contents)."""
    proxy = NftProxy(ruleset, config)

    def run(packet: Packet, affinity: Affinity) -> Outcome:
        return proxy.outcome(packet, affinity_ages(config, cluster, packet, affinity))

    return run
