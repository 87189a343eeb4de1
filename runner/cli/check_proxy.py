"""``kubeoracle check proxy --rules FILE --cluster FILE``: do a service proxy's rules do what the
Service API says?

Reads a proxy's rules (``iptables-save`` output, ``nft list ruleset`` output, or an ``nft -f``
transaction) and the cluster they were made for (Services, EndpointSlices, the proxy's Node and
its KubeProxyConfiguration, as ``kubectl get -o yaml`` prints them), interprets the rules for
one representative packet of every packet class (each source kind, frontend, protocol and
affinity memory) and compares the result with the service model. Prints the first packet class
whose behaviour differs, what the model expects, what the rules do, and the named properties
broken. Exit codes: 0 the rules agree, 1 a difference, 2 bad input (a rule outside the
interpreted subset is named with its line).
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
        help=f"judge a service proxy's iptables or nftables rules against the Service API "
        f"({KUBERNETES_VERSION})",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rules", required=True, help="iptables-save or nft list ruleset output")
    parser.add_argument(
        "--cluster",
        required=True,
        help="Services, EndpointSlices, the proxy's Node and its KubeProxyConfiguration",
    )
    parser.add_argument(
        "--format", choices=("auto", "iptables", "nftables"), default="auto", help="rules format"
    )
    add_output_option(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> ExitCode:
    from models.proxy.view import cluster_view
    from runner.proxy.inputs import load_config, load_inputs, load_rules
    from spec.proxy.iptables_eval import iptables_proxy
    from spec.proxy.judge import first_difference, packet_classes
    from spec.proxy.nft_eval import nft_proxy

    inputs = load_inputs(args.cluster)
    rules_format, ruleset = load_rules(args.rules, args.format)
    config = load_config(args.cluster, inputs, "nftables" if rules_format == "nftables" else None)
    cluster = cluster_view(inputs.services, inputs.slices)
    if rules_format == "iptables":
        proxy = iptables_proxy(ruleset, config, cluster)  # type: ignore[arg-type]
    else:
        proxy = nft_proxy(ruleset, config, cluster)  # type: ignore[arg-type]
    difference = first_difference(config, cluster, proxy)
    report: dict[str, Any] = {
        "verdict": "agree" if difference is None else "differ",
        "format": rules_format,
        "node": config.node_name,
        "servicePorts": len(cluster),
        "packetClasses": len(packet_classes(config, cluster)),
        "kubernetesVersion": KUBERNETES_VERSION,
    }
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
    if report["verdict"] == "agree":
        return f"{head}\nPASS: every packet class behaves as the Service API says\n"
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
    if difference["properties"]:
        lines.append(f"  properties broken: {', '.join(difference['properties'])}")
    return "\n".join(lines) + "\n"
