"""Reading IPVS tables: ``ipvsadm-save -n`` output and ``ipvsadm-restore`` input.

A virtual server is keyed by protocol, address and port (``-t``/``-u``/``--sctp-service
ip:port``); it has a scheduler (``-s``), an optional persistence timeout (``-p``, with netmask
``-M`` 255.255.255.255 only) and real servers (``-a ... -r ip:port -m -w weight``). Commands:
``-A``/``-E`` (add, edit a virtual server), ``-D`` (delete it), ``-a``/``-e``/``-d`` (add, edit,
delete a real server), ``-C`` (clear); long option names too. Only masquerading (NAT) real
servers are read; direct routing and tunnelling, firewall-mark services, upper/lower
connection thresholds and scheduler flags are refused with their line (``RulesError``), as is
anything else outside the subset.
"""

from __future__ import annotations

from typing import Final

import msgspec

from spec.proxy.iptables_rules import RulesError, word_lines

PROTOCOLS: Final = {
    "-t": "tcp",
    "--tcp-service": "tcp",
    "-u": "udp",
    "--udp-service": "udp",
    "--sctp-service": "sctp",
}
_COMMANDS: Final = {
    "--add-service": "-A",
    "--edit-service": "-E",
    "--delete-service": "-D",
    "--add-server": "-a",
    "--edit-server": "-e",
    "--delete-server": "-d",
    "--clear": "-C",
}
_OPTIONS: Final = {
    "--scheduler": "-s",
    "--persistent": "-p",
    "--netmask": "-M",
    "--real-server": "-r",
    "--weight": "-w",
    "--masquerading": "-m",
    "--gatewaying": "-g",
    "--ipip": "-i",
    "--u-threshold": "-x",
    "--l-threshold": "-y",
    "--sched-flags": "-b",
    "--pe": "--pe",
}
_FLAGS: Final = frozenset({"-m", "-g", "-i"})
DEFAULT_PERSISTENCE: Final = 300


class RealServer(msgspec.Struct, frozen=True, kw_only=True):
    address: str
    port: int
    weight: int = 1

    @property
    def backend(self) -> str:
        return f"{self.address}:{self.port}"


class VirtualServer(msgspec.Struct, frozen=True, kw_only=True):
    scheduler: str = "wlc"
    persistence_seconds: int | None = None
    reals: tuple[RealServer, ...] = ()
    line: int = 0


ServiceKey = tuple[str, str, int]
"""(protocol, address, port) of a virtual server."""
IpvsTable = dict[ServiceKey, VirtualServer]
"""A plain dict: built by the reader, then only read."""


def _endpoint(text: str, line: int) -> tuple[str, int]:
    address, _, port = text.rpartition(":")
    parts = address.split(".")
    valid = len(parts) == 4 and all(p.isdigit() and int(p) < 256 for p in parts)
    if not valid or not port.isdigit() or not 0 < int(port) < 65536:
        raise RulesError(line, f"{text!r} is not an IPv4 address:port")
    return address, int(port)


def _parse(words: list[str], line: int) -> tuple[str, ServiceKey | None, dict[str, str]]:
    """(command, virtual server, options) of one ipvsadm line."""
    command = _COMMANDS.get(words[0], words[0])
    if command not in ("-A", "-E", "-D", "-a", "-e", "-d", "-C"):
        raise RulesError(line, f"ipvsadm command {words[0]} is not interpreted")
    key: ServiceKey | None = None
    options: dict[str, str] = {}
    index = 1
    while index < len(words):
        word = words[index]
        value = words[index + 1] if index + 1 < len(words) else ""
        if word in PROTOCOLS:
            address, port = _endpoint(value, line)
            key = (PROTOCOLS[word], address, port)
            index += 2
        elif word in ("-f", "--fwmark-service"):
            raise RulesError(line, "firewall-mark virtual services are not interpreted")
        elif word in ("-p", "--persistent") and (not value or value.startswith("-")):
            options["-p"] = str(DEFAULT_PERSISTENCE)
            index += 1
        elif _OPTIONS.get(word, word) in _FLAGS:
            options["method"] = _OPTIONS.get(word, word)
            index += 1
        elif word in _OPTIONS.values() or word in _OPTIONS:
            if not value:
                raise RulesError(line, f"option {word} needs a value")
            options[_OPTIONS.get(word, word)] = value
            index += 2
        else:
            raise RulesError(line, f"ipvsadm option {word} is not interpreted")
    if command != "-C" and key is None:
        raise RulesError(line, "no virtual service (-t, -u or --sctp-service ip:port)")
    for refused, why in (
        ("-x", "connection thresholds"),
        ("-y", "connection thresholds"),
        ("-b", "scheduler flags"),
        ("--pe", "persistence engines"),
    ):
        if refused in options:
            raise RulesError(line, f"{why} (option {refused}) are not interpreted")
    if options.get("method", "-m") != "-m":
        raise RulesError(line, f"forwarding method {options['method']} is not interpreted")
    return command, key, options


def _number(options: dict[str, str], name: str, line: int) -> int | None:
    text = options.get(name)
    if text is None:
        return None
    if not text.isdigit():
        raise RulesError(line, f"option {name} needs a number, not {text!r}")
    return int(text)


def _virtual(old: VirtualServer | None, options: dict[str, str], line: int) -> VirtualServer:
    if options.get("-M", "255.255.255.255") != "255.255.255.255":
        raise RulesError(line, "a persistence netmask other than /32 is not interpreted")
    persistent = "-p" in options
    timeout = _number(options, "-p", line) if persistent else None
    return VirtualServer(
        scheduler=options.get("-s", "wlc"),
        persistence_seconds=timeout,
        reals=old.reals if old is not None else (),
        line=line,
    )


def _real(
    table: IpvsTable, key: ServiceKey, command: str, options: dict[str, str], line: int
) -> None:
    if key not in table:
        raise RulesError(line, f"virtual service {key[0]} {key[1]}:{key[2]} does not exist")
    if "-r" not in options:
        raise RulesError(line, "no real server (-r ip:port)")
    address, port = _endpoint(options["-r"], line)
    old = table[key]
    others = tuple(r for r in old.reals if (r.address, r.port) != (address, port))
    exists = len(others) != len(old.reals)
    if command == "-d":
        reals = others
    elif command == "-a" and exists:
        raise RulesError(line, f"real server {address}:{port} already exists")
    elif command == "-e" and not exists:
        raise RulesError(line, f"real server {address}:{port} does not exist")
    else:
        weight = _number(options, "-w", line)
        real = RealServer(address=address, port=port, weight=1 if weight is None else weight)
        reals = (*others, real)
    table[key] = msgspec.structs.replace(old, reals=reals)


def apply_ipvsadm(table: IpvsTable, text: str) -> IpvsTable:
    """``table`` after ``ipvsadm-restore`` of ``text`` (a new table)."""
    result = dict(table)
    for number, words in word_lines(text):
        command, key, options = _parse(words, number)
        if command == "-C":
            result.clear()
        elif key is None:
            continue
        elif command == "-A":
            if key in result:
                raise RulesError(number, f"virtual service {key[1]}:{key[2]} already exists")
            result[key] = _virtual(None, options, number)
        elif command == "-E":
            if key not in result:
                raise RulesError(number, f"virtual service {key[1]}:{key[2]} does not exist")
            result[key] = _virtual(result[key], options, number)
        elif command == "-D":
            result.pop(key, None)
        else:
            _real(result, key, command, options, number)
    return result
