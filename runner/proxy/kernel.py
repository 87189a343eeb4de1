"""Carrying out the kube-proxy machine's commands in a real kernel, through the ordinary tools:
``iptables``/``iptables-restore`` and ``nft``. IPVS commands are refused: the kernels this
project runs on have no IPVS (``ipvsadm`` answers "Protocol not available"), so the ipvs mode
is checked through its interpreter only. Userspace tables are carried out by the userspace
proxy, not here.

``Executor`` runs one program (argv, standard input) somewhere (the host, or a namespace of a
test lab) and returns its output or raises; ``apply`` maps each command onto programs;
``apply_ipvs_helpers`` loads the parts of an ipvs sync that need no IPVS (the ipsets, with
``ipset restore``, and the iptables helper rules), for the kernel tier.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import assert_never

from models.proxy.events import (
    EnsureJumpRules,
    IptablesRestore,
    IpvsApply,
    JumpRule,
    NftablesRun,
    ProxyCommand,
    UserspaceTable,
)

Executor = Callable[[list[str], str | None], str]


class KernelError(Exception):
    """A command the kernel (or its tools) refused."""


def ensure_jump(execute: Executor, rule: JumpRule) -> None:
    """kube-proxy's EnsureChain + EnsureRule(Prepend): create the target, insert the jump first
    unless an identical rule exists."""
    table = ["iptables", "-w", "-t", rule.table]
    with contextlib.suppress(KernelError):  # the chain may exist already
        execute([*table, "-N", rule.target], None)
    arguments = list(rule.arguments())
    try:
        execute([*table, "-C", rule.chain, *arguments], None)
    except KernelError:
        execute([*table, "-I", rule.chain, "1", *arguments], None)


def apply(execute: Executor, command: ProxyCommand) -> None:
    match command:
        case EnsureJumpRules(rules=rules):
            for rule in rules:
                ensure_jump(execute, rule)
        case IptablesRestore(text=text):
            execute(["iptables-restore", "-w", "--noflush", "--counters"], text)
        case NftablesRun(text=text):
            execute(["nft", "-f", "-"], text)
        case IpvsApply():
            raise KernelError("this kernel has no IPVS; ipvs rules are judged by interpreter")
        case UserspaceTable():
            pass
        case _:
            assert_never(command)


def apply_ipvs_helpers(execute: Executor, command: IpvsApply) -> None:
    """The ipsets and iptables rules of an ipvs sync, without its virtual servers."""
    execute(["ipset", "restore"], command.ipset)
    execute(["iptables-restore", "-w", "--noflush", "--counters"], command.iptables)
