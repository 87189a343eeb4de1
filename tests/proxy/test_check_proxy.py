"""``kubeoracle check proxy`` catches deliberately wrong rule sets: a missing KUBE-MARK-MASQ,
a wrong probability, a Local policy that forwards to another node, a missing REJECT for a
Service without endpoints; passes right ones; refuses rules it cannot read (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from impl.proxy import iptables, nftables
from models.k8s.codec import decode_data, encode_yaml
from models.k8s.core.node import Node
from models.proxy.config import ProxyConfig
from models.proxy.state import NftablesState
from models.proxy.view import cluster_view
from runner.cli.main import main
from tests.proxy.builders import NODE, NODE_IP, endpoint_slice, ep, service, tcp

SERVICES = [
    service("ns", "web", "172.30.0.1", [tcp("http", 80)]),
    service("ns", "empty", "172.30.0.2", [tcp("http", 80)]),
    service("ns", "local", "172.30.0.3", [tcp("http", 80, nodePort=30003)], type="NodePort",
            externalTrafficPolicy="Local"),
]  # fmt: skip
SLICES = [
    endpoint_slice("ns", "web", [ep("10.180.0.1"), ep("10.180.0.2")], [tcp("http", 8080)]),
    endpoint_slice("ns", "local", [ep("10.180.0.3", NODE), ep("10.180.0.4", "node2")],
                   [tcp("http", 8080)]),
]  # fmt: skip
KUBE_PROXY = {
    "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
    "kind": "KubeProxyConfiguration",
    "hostnameOverride": NODE,
    "clusterCIDR": "10.0.0.0/8",
    "mode": "iptables",
    "iptables": {"localhostNodePorts": False},
}


def node_object(name: str = NODE) -> Node:
    data = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "status": {"addresses": [{"type": "InternalIP", "address": NODE_IP}]},
    }
    decoded = decode_data(data).unwrap()
    assert isinstance(decoded, Node)
    return decoded


def node_config(name: str = NODE) -> ProxyConfig:
    return ProxyConfig(node_name=name, local_addresses=(NODE_IP,), cluster_cidrs=("10.0.0.0/8",))


def write_cluster(tmp_path: Path) -> Path:
    path = tmp_path / "cluster.yaml"
    text = encode_yaml([*SERVICES, *SLICES, node_object()])
    path.write_text(text + "---\n" + json.dumps(KUBE_PROXY) + "\n")
    return path


def iptables_save(node: ProxyConfig) -> str:
    """The restore input made into iptables-save form: built-in chains and kube-proxy's jumps
    (each prepended, so later jumps come first)."""
    restore = iptables.render(node, cluster_view(SERVICES, SLICES)).restore
    sections: dict[str, list[str]] = {"filter": [], "nat": []}
    for jump in reversed(iptables.JUMP_RULES):
        sections[jump.table].append(" ".join(["-A", jump.chain, *_quoted(jump.arguments())]))
    builtins = {"filter": ("INPUT", "FORWARD", "OUTPUT"),
                "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING")}  # fmt: skip
    out: list[str] = []
    for line in restore.splitlines():
        out.append(line)
        if line.startswith("*"):
            table = line[1:]
            out.extend(f":{chain} ACCEPT [0:0]" for chain in builtins[table])
            out.extend(sections[table])
            out.append(":KUBE-FIREWALL - [0:0]" if table == "filter" else "")
    return "\n".join(line for line in out if line) + "\n"


def _quoted(words: tuple[str, ...]) -> list[str]:
    return [f'"{w}"' if " " in w else w for w in words]


def check(tmp_path: Path, rules: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    rules_path = tmp_path / "rules.txt"
    rules_path.write_text(rules)
    code = main(
        ["check", "proxy", "--rules", str(rules_path), "--cluster", str(write_cluster(tmp_path))]
    )
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_kube_proxys_own_rules_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = check(tmp_path, iptables_save(node_config()), capsys)
    assert (code, "PASS" in out) == (0, True)


def test_missing_mark_for_masquerade_is_caught(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = iptables_save(node_config()).replace(
        "-A KUBE-MARK-MASQ -j MARK --or-mark 0x004000\n", ""
    )
    code, out = check(tmp_path, rules, capsys)
    assert code == 1
    assert "the model masquerades it" in out


def test_a_wrong_probability_is_caught(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = iptables_save(node_config()).replace(
        "--probability 0.5000000000", "--probability 0.3000000000"
    )
    code, out = check(tmp_path, rules, capsys)
    assert code == 1
    assert "p=0.3000000000, expected 0.5000000000" in out


def test_local_policy_forwarding_to_another_node_is_caught(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Rules made by a proxy that believes it runs on node2: its "local" endpoint is remote here.
    code, out = check(tmp_path, iptables_save(node_config("node2")), capsys)
    assert code == 1
    assert "local-policy-stays-on-node" in out


def test_missing_reject_for_a_service_without_endpoints_is_caught(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = iptables_save(node_config()).splitlines(keepends=True)
    rules = "".join(line for line in lines if "has no endpoints" not in line)
    code, out = check(tmp_path, rules, capsys)
    assert code == 1
    assert "expected rejected" in out
    assert "no-endpoints-rejects" in out


def test_nftables_rules_pass_and_a_skewed_numgen_is_caught(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    node = node_config()
    transaction = "".join(
        nftables.render(node, cluster_view(SERVICES, SLICES), NftablesState()).transactions
    )
    code, _ = check(tmp_path, transaction, capsys)
    assert code == 0
    code, out = check(
        tmp_path, transaction.replace("numgen random mod 2", "numgen random mod 3"), capsys
    )
    assert code == 1
    assert "reaches (rejected) with p=0.333333" in out


def test_a_rule_outside_the_subset_is_refused_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = "*nat\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -m owner --uid-owner 0 -j ACCEPT\nCOMMIT\n"
    code, out = check(tmp_path, rules, capsys)
    assert code == 2
    assert "rules.txt:3: -m owner is not interpreted" in out


def test_json_report_names_the_packet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules_path = tmp_path / "rules.txt"
    rules_path.write_text(
        iptables_save(node_config()).replace(
            "--probability 0.5000000000", "--probability 0.2500000000"
        )
    )
    code = main(
        [
            "check",
            "proxy",
            "--rules",
            str(rules_path),
            "--cluster",
            str(write_cluster(tmp_path)),
            "-o",
            "json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert report["verdict"] == "differ"
    assert report["difference"]["packet"]["destination"] in ("172.30.0.1", "172.30.0.3")
    assert "p=0.2500000000, expected 0.5000000000" in report["reason"]
