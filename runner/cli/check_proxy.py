"""``kubeoracle check proxy --rules FILE --cluster FILE``: do a service proxy's rules do what the
Service API says?

Reads a proxy's rules (``iptables-save`` output, ``nft list ruleset`` output, an ``nft -f``
transaction, or an ipvs rule set: ``ipvsadm-save -n``, ``ipset save`` and ``iptables-save``
output in one file or in several ``--rules`` files) and the cluster they were made for
(Services, EndpointSlices, the proxy's Node and its KubeProxyConfiguration, as ``kubectl get
-o yaml`` prints them), interprets the rules for
one representative packet of every packet class (each source kind, frontend, protocol and
affinity memory) and compares the result with the service model. Prints the first packet class
whose behaviour differs, what the model expects, what the rules do, and the named properties
broken. ipvs rule sets are judged against the model with kube-proxy ipvs mode's documented
departures from it (docs/proxy.md), or, with ``--strict``, against the model alone. Exit codes:
0 the rules agree, 1 a difference, 2 bad input (a rule outside the interpreted subset is named
with its line).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

import msgspec

from models.kubernetes_version import KUBERNETES_VERSION
from runner.cli.output import add_output_option, emit
from runner.exit_codes import ExitCode


def add_target(targets: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``check proxy``."""
    parser = targets.add_parser(
        "proxy",
        help=f"judge a service proxy's iptables, nftables or ipvs rules against the Service API "
        f"({KUBERNETES_VERSION})",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--rules",
        required=True,
        action="append",
        help="iptables-save or nft list ruleset output; for ipvs, ipvsadm-save -n, ipset save and "
        "iptables-save output (one file, or repeat --rules)",
    )
    parser.add_argument(
        "--cluster",
        required=True,
        help="Services, EndpointSlices, the proxy's Node and its KubeProxyConfiguration",
    )
    parser.add_argument(
        "--format",
        choices=("auto", "iptables", "nftables", "ipvs"),
        default="auto",
        help="rules format",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="judge ipvs rules against the Service model alone, without the ipvs mode's "
        "documented departures",
    )
    add_output_option(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> ExitCode:
    from models.proxy.view import cluster_view
    from runner.proxy.inputs import IpvsRules, load_config, load_inputs, load_rules
    from spec.proxy.iptables_eval import iptables_proxy
    from spec.proxy.ipvs_eval import ipvs_proxy
    from spec.proxy.ipvs_mode import departures_used, ipvs_expectation
    from spec.proxy.judge import first_difference, packet_classes
    from spec.proxy.nft_eval import nft_proxy

    inputs = load_inputs(args.cluster)
    rules_format, ruleset = load_rules(args.rules, args.format)
    config = load_config(args.cluster, inputs, None if rules_format == "iptables" else rules_format)
    cluster = cluster_view(inputs.services, inputs.slices)
    expect = None
    if isinstance(ruleset, IpvsRules):
        proxy = ipvs_proxy(ruleset.table, ruleset.ipsets, ruleset.ruleset, config, cluster)
        expect = None if args.strict else ipvs_expectation(config, cluster)
    elif rules_format == "iptables":
        proxy = iptables_proxy(ruleset, config, cluster)  # type: ignore[arg-type]
    else:
        proxy = nft_proxy(ruleset, config, cluster)  # type: ignore[arg-type]
    difference = first_difference(config, cluster, proxy, expect)
    report: dict[str, Any] = {
        "verdict": "agree" if difference is None else "differ",
        "format": rules_format,
        "node": config.node_name,
        "servicePorts": len(cluster),
        "packetClasses": len(packet_classes(config, cluster)),
        "kubernetesVersion": KUBERNETES_VERSION,
    }
    if expect is not None:
        report["departuresAllowed"] = departures_used(config, cluster)
    if difference is not None:
        report["difference"] = msgspec.to_builtins(difference)
        report["reason"] = difference.reason
        report["expected"] = difference.expected.describe()
        report["actual"] = difference.actual.describe()
        report["packet"] = difference.packet.describe()
    emit(report, args.output, render)
    return ExitCode.PASS if difference is None else ExitCode.VIOLATION


def render(report: Mapping[str, Any]) -> str:
    head = (
        f"{report['format']} rules for node {report['node']}: {report['servicePorts']} service "
        f"ports, {report['packetClasses']} packet classes"
    )
    allowed = report.get("departuresAllowed")
    if allowed:
        counts = ", ".join(f"{name} ({count})" for name, count in sorted(allowed.items()))
        head += f"\nkube-proxy ipvs mode departures allowed (packet classes): {counts}"
    if report["verdict"] == "agree":
        verdict = "PASS: every packet class behaves as the Service API says"
        if allowed:
            verdict += " (or, where listed above, as kube-proxy's ipvs mode departs from it)"
        return f"{head}\n{verdict}\n"
    difference = report["difference"]
    memory = difference["affinity"]["entries"]
    lines = [
        head,
        f"FAIL: first differing packet class: {report['packet']}",
        f"  client affinity memory: {memory if memory else 'none'}",
        f"  expected: {report['expected']}",
        f"  rules do: {report['actual']}",
        f"  why: {report['reason']}",
    ]
    if difference["departures"]:
        lines.append(f"  expected per ipvs mode departures: {', '.join(difference['departures'])}")
    if difference["properties"]:
        lines.append(f"  properties broken: {', '.join(difference['properties'])}")
    return "\n".join(lines) + "\n"
