"""Reading ``check proxy``'s and ``serve proxy``'s files: the cluster (Services,
EndpointSlices, the proxy's Node, a KubeProxyConfiguration) and a foreign proxy's rules.

Files are read whole within the input limits (:mod:`runner.input_files`) and decoded strictly
(:mod:`models.k8s.codec`: an unknown field is refused with its path and line). Rules are read
as ``iptables-save`` output, ``nft list ruleset`` output or an ``nft -f`` transaction, or an ipvs
rule set: ``ipvsadm-save -n``, ``ipset save`` and ``iptables-save`` output, in one file one
after the other or in several files (a line outside ``*table ... COMMIT`` is an ipvsadm line
when it starts with ``-``, an ipset line when it starts with an ipset command); a rule outside
the interpreted subset is refused with its line. Every failure is an
:class:`~runner.errors.InputError` naming the file (exit 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal

import msgspec
from returns.result import Failure

from models.k8s.codec import decode_numbered, register_kinds
from models.proxy.config import ProxyConfig, ProxyMode
from models.proxy.inputs import PROXY_KINDS, ProxyInputs, gather, proxy_config
from runner.errors import InputError
from runner.input_files import read_text
from spec.proxy.ipset_rules import IpSets, apply_ipset
from spec.proxy.iptables_eval import check_sets
from spec.proxy.iptables_rules import RulesError, Ruleset, apply_restore, parse_save
from spec.proxy.ipvs_eval import check_schedulers
from spec.proxy.ipvs_rules import IpvsTable, apply_ipvsadm
from spec.proxy.nft_read import apply_transaction, parse_listing
from spec.proxy.nft_rules import NftError, NftRuleset

RulesFormat = Literal["iptables", "nftables", "ipvs"]
IPSET_COMMANDS: Final = frozenset({"create", "add", "del", "flush", "destroy", "-exist"})
IPVSADM_START: Final = ("-A -", "-a -", "-E -", "-e -", "-D -", "-d -", "-C", "--add-", "--edit-",
                        "--delete-", "--clear")  # fmt: skip


class IpvsRules(msgspec.Struct, frozen=True, kw_only=True):
    """An ipvs-mode rule set: IPVS virtual servers, ipsets, iptables rules."""

    table: IpvsTable
    ipsets: IpSets
    ruleset: Ruleset


def load_inputs(path: str, *, require_services: bool = True) -> ProxyInputs:
    text = read_text(Path(path))
    decoded = decode_numbered(text, register_kinds(PROXY_KINDS))
    if isinstance(decoded, Failure):
        error = decoded.failure()
        raise InputError(
            error.reason, source=path, line=error.line, document=error.document, field=error.field
        )
    inputs = gather(item for _, item in decoded.unwrap())
    if require_services and not inputs.services:
        raise InputError("no Service object found", source=path)
    return inputs


def load_config(path: str, inputs: ProxyInputs, mode: ProxyMode | None = None) -> ProxyConfig:
    found = proxy_config(inputs, mode)
    if isinstance(found, Failure):
        raise InputError(found.failure(), source=path)
    return found.unwrap()


def detect_format(text: str) -> RulesFormat:
    """ipvs when a line outside an iptables table is an ipvsadm or ``ipset create`` line;
    else iptables-save starts with ``*table`` sections, nft text with ``table`` or ``add``."""
    inside = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("*"):
            inside = True
        elif line == "COMMIT":
            inside = False
        elif not inside and line.startswith((*IPVSADM_START, "create ")):
            return "ipvs"
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        return "iptables" if line.startswith(("*", ":", "-A")) else "nftables"
    return "iptables"


def split_ipvs(text: str) -> tuple[str, str, str]:
    """The ipvsadm, ipset and iptables lines of an ipvs rule set, each text keeping the file's
    line numbers (other lines blank)."""
    parts: tuple[list[str], list[str], list[str]] = ([], [], [])
    inside = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line.startswith("*"):
            inside = True
        kind = 2 if inside else _outside_kind(line, number)
        if line == "COMMIT":
            inside = False
        for index, lines in enumerate(parts):
            lines.append(raw if index == kind else "")
    ipvsadm, ipset, iptables = ("\n".join(lines) + "\n" for lines in parts)
    return ipvsadm, ipset, iptables


def _outside_kind(line: str, number: int) -> int:
    if not line or line.startswith("#"):
        return -1
    if line.startswith("-") and not line.startswith("-exist"):
        return 0
    if line.split()[0] in IPSET_COMMANDS:
        return 1
    raise RulesError(number, "neither an ipvsadm, an ipset nor an iptables-save line")


def load_ipvs(paths: list[str]) -> IpvsRules:
    """``ipvsadm-save -n``, ``ipset save`` and ``iptables-save`` output from ``paths``, each
    file applied after the one before."""
    rules = IpvsRules(table={}, ipsets={}, ruleset={})
    texts: list[tuple[str, str]] = []
    for path in paths:
        text = read_text(Path(path))
        texts.append((path, text))
        try:
            ipvsadm, ipset, iptables = split_ipvs(text)
            table = apply_ipvsadm(rules.table, ipvsadm)
            check_schedulers({k: v for k, v in table.items() if rules.table.get(k) != v})
            rules = IpvsRules(
                table=table,
                ipsets=apply_ipset(rules.ipsets, ipset),
                ruleset=apply_restore(rules.ruleset, iptables, noflush=False),
            )
        except RulesError as error:
            raise InputError(error.message, source=path, line=error.line) from error
    try:
        check_sets(rules.ruleset, rules.ipsets)
    except RulesError as error:
        raise InputError(
            error.message, source=_origin(texts, error.line), line=error.line
        ) from error
    return rules


def _origin(texts: list[tuple[str, str]], line: int) -> str:
    """The file whose line ``line`` is an iptables ``-m set`` rule (the first, if several)."""
    for path, text in texts:
        lines = text.splitlines()
        if 0 < line <= len(lines) and "--match-set" in lines[line - 1]:
            return path
    return texts[0][0]


def load_rules(
    paths: list[str], format_name: str = "auto"
) -> tuple[RulesFormat, Ruleset | NftRuleset | IpvsRules]:
    """The rules of ``paths``: one file, or several for an ipvs rule set."""
    path = paths[0]
    text = read_text(Path(path))
    chosen: RulesFormat = detect_format(text) if format_name == "auto" else format_name  # type: ignore[assignment]
    if chosen == "ipvs" or len(paths) > 1:
        if chosen != "ipvs" and format_name != "auto":
            raise InputError(f"several --rules files are read only for ipvs, not {chosen}")
        return "ipvs", load_ipvs(paths)
    try:
        if chosen == "iptables":
            return chosen, parse_save(text)
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
        if first.startswith(("add ", "flush ", "delete ")):
            return chosen, apply_transaction({}, text)
        return chosen, parse_listing(text)
    except (RulesError, NftError) as error:
        raise InputError(error.message, source=path, line=error.line) from error
