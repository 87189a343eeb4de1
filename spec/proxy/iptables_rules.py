"""Reading iptables rule sets: ``iptables-save`` output and ``iptables-restore`` input.

A ``Ruleset`` maps each table (``filter``, ``nat``; others are read and kept but not
interpreted) to its chains, each with a policy (built-in chains) and an ordered tuple of
``Rule``. ``apply_restore`` applies a restore input to a ruleset as ``iptables-restore
--noflush`` does: a ``:CHAIN`` line creates or flushes a user chain (and sets a built-in
chain's policy), ``-A`` appends, ``-I`` inserts, ``-X`` deletes, ``-F`` flushes, ``-N`` creates.

A rule is parsed into matches and a target from the option subset kube-proxy writes and
``iptables-save`` prints back: addresses (``-s``/``-d``, negated with ``!``), ``-p``,
``--dport``, and the ``comment``, ``tcp``/``udp``/``sctp``, ``addrtype``, ``statistic``,
``recent``, ``mark``, ``conntrack``, ``nfacct``, ``set`` (ipsets), ``ipvs`` and ``physdev``
matches; targets: user chains (``-j``, ``-g``), ACCEPT, DROP, RETURN, REJECT, DNAT, MARK,
MASQUERADE. Anything else is refused with its line number (``RulesError``), so a verdict is
never built on a rule the interpreter does not understand.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from fractions import Fraction
from typing import Final

import msgspec

BUILTIN_CHAINS: Final = frozenset({"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"})
TERMINALS: Final = frozenset({"ACCEPT", "DROP", "RETURN", "REJECT", "DNAT", "MARK", "MASQUERADE"})
KNOWN_MATCHES: Final = frozenset(
    {
        "comment",
        "nfacct",
        "tcp",
        "udp",
        "sctp",
        "addrtype",
        "statistic",
        "recent",
        "mark",
        "conntrack",
        "set",
        "ipvs",
        "physdev",
    }
)


FLAG_OPTIONS: Final = frozenset(
    {"--rcheck", "--reap", "--set", "--rsource", "--update", "--random", "--ipvs",
     "--physdev-is-in", "--physdev-is-out", "--physdev-is-bridged"}
)  # fmt: skip
PHYSDEV_OPTIONS: Final = frozenset(
    {"--physdev-is-in", "--physdev-is-out", "--physdev-is-bridged", "--physdev-in",
     "--physdev-out"}
)  # fmt: skip


class RulesError(Exception):
    """A rule outside the interpreted subset, or a malformed line."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


class Match(msgspec.Struct, frozen=True, kw_only=True):
    """One test of a rule. ``kind``: ``source``, ``destination`` (``value`` a CIDR),
    ``protocol``, ``dport`` (a number), ``src-type``/``dst-type`` (LOCAL), ``probability``
    (a decimal), ``recent`` (``value`` the list name, ``seconds`` the window), ``mark``
    (``value`` "V/M"), ``ctstate`` (comma-separated states), ``set`` (``value`` an ipset's name,
    ``flags`` its ``src``/``dst`` directions)."""

    kind: str
    value: str
    negated: bool = False
    seconds: int = 0
    flags: str = ""


class Rule(msgspec.Struct, frozen=True, kw_only=True):
    matches: tuple[Match, ...]
    target: str = ""
    goto: bool = False
    arguments: tuple[tuple[str, str], ...] = ()
    recent_set: str = ""
    line: int = 0

    def argument(self, name: str) -> str:
        return next((value for key, value in self.arguments if key == name), "")

    @property
    def probability(self) -> Fraction | None:
        found = next((m for m in self.matches if m.kind == "probability"), None)
        return Fraction(found.value) if found is not None else None


class Chain(msgspec.Struct, frozen=True, kw_only=True):
    policy: str = "-"
    rules: tuple[Rule, ...] = ()


Ruleset = dict[str, dict[str, Chain]]
"""table -> chain -> chain (a plain dict: built by the reader, then only read)."""


def _tokens(text: str, number: int) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as error:
        raise RulesError(number, f"cannot split the rule into words: {error}") from error


def _match_module(
    module: str, words: list[str], index: int, negated: bool, number: int
) -> tuple[list[Match], int, str]:
    """Parse the options of ``-m module``; return matches, next index and a ``--set`` list."""
    matches: list[Match] = []
    recent_name, seconds, recent_set, checking = "", 0, "", False
    while index < len(words) and (
        words[index].startswith("--")
        or (words[index] == "!" and index + 1 < len(words) and words[index + 1].startswith("--"))
    ):
        negate = negated
        if words[index] == "!":
            negate, index = True, index + 1
        option = words[index]
        if module == "set" and option == "--match-set" and index + 2 < len(words):
            matches.append(
                Match(kind="set", value=words[index + 1], flags=words[index + 2], negated=negate)
            )
            index += 3
            continue
        takes = option not in FLAG_OPTIONS
        value = words[index + 1] if takes and index + 1 < len(words) else ""
        index += 2 if takes else 1
        if module in ("tcp", "udp", "sctp") and option == "--dport":
            matches.append(Match(kind="dport", value=value, negated=negate))
        elif module in ("tcp", "udp", "sctp", "comment", "nfacct"):
            if option not in ("--comment", "--nfacct-name"):
                raise RulesError(number, f"option {option} of -m {module} is not interpreted")
        elif module == "addrtype" and option in ("--src-type", "--dst-type"):
            matches.append(Match(kind=option[2:], value=value, negated=negate))
        elif module == "statistic" and option in ("--mode", "--probability"):
            if option == "--mode" and value != "random":
                raise RulesError(number, f"statistic mode {value} is not interpreted")
            if option == "--probability":
                matches.append(Match(kind="probability", value=value))
        elif module == "recent":
            if option == "--name":
                recent_name = value
            elif option == "--seconds":
                seconds = int(value)
            elif option == "--rcheck":
                checking = True
            elif option == "--set":
                recent_set = "?"
            elif option not in ("--reap", "--mask", "--rsource"):
                raise RulesError(number, f"recent option {option} is not interpreted")
        elif module == "ipvs" and option in ("--ipvs", "--vaddr", "--vproto", "--vport"):
            matches.append(Match(kind=f"ipvs{option[1:]}", value=value, negated=negate))
        elif module == "physdev" and option in PHYSDEV_OPTIONS:
            matches.append(Match(kind="physdev", value=option, negated=negate))
        elif module == "mark" and option == "--mark":
            matches.append(Match(kind="mark", value=value, negated=negate))
        elif module == "conntrack" and option == "--ctstate":
            matches.append(Match(kind="ctstate", value=value, negated=negate))
        else:
            raise RulesError(number, f"-m {module} {option} is not interpreted")
    if module == "recent":
        if checking:
            matches.append(Match(kind="recent", value=recent_name or "DEFAULT", seconds=seconds))
        recent_set = (recent_name or "DEFAULT") if recent_set else ""
    return matches, index, recent_set


def _cidr(value: str) -> str:
    return value if "/" in value else f"{value}/32"


def parse_rule(words: list[str], number: int) -> tuple[str, Rule]:
    """(chain, rule) from the words of ``-A CHAIN ...`` (without the ``-A``)."""
    chain, index = words[0], 1
    matches: list[Match] = []
    target, goto, recent_set = "", False, ""
    arguments: list[tuple[str, str]] = []
    while index < len(words):
        negated = words[index] == "!"
        if negated:
            index += 1
        word = words[index]
        value = words[index + 1] if index + 1 < len(words) else ""
        if word in ("-s", "--source", "-d", "--destination"):
            kind = "source" if word in ("-s", "--source") else "destination"
            matches.append(Match(kind=kind, value=_cidr(value), negated=negated))
            index += 2
        elif word in ("-p", "--protocol"):
            matches.append(Match(kind="protocol", value=value.lower(), negated=negated))
            index += 2
        elif word in ("-m", "--match"):
            if value not in KNOWN_MATCHES:
                raise RulesError(number, f"-m {value} is not interpreted")
            found, index, recent = _match_module(value, words, index + 2, False, number)
            matches.extend(found)
            recent_set = recent_set or recent
        elif word in ("-j", "--jump", "-g", "--goto"):
            target, goto = value, word in ("-g", "--goto")
            index += 2
            while index < len(words) and words[index].startswith("--"):
                option = words[index]
                flag = option in ("--random-fully", "--random", "--persistent")
                arguments.append((option, "" if flag else words[index + 1]))
                index += 1 if flag else 2
        elif word in ("--dport", "--destination-port"):
            matches.append(Match(kind="dport", value=value, negated=negated))
            index += 2
        elif word in ("-c", "--set-counters"):
            index += 3
        else:
            raise RulesError(number, f"option {word} is not interpreted")
    return chain, Rule(
        matches=tuple(matches),
        target=target,
        goto=goto,
        arguments=tuple(arguments),
        recent_set=recent_set,
        line=number,
    )


def _lines(text: str) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            yield number, line


def word_lines(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, shell words) of each line that is not blank or a comment (the ipvsadm
    and ipset readers' input)."""
    for number, line in _lines(text):
        yield number, _tokens(line, number)


def apply_restore(ruleset: Ruleset, text: str, *, noflush: bool = True) -> Ruleset:
    """``ruleset`` after ``iptables-restore [--noflush]`` of ``text`` (a new ruleset)."""
    result: Ruleset = {table: dict(chains) for table, chains in ruleset.items()}
    table: dict[str, Chain] | None = None
    for number, line in _lines(text):
        if line.startswith("*"):
            name = line[1:]
            if not noflush or name not in result:
                result[name] = {}
            table = result[name]
            continue
        if line == "COMMIT":
            table = None
            continue
        if table is None:
            raise RulesError(number, "a rule outside a *table ... COMMIT section")
        _apply_line(table, line, number)
    return result


def _apply_line(table: dict[str, Chain], line: str, number: int) -> None:
    if line.startswith(":"):
        parts = line[1:].split()
        name, policy = parts[0], parts[1] if len(parts) > 1 else "-"
        if name in BUILTIN_CHAINS:
            old = table.get(name, Chain())
            table[name] = Chain(policy=policy, rules=old.rules)
        else:
            table[name] = Chain()
        return
    words = _tokens(line, number)
    verb, rest = words[0], words[1:]
    if verb in ("-A", "--append"):
        chain, rule = parse_rule(rest, number)
        old = _existing(table, chain, number)
        table[chain] = Chain(policy=old.policy, rules=(*old.rules, rule))
    elif verb in ("-I", "--insert"):
        position = 1
        if len(rest) > 1 and rest[1].isdigit():
            position, rest = int(rest[1]), [rest[0], *rest[2:]]
        chain, rule = parse_rule(rest, number)
        old = _existing(table, chain, number)
        rules = list(old.rules)
        rules.insert(position - 1, rule)
        table[chain] = Chain(policy=old.policy, rules=tuple(rules))
    elif verb in ("-X", "--delete-chain"):
        table.pop(rest[0], None)
    elif verb in ("-N", "--new-chain"):
        table.setdefault(rest[0], Chain())
    elif verb in ("-F", "--flush"):
        old = _existing(table, rest[0], number)
        table[rest[0]] = Chain(policy=old.policy)
    else:
        raise RulesError(number, f"command {verb} is not interpreted")


def _existing(table: dict[str, Chain], chain: str, number: int) -> Chain:
    if chain not in table:
        if chain in BUILTIN_CHAINS:
            return Chain(policy="ACCEPT")
        raise RulesError(number, f"chain {chain} does not exist")
    return table[chain]


def parse_save(text: str) -> Ruleset:
    """An ``iptables-save`` dump as a ruleset (each table section replaces the table)."""
    return apply_restore({}, text, noflush=False)


def check_targets(ruleset: Ruleset) -> None:
    """Refuse a jump to a chain that does not exist, or a target outside the subset."""
    for chains in ruleset.values():
        for chain in chains.values():
            for rule in chain.rules:
                target = rule.target
                if target and target not in TERMINALS and target not in chains:
                    raise RulesError(
                        rule.line, f"target {target} is neither a chain nor interpreted"
                    )
