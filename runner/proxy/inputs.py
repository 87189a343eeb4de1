"""Reading ``check proxy``'s and ``serve proxy``'s files: the cluster (Services,
EndpointSlices, the proxy's Node, a KubeProxyConfiguration) and a foreign proxy's rules.

Files are read whole within the input limits (:mod:`runner.input_files`) and decoded strictly
(:mod:`models.k8s.codec`: an unknown field is refused with its path and line). Rules are read
as ``iptables-save`` output, ``nft list ruleset`` output or an ``nft -f`` transaction; a rule
outside the interpreted subset is refused with its line. Every failure is an
:class:`~runner.errors.InputError` naming the file (exit 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from returns.result import Failure

from models.k8s.codec import decode_numbered, register_kinds
from models.proxy.config import ProxyConfig, ProxyMode
from models.proxy.inputs import PROXY_KINDS, ProxyInputs, gather, proxy_config
from runner.errors import InputError
from runner.input_files import read_text
from spec.proxy.iptables_rules import RulesError, Ruleset, parse_save
from spec.proxy.nft_read import apply_transaction, parse_listing
from spec.proxy.nft_rules import NftError, NftRuleset

RulesFormat = Literal["iptables", "nftables"]


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
    """iptables-save starts with ``*table`` sections; nft text with ``table`` or ``add``."""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        return "iptables" if line.startswith(("*", ":", "-A")) else "nftables"
    return "iptables"


def load_rules(path: str, format_name: str = "auto") -> tuple[RulesFormat, Ruleset | NftRuleset]:
    text = read_text(Path(path))
    chosen: RulesFormat = detect_format(text) if format_name == "auto" else format_name  # type: ignore[assignment]
    try:
        if chosen == "iptables":
            return chosen, parse_save(text)
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
        if first.startswith(("add ", "flush ", "delete ")):
            return chosen, apply_transaction({}, text)
        return chosen, parse_listing(text)
    except (RulesError, NftError) as error:
        raise InputError(error.message, source=path, line=error.line) from error
