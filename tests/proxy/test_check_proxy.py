"""``kubeoracle check proxy`` catches deliberately wrong rule sets: a missing KUBE-MARK-MASQ,
a wrong probability, a Local policy that forwards to another node, a missing REJECT for a
Service without endpoints; for ipvs, a wrong weight, a missing real server and a Local policy
forwarding to a remote endpoint; passes right ones; refuses rules it cannot read (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from impl.proxy import iptables, ipvs, nftables
from models.k8s.codec import decode_data, encode_yaml
from models.k8s.core.node import Node
from models.proxy.config import ProxyConfig
from models.proxy.events import JumpRule
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
    return save_form(
        iptables.render(node, cluster_view(SERVICES, SLICES)).restore, iptables.JUMP_RULES
    )


def save_form(restore: str, jumps: tuple[JumpRule, ...]) -> str:
    """A restore input made into iptables-save form: built-in chains and kube-proxy's jumps
    (each prepended, so later jumps come first)."""
    sections: dict[str, list[str]] = {"filter": [], "nat": []}
    for jump in reversed(jumps):
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


def ipvs_dump(node: ProxyConfig) -> tuple[str, str, str]:
    """What ``ipvsadm-save -n``, ``ipset save`` and ``iptables-save`` would print after the
    ipvs mode's full sync on ``node``."""
    rendered = ipvs.render(node, cluster_view(SERVICES, SLICES), {})
    return rendered.ipvsadm, rendered.ipset, save_form(rendered.iptables, ipvs.JUMP_RULES)


def ipvs_file(node: ProxyConfig) -> str:
    ipvsadm, ipset, saved = ipvs_dump(node)
    return f"# ipvsadm-save -n\n{ipvsadm}# ipset save\n{ipset}# iptables-save\n{saved}"


def _quoted(words: tuple[str, ...]) -> list[str]:
    return [f'"{w}"' if " " in w else w for w in words]


def check(
    tmp_path: Path, rules: str, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str]:
    rules_path = tmp_path / "rules.txt"
    rules_path.write_text(rules)
    cluster = str(write_cluster(tmp_path))
    code = main(["check", "proxy", "--rules", str(rules_path), "--cluster", cluster, *extra])
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


def test_ipvs_rules_of_kube_proxy_pass_with_the_ipvs_departures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = check(tmp_path, ipvs_file(node_config()), capsys)
    assert (code, "PASS" in out) == (0, True)
    assert "ipvs rules for node test-node" in out


def test_ipvs_rules_in_several_files_are_read_in_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = []
    for name, text in zip(("ipvsadm", "ipset", "iptables"), ipvs_dump(node_config()), strict=True):
        path = tmp_path / f"{name}.txt"
        path.write_text(text)
        paths.extend(["--rules", str(path)])
    cluster = str(write_cluster(tmp_path))
    code = main(["check", "proxy", *paths, "--cluster", cluster, "-o", "json"])
    report = json.loads(capsys.readouterr().out)
    assert (code, report["format"], report["verdict"]) == (0, "ipvs", "agree")
    # The Local NodePort has endpoints here and on node2: pods and the node meet only the
    # local one (kube-proxy's ipvs mode has one real-server list per virtual server).
    assert report["departuresAllowed"]["local-policy-for-every-source"] > 0


def test_a_wrong_ipvs_weight_is_caught(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = ipvs_file(node_config()).replace(
        "-a -t 172.30.0.1:80 -r 10.180.0.2:8080 -m -w 1",
        "-a -t 172.30.0.1:80 -r 10.180.0.2:8080 -m -w 0",
    )
    code, out = check(tmp_path, rules, capsys)
    assert code == 1
    assert "first differing packet class: TCP 10.0.0.7 -> 172.30.0.1:80 (arriving)" in out
    assert "rules do: forwarded to 10.180.0.1:8080 p=1.000000" in out
    assert "10.180.0.1:8080 is reached with p=1.0000000000, expected 0.5000000000" in out


def test_a_missing_ipvs_real_server_is_caught(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = ipvs_file(node_config()).splitlines(keepends=True)
    rules = "".join(line for line in lines if "-r 10.180.0.3:8080" not in line)
    code, out = check(tmp_path, rules, capsys)
    assert code == 1
    assert "first differing packet class: TCP 10.0.0.7 -> 172.30.0.3:80 (arriving)" in out
    assert "never reaches 10.180.0.3:8080, expected p=0.500000" in out


def test_ipvs_local_policy_forwarding_to_a_remote_endpoint_is_caught(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Rules made by a proxy that believes it runs on node2: its "local" endpoint is remote here.
    code, out = check(tmp_path, ipvs_file(node_config("node2")), capsys)
    assert code == 1
    # The first class is a pod (10/8 is the pod CIDR) at the Local NodePort: ipvs mode sends
    # it to this node's endpoint 10.180.0.3; these rules send it to node2's 10.180.0.4.
    assert "first differing packet class: TCP 10.0.0.7 -> 192.168.0.2:30003 (arriving)" in out
    assert "rules do: forwarded to 10.180.0.4:8080 p=1.000000" in out
    assert "never reaches 10.180.0.3:8080, expected p=1.000000" in out
    assert "expected per ipvs mode departures: local-policy-for-every-source" in out


def test_strict_judges_ipvs_rules_against_the_model_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = check(tmp_path, ipvs_file(node_config()), capsys, "--strict")
    assert code == 1
    # The model sends a pod at a Local NodePort to every endpoint; ipvs mode to the local one.
    assert "first differing packet class: TCP 10.0.0.7 -> 192.168.0.2:30003 (arriving)" in out
    assert "10.180.0.3:8080 is reached with p=1.0000000000, expected 0.5000000000" in out


def test_an_ipvs_line_outside_the_subset_is_refused_with_its_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = ipvs_file(node_config()).replace(
        "-A -t 172.30.0.1:80 -s rr", "-A -t 172.30.0.1:80 -s lc"
    )
    code, out = check(tmp_path, rules, capsys)
    assert code == 2
    assert "rules.txt:2: scheduler lc of 172.30.0.1:80 is not interpreted" in out
