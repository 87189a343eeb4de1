"""Real kernel tier: the generated iptables and nftables rules, loaded with the real
``iptables-restore`` and ``nft`` into a network namespace, carry real TCP and UDP connections
the way the service model says (marker ``netns``).

Each test builds one cluster covering ClusterIP, NodePort, LoadBalancer (with source ranges),
externalIPs, ClientIP affinity, Local internal and external policies, terminating endpoints,
topology hints, a Service without endpoints, hairpin and masquerading; feeds it to the machine;
loads the commands; and probes every frontend from an outside client, a pod and the node
itself. Each answer must be one the model allows: the backend, whether the backend saw the
client's address or the node's (masquerade), a refusal (REJECT) or silence (DROP); spreading
over several backends must be plausible for the model's uniform choice.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import msgspec
import pytest

from impl.proxy.machine import current_cluster, init, on_event
from models.k8s.codec import encode_yaml
from models.proxy.config import ProxyConfig, ProxyMode
from models.proxy.events import (
    EndpointSliceUpserted,
    InitialListsSynced,
    IptablesRestore,
    IpvsApply,
    ProxyCommand,
    ProxyEvent,
    ServiceUpserted,
    SyncDue,
)
from models.proxy.packet import Dropped, Forwarded, Packet, Rejected, Unspecified, Untouched
from models.proxy.state import ProxyMachineConfig
from models.proxy.view import ServicePortEndpoints
from runner.cli.main import main
from runner.proxy import kernel
from runner.proxy.netns import NODE_CLIENT_SIDE, NODE_POD_SIDE, Answer, Lab, lab
from spec.proxy.model import outcome
from tests.proxy.builders import NODE, endpoint_slice, ep, service, tcp

pytestmark = pytest.mark.netns

OUTSIDE = "203.0.113.2"
BLOCKED = "203.0.113.130"
POD = "10.180.9.9"
SPREAD_TRIES = 60


def udp(name: str, port: int, **extra: object) -> dict[str, object]:
    return {"name": name, "port": port, "protocol": "UDP", **extra}


def events() -> list[ProxyEvent]:
    lb = {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}
    services = [
        service("ns", "web", "172.30.0.1", [tcp("http", 80)]),
        service("ns", "dns", "172.30.0.2", [udp("dns", 53)]),
        service("ns", "empty", "172.30.0.3", [tcp("http", 80, nodePort=30081)], type="NodePort"),
        service("ns", "np-local", "172.30.0.4", [tcp("http", 80, nodePort=30082)],
                type="NodePort", externalTrafficPolicy="Local"),
        service("ns", "np-remote", "172.30.0.5", [tcp("http", 80, nodePort=30083)],
                type="NodePort", externalTrafficPolicy="Local"),
        service("ns", "lb", "172.30.0.6", [tcp("http", 80, nodePort=30084)], type="LoadBalancer",
                loadBalancerSourceRanges=["203.0.113.0/25"], externalIPs=["192.168.99.11"],
                status=lb),
        service("ns", "sticky", "172.30.0.7", [tcp("http", 80)], sessionAffinity="ClientIP"),
        service("ns", "draining", "172.30.0.8", [tcp("http", 80)]),
        service("ns", "in-local", "172.30.0.9", [tcp("http", 80)], internalTrafficPolicy="Local"),
        service("ns", "zoned", "172.30.0.10", [tcp("http", 80)]),
    ]  # fmt: skip
    draining: dict[str, bool] = {"ready": False, "serving": True, "terminating": True}

    def zone(ip: str, name: str) -> dict[str, object]:
        return {**ep(ip), "hints": {"forZones": [{"name": name}]}}

    port = [tcp("http", 8080)]
    slices = [
        endpoint_slice("ns", "web", [ep("10.180.0.1"), ep("10.180.0.2")], port),
        endpoint_slice("ns", "dns", [ep("10.180.0.3")], [udp("dns", 5353)]),
        endpoint_slice("ns", "np-local", [ep("10.180.0.4", NODE), ep("10.180.0.5", "node2")], port),
        endpoint_slice("ns", "np-remote", [ep("10.180.0.6", "node2")], port),
        endpoint_slice("ns", "lb", [ep("10.180.0.7"), ep("10.180.0.8")], port),
        endpoint_slice("ns", "sticky", [ep(f"10.180.0.{i}") for i in (9, 10, 11)], port),
        endpoint_slice("ns", "draining", [ep("10.180.0.12", None, **draining)], port),
        endpoint_slice("ns", "in-local", [ep("10.180.0.13", "node2")], port),
        endpoint_slice("ns", "zoned", [zone("10.180.0.14", "zone-a"),
                                       zone("10.180.0.15", "zone-b")], port),
    ]  # fmt: skip
    return [
        *(ServiceUpserted(service=s) for s in services),
        *(EndpointSliceUpserted(endpoint_slice=s) for s in slices),
        InitialListsSynced(),
        SyncDue(now_seconds=1.0),
    ]


def node_config(mode: ProxyMode) -> ProxyConfig:
    # kube-proxy's nftables mode accepts NodePorts on the primary address only by default.
    node_ports = (NODE_CLIENT_SIDE,) if mode == "nftables" else None
    return ProxyConfig(
        node_name=NODE,
        local_addresses=(NODE_CLIENT_SIDE, NODE_POD_SIDE),
        zone="zone-a",
        cluster_cidrs=("10.0.0.0/8",),
        node_port_addresses=node_ports,
    )


def sync(
    mode: ProxyMode,
) -> tuple[ProxyConfig, tuple[ServicePortEndpoints, ...], list[ProxyCommand]]:
    setup = ProxyMachineConfig(proxy=node_config(mode), mode=mode)
    state = init(setup).state
    commands: list[ProxyCommand] = []
    for event in events():
        step = on_event(setup, state, event)
        state, commands = step.state, commands + list(step.commands)
    return setup.proxy, current_cluster(state), commands


def backends(cluster: tuple[ServicePortEndpoints, ...]) -> tuple[str, ...]:
    return tuple(
        sorted({f"{e.service_port.protocol}/{x.address}" for e in cluster for x in e.endpoints})
    )


def frontends(cluster: tuple[ServicePortEndpoints, ...]) -> Iterator[tuple[str, int, str]]:
    for entry in cluster:
        port = entry.service_port
        for address in (port.cluster_ip, *port.external_ips, *port.load_balancer_ips):
            yield address, port.port, port.protocol
        if port.node_port:
            yield NODE_CLIENT_SIDE, port.node_port, port.protocol


CLIENTS = ((OUTSIDE, False), (BLOCKED, False), (POD, False), (NODE_CLIENT_SIDE, True),
           ("10.180.0.1", False))  # fmt: skip


def check(mode: ProxyMode, proxy_lab: Lab, node: ProxyConfig,
          cluster: tuple[ServicePortEndpoints, ...]) -> list[str]:  # fmt: skip
    """Probe every frontend from every client; list what the model does not allow."""
    problems: list[str] = []
    for destination, port, protocol in frontends(cluster):
        for source, from_host in CLIENTS:
            packet = Packet(source=source, destination=destination, port=port,
                            protocol=protocol, from_host=from_host)  # fmt: skip
            expected = outcome(node, cluster, packet)
            if isinstance(expected, Unspecified | Untouched):
                continue
            # ClientIP affinity makes every try after the first go where the first went; the
            # spread is judged on Services without it (affinity has its own test).
            sticky = any(e.service_port.affinity_timeout_seconds for e in cluster
                         if e.service_port.cluster_ip == destination)  # fmt: skip
            tries = SPREAD_TRIES if isinstance(expected, Forwarded) and not sticky else 1
            answers = [proxy_lab.probe(source, destination, port, protocol) for _ in range(tries)]
            problem = judge(expected, answers, source)
            if problem:
                problems.append(f"{mode}: {packet.describe()}: {problem}")
    return problems


def judge(expected: Forwarded | Rejected | Dropped, seen: list[Answer], source: str) -> str:
    if isinstance(expected, Rejected | Dropped):
        want = "refused" if isinstance(expected, Rejected) else "silent"
        kinds = {a.kind for a in seen}
        return "" if kinds == {want} else f"expected {want}, saw {sorted(kinds)}"
    allowed = {s.backend: s for s in expected.shares}
    counts = Counter(a.backend for a in seen)
    for answer in seen:
        if answer.kind != "backend" or answer.backend not in allowed:
            return f"expected one of {sorted(allowed)}, saw {answer.kind} {answer.backend}"
        masqueraded = answer.peer != source
        if masqueraded != allowed[answer.backend].masquerade:
            return (
                f"{answer.backend} saw peer {answer.peer} (masquerade expected: {not masqueraded})"
            )
    for backend, chosen in allowed.items():
        share = chosen.probability
        low, high = _plausible(share, len(seen))
        if not low <= counts[backend] <= high:
            return f"{backend} answered {counts[backend]}/{len(seen)} times for p={float(share)}"
    return ""


def _plausible(share: Fraction, tries: int) -> tuple[int, int]:
    """A band the count of a backend chosen with probability ``share`` leaves with probability
    below about 1e-4 (mean +- 4 standard deviations, binomial)."""
    mean = float(share) * tries
    spread = 4 * (tries * float(share) * (1 - float(share))) ** 0.5
    return max(0, int(mean - spread)), int(mean + spread + 1)


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_real_connections_follow_the_model(mode: ProxyMode) -> None:
    node, cluster, commands = sync(mode)
    with lab(backends(cluster), (POD,), (OUTSIDE, BLOCKED)) as proxy_lab:
        for command in commands:
            kernel.apply(proxy_lab.execute, command)
        problems = check(mode, proxy_lab, node, cluster)
    assert problems == []


def test_client_ip_affinity_keeps_a_client_on_one_backend() -> None:
    _, cluster, commands = sync("iptables")
    with lab(backends(cluster), (POD,), (OUTSIDE,)) as proxy_lab:
        for command in commands:
            kernel.apply(proxy_lab.execute, command)
        answers = [proxy_lab.probe(POD, "172.30.0.7", 80, "TCP") for _ in range(20)]
        spread = [proxy_lab.probe(POD, "172.30.0.1", 80, "TCP") for _ in range(20)]
    assert len({a.backend for a in answers}) == 1
    assert len({a.backend for a in spread}) == 2


MARK_RULE = "-A KUBE-MARK-MASQ -j MARK --or-mark 0x004000"


def test_the_tier_sees_a_broken_rule_set() -> None:
    """Without the mark-for-masquerade rule, external traffic reaches backends unmasqueraded
    and the hairpin connection breaks; the probes must say so."""
    node, cluster, commands = sync("iptables")
    broken = [
        msgspec.structs.replace(c, text=c.text.replace(MARK_RULE, "-A KUBE-MARK-MASQ -j RETURN"))
        if isinstance(c, IptablesRestore)
        else c
        for c in commands
    ]
    with lab(backends(cluster), (POD,), (OUTSIDE, BLOCKED)) as proxy_lab:
        for command in broken:
            kernel.apply(proxy_lab.execute, command)
        problems = check("iptables", proxy_lab, node, cluster)
    assert any("masquerade expected: True" in p for p in problems)


def cluster_file(tmp_path: Path, mode: ProxyMode) -> Path:
    """The lab's cluster as ``check proxy`` reads it: objects, the Node, the configuration."""
    objects = [
        e.service if isinstance(e, ServiceUpserted) else e.endpoint_slice
        for e in events()
        if isinstance(e, ServiceUpserted | EndpointSliceUpserted)
    ]
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": NODE, "labels": {"topology.kubernetes.io/zone": "zone-a"}},
        "status": {"addresses": [{"type": "InternalIP", "address": NODE_CLIENT_SIDE},
                                 {"type": "InternalIP", "address": NODE_POD_SIDE}]},
    }  # fmt: skip
    configuration = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "hostnameOverride": NODE,
        "clusterCIDR": "10.0.0.0/8",
        "mode": mode,
        "iptables": {"localhostNodePorts": False},
    }
    path = tmp_path / "cluster.yaml"
    documents = [encode_yaml(objects), json.dumps(node), json.dumps(configuration)]
    path.write_text("\n---\n".join(documents) + "\n")
    return path


@pytest.mark.parametrize(("mode", "dump"), [("iptables", ["iptables-save"]),
                                            ("nftables", ["nft", "list", "ruleset"])])  # fmt: skip
def test_check_proxy_reads_what_the_real_tools_print(
    mode: ProxyMode, dump: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, cluster, commands = sync(mode)
    with Lab(backends(cluster), (POD,), (OUTSIDE,)) as proxy_lab:
        for command in commands:
            kernel.apply(proxy_lab.execute, command)
        saved = proxy_lab.exec(proxy_lab.node, dump)
    rules = tmp_path / "rules.txt"
    rules.write_text(saved)
    code = main(
        ["check", "proxy", "--rules", str(rules), "--cluster", str(cluster_file(tmp_path, mode))]
    )
    assert (code, capsys.readouterr().out.splitlines()[-1]) == (
        0,
        "PASS: every packet class behaves as the Service API says",
    )


def test_ipvs_helpers_load_into_a_real_kernel_and_check_proxy_reads_them_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # No IPVS here: the virtual servers stay the machine's ipvsadm text; the ipsets and the
    # iptables helpers go through the real ipset and iptables-restore and come back through
    # ipset save and iptables-save.
    _, cluster, commands = sync("ipvs")
    ipvsadm = ""
    with Lab(backends(cluster), (POD,), (OUTSIDE,)) as proxy_lab:
        for command in commands:
            if isinstance(command, IpvsApply):
                kernel.apply_ipvs_helpers(proxy_lab.execute, command)
                ipvsadm = command.ipvsadm
            else:
                kernel.apply(proxy_lab.execute, command)
        sets = proxy_lab.exec(proxy_lab.node, ["ipset", "save"])
        saved = proxy_lab.exec(proxy_lab.node, ["iptables-save"])
    assert "create KUBE-IPVS-IPS hash:ip" in sets
    assert "--match-set KUBE-CLUSTER-IP dst,dst" in saved
    rules = tmp_path / "rules.txt"
    rules.write_text(f"{ipvsadm}{sets}{saved}")
    code = main(
        ["check", "proxy", "--rules", str(rules), "--cluster", str(cluster_file(tmp_path, "ipvs"))]
    )
    out = capsys.readouterr().out
    assert (code, out.splitlines()[-1]) == (
        0,
        "PASS: every packet class behaves as the Service API says (or, where listed above, as "
        "kube-proxy's ipvs mode departs from it)",
    )
    assert "local-policy-falls-back-to-cluster" in out
