"""The two readers of nftables text: ``apply_transaction`` (knftables' one-operation-per-line
``nft -f`` input, applied to a ruleset) and ``parse_listing`` (``nft list ruleset``)."""

from __future__ import annotations

import re

import msgspec

from spec.proxy.nft_rules import (
    FAMILIES,
    NftChain,
    NftError,
    NftRule,
    NftRuleset,
    NftSet,
    NftTable,
    duration_seconds,
    parse_elements,
    parse_statements,
    priority_value,
)

_BASE = re.compile(
    r"type (\w+) hook (\w+)(?: device \S+)? priority ([^;]+?)\s*;(?:\s*policy (\w+)\s*;)?"
)


def _copy(ruleset: NftRuleset) -> NftRuleset:
    return {
        name: NftTable(chains=dict(table.chains), sets=dict(table.sets))
        for name, table in ruleset.items()
    }


def _set_properties(body: str) -> NftSet:
    is_map = " : " in body.split(";")[0] or ": verdict" in body
    found = re.search(r"timeout (\S+?)\s*;", body)
    return NftSet(is_map=is_map, timeout_seconds=duration_seconds(found.group(1)) if found else 0)


def _body(text: str) -> str:
    start, end = text.find("{"), text.rfind("}")
    return text[start + 1 : end].strip() if start >= 0 <= end else ""


def apply_transaction(ruleset: NftRuleset, text: str) -> NftRuleset:
    """``ruleset`` after ``nft -f`` of ``text`` (the kernel applies all or nothing)."""
    result = _copy(ruleset)
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        words = line.split()
        if len(words) < 3:
            raise NftError(number, "an incomplete operation")
        verb, kind, family = words[0], words[1], words[2]
        if family not in FAMILIES:
            continue
        if kind == "table":
            _table_operation(result, verb, f"{family} {words[3]}", number)
            continue
        key = f"{family} {words[3]}"
        if key not in result:
            raise NftError(number, f"table {key} does not exist")
        _operation(result[key], verb, kind, words[4], line, number)
    return result


def _table_operation(result: NftRuleset, verb: str, key: str, number: int) -> None:
    if verb == "add":
        result.setdefault(key, NftTable())
    elif verb in ("delete", "destroy"):
        result.pop(key, None)
    elif verb == "flush":
        if key in result:
            result[key] = NftTable(
                chains={
                    n: msgspec.structs.replace(c, rules=()) for n, c in result[key].chains.items()
                },
                sets=result[key].sets,
            )
    else:
        raise NftError(number, f"{verb} table is not interpreted")


def _operation(table: NftTable, verb: str, kind: str, name: str, line: str, number: int) -> None:
    if kind == "chain":
        _chain_operation(table, verb, name, line, number)
    elif kind == "rule":
        if verb != "add":
            raise NftError(number, f"{verb} rule is not interpreted")
        if name not in table.chains:
            raise NftError(number, f"chain {name} does not exist")
        rule_text = line.split(None, 5)[5] if len(line.split(None, 5)) > 5 else ""
        rule = NftRule(statements=parse_statements(rule_text, number), line=number)
        old = table.chains[name]
        table.chains[name] = msgspec.structs.replace(old, rules=(*old.rules, rule))
    elif kind in ("set", "map"):
        if verb == "add":
            if name not in table.sets:
                table.sets[name] = _set_properties(_body(line))
        elif verb == "flush":
            table.sets[name] = msgspec.structs.replace(
                _existing_set(table, name, number), elements=()
            )
        elif verb in ("delete", "destroy"):
            table.sets.pop(name, None)
    elif kind == "element":
        _element_operation(table, verb, name, _body(line), number)
    else:
        raise NftError(number, f"{verb} {kind} is not interpreted")


def _existing_set(table: NftTable, name: str, number: int) -> NftSet:
    if name not in table.sets:
        raise NftError(number, f"set {name} does not exist")
    return table.sets[name]


def _chain_operation(table: NftTable, verb: str, name: str, line: str, number: int) -> None:
    if verb == "add":
        body = _body(line)
        found = _BASE.search(body)
        if name not in table.chains:
            if found is None:
                table.chains[name] = NftChain()
            else:
                kind, hook, priority, policy = found.groups()
                table.chains[name] = NftChain(
                    hook=hook,
                    kind=kind,
                    priority=priority_value(priority),
                    policy=policy or "accept",
                )
    elif verb == "flush":
        table.chains[name] = msgspec.structs.replace(_existing_chain(table, name, number), rules=())
    elif verb in ("delete", "destroy"):
        for other, chain in table.chains.items():
            for rule in chain.rules:
                if any(s.ref == name and s.kind == "verdict" for s in rule.statements):
                    raise NftError(number, f"chain {name} is still used by a rule in {other}")
        table.chains.pop(name, None)
    else:
        raise NftError(number, f"{verb} chain is not interpreted")


def _existing_chain(table: NftTable, name: str, number: int) -> NftChain:
    if name not in table.chains:
        raise NftError(number, f"chain {name} does not exist")
    return table.chains[name]


def _element_operation(table: NftTable, verb: str, name: str, body: str, number: int) -> None:
    old = _existing_set(table, name, number)
    elements = dict(old.elements)
    for key, value in parse_elements(body):
        if verb == "add":
            elements[key] = value
        elif verb in ("delete", "destroy"):
            if key not in elements and verb == "delete":
                raise NftError(number, f"element {' . '.join(key)} is not in {name}")
            elements.pop(key, None)
        else:
            raise NftError(number, f"{verb} element is not interpreted")
    table.sets[name] = msgspec.structs.replace(old, elements=tuple(elements.items()))


def parse_listing(text: str) -> NftRuleset:
    """``nft list ruleset`` output as a ruleset (tables of other families are skipped)."""
    result: NftRuleset = {}
    lines = [(n, raw.split(" # ")[0].strip()) for n, raw in enumerate(text.splitlines(), 1)]
    index = 0
    while index < len(lines):
        number, line = lines[index]
        index += 1
        words = line.split()
        if not words:
            continue
        if words[0] != "table" or len(words) < 4:
            raise NftError(number, f"expected 'table FAMILY NAME {{', found {line!r}")
        table = NftTable()
        index = _table_body(lines, index, table)
        if words[1] in FAMILIES:
            result[f"{words[1]} {words[2]}"] = table
    return result


def _table_body(lines: list[tuple[int, str]], index: int, table: NftTable) -> int:
    while index < len(lines):
        number, line = lines[index]
        index += 1
        words = line.split()
        if not words or words[0] in ("comment", "flags"):
            continue
        if words[0] == "}":
            return index
        if words[0] in ("set", "map") and words[-1] == "{":
            index = _set_block(lines, index, table, words[1], words[0] == "map")
        elif words[0] == "chain" and words[-1] == "{":
            index = _chain_block(lines, index, table, words[1])
        elif words[-1] == "{":
            index = _skip_block(lines, index)
        else:
            raise NftError(number, f"unexpected line in a table: {line!r}")
    raise NftError(lines[-1][0] if lines else 0, "a table block is not closed")


def _skip_block(lines: list[tuple[int, str]], index: int) -> int:
    depth = 1
    while index < len(lines) and depth:
        depth += lines[index][1].count("{") - lines[index][1].count("}")
        index += 1
    return index


def _set_block(
    lines: list[tuple[int, str]], index: int, table: NftTable, name: str, is_map: bool
) -> int:
    timeout = 0
    elements: tuple[tuple[tuple[str, ...], str], ...] = ()
    while index < len(lines):
        _, line = lines[index]
        index += 1
        if line == "}":
            table.sets[name] = NftSet(is_map=is_map, timeout_seconds=timeout, elements=elements)
            return index
        if line.startswith("timeout "):
            timeout = duration_seconds(line.split()[1])
        elif line.startswith("elements = {"):
            text = line
            while text.count("{") > text.count("}") and index < len(lines):
                text += " " + lines[index][1]
                index += 1
            elements = parse_elements(_body(text))
    raise NftError(lines[-1][0], f"set {name} is not closed")


def _chain_block(lines: list[tuple[int, str]], index: int, table: NftTable, name: str) -> int:
    chain = NftChain()
    rules: list[NftRule] = []
    while index < len(lines):
        number, line = lines[index]
        index += 1
        if line == "}":
            table.chains[name] = msgspec.structs.replace(chain, rules=tuple(rules))
            return index
        found = _BASE.match(line)
        if found is not None:
            kind, hook, priority, policy = found.groups()
            chain = NftChain(hook=hook, kind=kind, priority=priority_value(priority),
                             policy=policy or "accept")  # fmt: skip
        elif line.startswith("comment ") or not line:
            continue
        else:
            rules.append(NftRule(statements=parse_statements(line, number), line=number))
    raise NftError(lines[-1][0], f"chain {name} is not closed")
