"""nftables rule generation against kube-proxy's own expected state, the nft interpreter, and
the generated rules judged against the service model over every packet class."""

from __future__ import annotations

from hypothesis import given, settings

from impl.proxy.nftables import render
from models.k8s.core.service import Service
from models.k8s.discovery import EndpointSlice
from models.proxy.config import ProxyConfig
from models.proxy.state import NftablesState
from models.proxy.view import ServicePortEndpoints, cluster_view
from spec.proxy.judge import first_difference
from spec.proxy.nft_eval import nft_proxy
from spec.proxy.nft_read import apply_transaction, parse_listing
from spec.proxy.nft_rules import NftRuleset
from tests.proxy.builders import config
from tests.proxy.strategies import services_and_slices
from tests.proxy.upstream import DATA, overall_cluster

Generated = tuple[list[Service], list[EndpointSlice]]
UPSTREAM_NODE = config(node_port_addresses=("192.168.0.2",), service_cidrs=("172.30.0.0/16",))


def kernel(node: ProxyConfig, cluster: tuple[ServicePortEndpoints, ...]) -> NftRuleset:
    ruleset: NftRuleset = {}
    for transaction in render(node, cluster, NftablesState()).transactions:
        ruleset = apply_transaction(ruleset, transaction)
    return ruleset


def canonical(ruleset: NftRuleset) -> object:
    """The ruleset without line numbers and with set elements in sorted order."""
    return {
        name: (
            {
                chain_name: (chain.hook, chain.kind, chain.priority, chain.policy,
                             [rule.statements for rule in chain.rules])
                for chain_name, chain in table.chains.items()
            },
            {
                set_name: (item.is_map, item.timeout_seconds, sorted(item.elements))
                for set_name, item in table.sets.items()
            },
        )
        for name, table in ruleset.items()
    }  # fmt: skip


def test_overall_rules_match_kube_proxys_own_test() -> None:
    produced = "".join(render(UPSTREAM_NODE, overall_cluster(), NftablesState()).transactions)
    # kube-proxy formats the mark with %#08x (0x004000); its test fixture sets "0x4000".
    ours = apply_transaction({}, produced.replace("0x004000", "0x4000"))
    theirs = apply_transaction({}, (DATA / "upstream_overall_nftables.txt").read_text())
    assert canonical(ours) == canonical(theirs)


def test_upstream_cluster_rules_implement_the_model() -> None:
    cluster = overall_cluster()
    ruleset = kernel(UPSTREAM_NODE, cluster)
    assert (
        first_difference(UPSTREAM_NODE, cluster, nft_proxy(ruleset, UPSTREAM_NODE, cluster)) is None
    )


@settings(max_examples=30, deadline=None)
@given(services_and_slices())
def test_generated_rules_implement_the_model(generated: Generated) -> None:
    cluster = cluster_view(*generated)
    for node in (config(zone="zone-a"), config(masquerade_all=True), config(node_name="node2")):
        proxy = nft_proxy(kernel(node, cluster), node, cluster)
        assert first_difference(node, cluster, proxy) is None


@settings(max_examples=20, deadline=None)
@given(services_and_slices(), services_and_slices())
def test_a_partial_sync_leaves_the_kernel_as_a_full_sync_would(
    before: Generated, after: Generated
) -> None:
    node = config()
    first = render(node, cluster_view(*before), NftablesState())
    ruleset: NftRuleset = {}
    for transaction in first.transactions:
        ruleset = apply_transaction(ruleset, transaction)
    changed = frozenset(("ns", s.metadata.name or "") for s in before[0] + after[0] if s.metadata)
    cluster = cluster_view(*after)
    second = render(node, cluster, first.state, changed=changed, now_seconds=5.0)
    for transaction in second.transactions:
        ruleset = apply_transaction(ruleset, transaction)
    assert first_difference(node, cluster, nft_proxy(ruleset, node, cluster)) is None


def test_a_listing_reads_back_like_the_transaction() -> None:
    text = (DATA / "listing_small.nft").read_text()
    ruleset = parse_listing(text)
    table = ruleset["ip kube-proxy"]
    assert table.chains["nat-prerouting"].priority == -100
    assert len(table.sets["cluster-ips"].elements) == 2
    assert [s.kind for s in table.chains["svc"].rules[1].statements] == ["numgen"]
