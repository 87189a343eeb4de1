"""Reading nftables rule sets: ``nft list ruleset`` output and ``nft -f`` transactions in the
one-operation-per-line form knftables writes.

A ``NftRuleset`` holds the ``ip`` and ``inet`` tables (others are skipped): their chains (base
chains with hook, priority and policy) with rules as statement lists, and their sets and maps
with elements. ``apply_transaction`` applies ``add``/``flush``/``delete`` operations to a
ruleset as the kernel does (atomically: a failing operation leaves nothing changed, the error
names its line). ``parse_listing`` reads ``nft list ruleset``.

A rule is a list of statements from the subset kube-proxy writes and ``nft`` prints back:
matches on ``ip saddr``/``ip daddr`` (address, CIDR, ``@set``, ``{ anonymous set }``, ``!=``),
``meta l4proto``, ``th dport``/``tcp dport``, ``fib saddr|daddr type local``, ``ct state``,
``mark and M == V``; lookups ``SELECTORS vmap @map|{ ... }`` and ``numgen random mod N vmap
{ ... }``; ``mark set mark or|xor V``; ``update @set { ip saddr }``; ``dnat to A:P``;
``masquerade``; verdicts ``jump``, ``goto``, ``return``, ``accept``, ``drop``, ``reject``;
``comment``, ``counter`` (ignored). Anything else raises ``NftError`` with its line.
"""

from __future__ import annotations

import re
import shlex
from typing import Final

import msgspec

FAMILIES: Final = frozenset({"ip", "inet"})
NAMED_PRIORITIES: Final = {"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0,
                           "security": 50, "srcnat": 100}  # fmt: skip
SELECTORS: Final = ("ip daddr", "ip saddr", "meta l4proto", "th dport", "tcp dport",
                    "udp dport", "sctp dport", "th sport")  # fmt: skip
_DURATION = re.compile(r"(\d+)(d|h|m|s|ms)")


class NftError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


class Statement(msgspec.Struct, frozen=True, kw_only=True):
    """One statement. ``kind``: ``cmp`` (``selectors`` compared ``op`` with ``values`` or the
    set ``ref``), ``vmap`` (``selectors`` looked up in map ``ref`` or inline ``elements``),
    ``numgen`` (``modulus``, inline ``elements``), ``fib`` (``selectors[0]`` saddr or daddr),
    ``ct`` (``values`` states), ``mark-cmp`` (``values`` = (mask, value)), ``mark-set``
    (``op`` or/xor, ``values`` = (value,)), ``update`` (``ref``), ``dnat`` (``values`` =
    (address, port)), ``masquerade``, ``verdict`` (``op`` jump/goto/return/accept/drop/reject,
    ``ref`` the chain)."""

    kind: str
    selectors: tuple[str, ...] = ()
    op: str = "=="
    values: tuple[str, ...] = ()
    ref: str = ""
    elements: tuple[tuple[tuple[str, ...], str], ...] = ()
    modulus: int = 0


class NftRule(msgspec.Struct, frozen=True, kw_only=True):
    statements: tuple[Statement, ...]
    line: int = 0


class NftChain(msgspec.Struct, frozen=True, kw_only=True):
    hook: str = ""
    kind: str = ""
    priority: int = 0
    policy: str = "accept"
    rules: tuple[NftRule, ...] = ()


class NftSet(msgspec.Struct, frozen=True, kw_only=True):
    """A set (elements map to "") or a verdict map; ``timeout_seconds`` for dynamic sets."""

    is_map: bool = False
    timeout_seconds: int = 0
    elements: tuple[tuple[tuple[str, ...], str], ...] = ()


class NftTable(msgspec.Struct, frozen=True, kw_only=True):
    chains: dict[str, NftChain] = msgspec.field(default_factory=dict)
    sets: dict[str, NftSet] = msgspec.field(default_factory=dict)


NftRuleset = dict[str, NftTable]
"""``"family name"`` -> table (a plain dict, built by the readers, then only read)."""


def duration_seconds(text: str) -> int:
    """``3h``, ``10800s``, ``1h30m`` -> seconds."""
    total = 0
    for number, unit in _DURATION.findall(text):
        total += int(number) * {"d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0}[unit]
    return total


def priority_value(text: str) -> int:
    """``-110``, ``dstnat - 10``, ``filter``, ``srcnat`` -> a number."""
    words = text.replace("+", " + ").replace("-", " - ").split()
    if words and words[0] in NAMED_PRIORITIES:
        value = NAMED_PRIORITIES[words[0]]
        words = words[1:]
    else:
        value = 0
    sign = 1
    for word in words:
        if word in ("+", "-"):
            sign = 1 if word == "+" else -1
        else:
            value += sign * int(word)
            sign = 1
    return value


def _split_top(text: str, separator: str) -> list[str]:
    """Split at ``separator`` outside braces and quotes."""
    parts: list[str] = []
    current: list[str] = []
    depth, quoted = 0, False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif not quoted and char == "{":
            depth += 1
        elif not quoted and char == "}":
            depth -= 1
        if char == separator and depth == 0 and not quoted:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return [part for part in parts if part]


def parse_elements(text: str) -> tuple[tuple[tuple[str, ...], str], ...]:
    """``a . b comment "x" : v, c . d : w`` -> ((("a", "b"), "v"), (("c", "d"), "w"))."""
    result = []
    for item in _split_top(text, ","):
        key_text, _, value = item.partition(" : ") if " : " in item else (item, "", "")
        key_text = re.sub(r'\s+comment\s+"[^"]*"', "", key_text)
        key = tuple(part.strip() for part in key_text.split(" . "))
        result.append((key, value.strip()))
    return tuple(result)


def _braced(words: list[str], index: int) -> tuple[str, int]:
    """The text inside ``{ ... }`` starting at ``words[index] == "{"``, and the next index."""
    depth, inside = 0, []
    while index < len(words):
        word = words[index]
        depth += word.count("{") - word.count("}")
        inside.append(word)
        index += 1
        if depth == 0:
            break
    text = " ".join(inside).strip()
    return text[1:-1].strip(), index


def _selectors(words: list[str], index: int) -> tuple[tuple[str, ...], int]:
    found: list[str] = []
    while index + 1 < len(words):
        pair = f"{words[index]} {words[index + 1]}"
        if pair not in SELECTORS:
            break
        found.append(pair)
        index += 2
        if index < len(words) and words[index] == ".":
            index += 1
            continue
        break
    return tuple(found), index


def _value(words: list[str], index: int) -> tuple[Statement, int]:
    """After the selectors: ``vmap ...``, or an optional operator and a value."""
    if words[index] == "vmap":
        if words[index + 1].startswith("@"):
            return Statement(kind="vmap", ref=words[index + 1][1:]), index + 2
        inside, end = _braced(words, index + 1)
        return Statement(kind="vmap", elements=parse_elements(inside)), end
    op = "=="
    if words[index] in ("!=", "=="):
        op, index = words[index], index + 1
    word = words[index]
    if word.startswith("@"):
        return Statement(kind="cmp", op=op, ref=word[1:]), index + 1
    if word == "{":
        inside, end = _braced(words, index)
        values = tuple(key[0] for key, _ in parse_elements(inside))
        return Statement(kind="cmp", op=op, values=values), end
    return Statement(kind="cmp", op=op, values=tuple(word.split(","))), index + 1


_VERDICTS: Final = frozenset({"jump", "goto", "return", "accept", "drop", "reject", "continue"})


def parse_statements(text: str, number: int) -> tuple[Statement, ...]:
    """The statements of one rule."""
    try:
        words = shlex.split(text.replace("{", " { ").replace("}", " } "), posix=True)
    except ValueError as error:
        raise NftError(number, f"cannot split the rule: {error}") from error
    statements: list[Statement] = []
    index = 0
    while index < len(words):
        statement, index = _statement(words, index, number)
        if statement is not None:
            statements.append(statement)
    return tuple(statements)


def _statement(words: list[str], index: int, number: int) -> tuple[Statement | None, int]:
    word = words[index]
    rest = words[index + 1 :]
    selectors, after = _selectors(words, index)
    if selectors:
        statement, end = _value(words, after)
        return msgspec.structs.replace(statement, selectors=selectors), end
    if word == "comment":
        return None, index + 2
    if word == "counter":
        end = index + 1
        while end + 1 < len(words) and words[end] in ("packets", "bytes"):
            end += 2
        return None, end
    if word == "ct" and rest[:1] == ["state"]:
        negated = rest[1] == "!="
        states = rest[2] if negated else rest[1]
        op = "!=" if negated else "=="
        return Statement(kind="ct", op=op, values=tuple(states.split(","))), index + (
            4 if negated else 3
        )
    if word == "fib" and len(rest) >= 3 and rest[1] == "type":
        negated = rest[2] == "!="
        kind = rest[3] if negated else rest[2]
        if kind != "local":
            raise NftError(number, f"fib type {kind} is not interpreted")
        op = "!=" if negated else "=="
        return Statement(kind="fib", selectors=(rest[0],), op=op), index + (5 if negated else 4)
    if word in ("mark", "meta") and "set" in rest[:2]:
        return _mark_set(words, index, number)
    if word in ("mark", "meta"):
        return _mark_compare(words, index, number)
    if word == "numgen":
        if rest[:3] != ["random", "mod", rest[2]] or rest[3] != "vmap":
            raise NftError(number, "only 'numgen random mod N vmap { ... }' is interpreted")
        inside, end = _braced(words, index + 5)
        return Statement(kind="numgen", modulus=int(rest[2]), elements=parse_elements(inside)), end
    if word == "update" and rest[0].startswith("@"):
        inside, end = _braced(words, index + 2)
        if inside != "ip saddr":
            raise NftError(number, f"update with key {inside!r} is not interpreted")
        return Statement(kind="update", ref=rest[0][1:]), end
    if word == "dnat":
        start = index + 2 if rest[0] == "to" else index + 3
        address, _, port = words[start].rpartition(":")
        return Statement(kind="dnat", values=(address or words[start], port)), start + 1
    if word == "masquerade":
        end = index + 1
        while end < len(words) and words[end] in ("fully-random", "random", "persistent"):
            end += 1
        return Statement(kind="masquerade"), end
    if word in _VERDICTS:
        if word in ("jump", "goto"):
            return Statement(kind="verdict", op=word, ref=rest[0]), index + 2
        end = index + 1
        if word == "reject" and rest[:1] == ["with"]:
            end = index + 4
        return Statement(kind="verdict", op=word), end
    raise NftError(number, f"statement {' '.join(words[index : index + 3])!r} is not interpreted")


def _mark_set(words: list[str], index: int, number: int) -> tuple[Statement, int]:
    # "mark set mark or 0x4000" / "meta mark set meta mark | 0x00004000"
    end = index
    tokens = []
    while end < len(words) and words[end] not in _VERDICTS and words[end] != "comment":
        tokens.append(words[end])
        end += 1
    text = " ".join(tokens).replace("meta mark", "mark")
    found = re.fullmatch(r"mark set mark (or|\||xor|\^) (0x[0-9a-fA-F]+|\d+)", text)
    if found is None:
        raise NftError(number, f"mark statement {text!r} is not interpreted")
    op = "or" if found.group(1) in ("or", "|") else "xor"
    return Statement(kind="mark-set", op=op, values=(found.group(2),)), end


def _mark_compare(words: list[str], index: int, number: int) -> tuple[Statement, int]:
    # "mark and 0x4000 == 0" / "meta mark & 0x00004000 == 0x00000000"
    tokens = words[index : index + 6]
    text = " ".join(tokens).replace("meta mark", "mark")
    found = re.match(r"mark (and|&) (\S+) (==|!=) (\S+)", text)
    if found is None:
        raise NftError(number, f"mark match {text!r} is not interpreted")
    length = 5 if words[index] == "mark" else 6
    values = (found.group(2), found.group(4))
    return Statement(kind="mark-cmp", op=found.group(3), values=values), index + length
