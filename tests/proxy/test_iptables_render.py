"""iptables rule generation against kube-proxy's own expected output and the reference's
chain-name vectors."""

from __future__ import annotations

from impl.proxy.iptables import probability, render
from models.proxy.view import cluster_view
from tests.proxy.builders import config, endpoint_slice, ep, service, tcp
from tests.proxy.upstream import data_lines, overall_cluster

Tables = dict[str, tuple[set[str], dict[str, list[str]]]]


def by_chain(lines: list[str]) -> Tables:
    """table -> (declared chains, chain -> rules in order): the order-free view kube-proxy's
    own test compares (it sorts chains, keeping rule order within a chain)."""
    tables: Tables = {}
    table = ""
    for line in lines:
        if line.startswith("*"):
            table = line[1:]
            tables[table] = (set(), {})
        elif line.startswith(":"):
            tables[table][0].add(line.split()[0][1:])
        elif line.startswith("-A "):
            chain = line.split()[1]
            tables[table][1].setdefault(chain, []).append(line)
    return tables


def test_overall_rules_match_kube_proxys_own_test() -> None:
    node = config(localhost_node_ports=True, nfacct=True, random_fully=False)
    produced = render(node, overall_cluster()).restore
    # kube-proxy formats the mark with %#08x (0x004000); its test fixture sets "0x4000".
    produced = produced.replace("0x004000", "0x4000")
    assert by_chain(produced.splitlines()) == by_chain(data_lines("upstream_overall_iptables.txt"))


def test_chain_names_match_the_reference_vectors() -> None:
    services = [service("default", "web", "10.96.0.10", [tcp("http", 80)])]
    slices = [
        endpoint_slice("default", "web", [ep("10.244.1.5"), ep("10.244.2.7")], [tcp("http", 8080)])
    ]
    text = render(config(), cluster_view(services, slices)).restore
    for chain in (
        "KUBE-SVC-CDGGSHYLG3RE2FKL",
        "KUBE-SEP-AFGSLHOD2HFNCBX4",
        "KUBE-SEP-2RIJ5GIYXEFH6G4D",
    ):
        assert f":{chain} - [0:0]" in text
    one = [service("ns1", "svc1", "172.30.0.41", [tcp("p80", 80)])]
    one_slice = [endpoint_slice("ns1", "svc1", [ep("10.180.0.1")], [tcp("p80", 80)])]
    text = render(config(), cluster_view(one, one_slice)).restore
    assert ":KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]" in text
    assert ":KUBE-SEP-SXIVWICOYRO3J4NJ - [0:0]" in text


def test_probabilities_are_one_over_the_remaining_count() -> None:
    assert [probability(n) for n in (3, 2)] == ["0.3333333333", "0.5000000000"]
    services = [service("ns", "s", "172.30.0.1", [tcp("p", 80)])]
    slices = [endpoint_slice("ns", "s", [ep(f"10.180.0.{i}") for i in (1, 2, 3)], [tcp("p", 80)])]
    text = render(config(), cluster_view(services, slices)).restore
    rules = [line for line in text.splitlines() if "-> 10.180.0." in line]
    assert ["--probability 0.3333333333" in rules[0], "--probability 0.5000000000" in rules[1]] == [
        True,
        True,
    ]
    assert "--probability" not in rules[2]


def test_partial_sync_leaves_out_unchanged_services_and_deletes_stale_chains() -> None:
    services, slices = [], []
    for name in ("a", "b"):
        services.append(service("ns", name, f"172.30.0.{ord(name)}", [tcp("p", 80)]))
        slices.append(endpoint_slice("ns", name, [ep(f"10.180.0.{ord(name)}")], [tcp("p", 80)]))
    full = render(config(), cluster_view(services, slices))
    partial = render(
        config(),
        cluster_view(services[:1], slices[:1]),
        changed=frozenset({("ns", "b")}),
        existing_nat_chains=full.nat_chains,
    )
    a_chains = {c for c in full.nat_chains if c in partial.nat_chains}
    b_chains = full.nat_chains - partial.nat_chains
    assert a_chains
    assert b_chains
    for chain in a_chains:
        assert f":{chain} " not in partial.restore
    for chain in b_chains:
        assert f":{chain} - [0:0]" in partial.restore
        assert f"-X {chain}" in partial.restore
    assert "ns/a:p cluster IP" in partial.restore  # KUBE-SERVICES is always rewritten
