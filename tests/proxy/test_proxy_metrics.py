"""``serve proxy``'s ``/metrics`` and ``/healthz``: against the reference API server
(``serve apiserver``) with ``--dry-run``, kube-proxy's sync counters move when a Service and its
EndpointSlice are created with the real kubectl."""

from __future__ import annotations

import io
import json
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from models.proxy.config import ProxyConfig
from models.proxy.state import ProxyMachineConfig
from runner.errors import InputError
from runner.proxy.metrics import (
    ProxyMetrics,
    metrics_server,
    parse_bind_address,
    restore_chains,
    rules_by_table,
)
from runner.proxy.serve import ProxyServer
from runner.proxy.watch import kubeconfig_server
from tests.apiserver.kubectl import kubectl, serve
from tests.controllers.manager_process import free_port
from tests.proxy.test_serve_proxy import SERVICE, endpoint_slice

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def wait_until(check: object, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(check) and check():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.kubectl
def test_sync_counters_move_after_a_service_is_created(tmp_path: Path) -> None:
    metrics = ProxyMetrics("iptables")
    listener = metrics_server(metrics, ("127.0.0.1", free_port()))
    listener.start()
    url = listener.urls()[0]
    with serve(tmp_path) as served:
        config = ProxyConfig(node_name="node", local_addresses=("192.168.0.2",))
        out = io.StringIO()
        proxy = ProxyServer(
            kubeconfig_server(str(served.kubeconfig)),
            ProxyMachineConfig(proxy=config, mode="iptables"),
            out,
            dry_run=True,
            min_sync_seconds=0.2,
            metrics=metrics,
        )
        thread = threading.Thread(target=proxy.run, kwargs={"duration_seconds": 60})
        thread.start()
        try:
            assert wait_until(lambda: proxy.syncs >= 1), out.getvalue()
            before = scrape(url)
            for document in (SERVICE, endpoint_slice("10.244.1.5")):
                created = kubectl(served, "apply", "-f", "-", stdin=json.dumps(document))
                assert created.returncode == 0, created.stderr
            assert wait_until(lambda: "10.244.1.5:8080" in out.getvalue()), out.getvalue()
            after = scrape(url)
            with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:
                health = response.status, response.read()
        finally:
            proxy.stop.set()
            thread.join(timeout=10)
            listener.close()
    ipv4 = {"ip_family": "IPv4"}

    def delta(name: str) -> float:
        return value(after, name) - value(before, name)

    # The initial lists already counted the API server's own ``kubernetes`` Service.
    assert value(before, "kubeproxy_sync_proxy_rules_service_changes_total") >= 1
    assert delta("kubeproxy_sync_proxy_rules_service_changes_total") == 1
    assert delta("kubeproxy_sync_proxy_rules_endpoint_changes_total") == 1
    assert value(after, "kubeproxy_sync_proxy_rules_duration_seconds_count", **ipv4) > value(
        before, "kubeproxy_sync_proxy_rules_duration_seconds_count", **ipv4
    )
    # The first sync after start-up is full; the one carrying the new Service is partial.
    assert value(before, "kubeproxy_sync_full_proxy_rules_duration_seconds_count", **ipv4) == 1
    assert value(after, "kubeproxy_sync_partial_proxy_rules_duration_seconds_count", **ipv4) >= 1
    assert value(after, "kubeproxy_sync_proxy_rules_last_timestamp_seconds", **ipv4) > value(
        before, "kubeproxy_sync_proxy_rules_last_timestamp_seconds", **ipv4
    )
    written = value(after, "kubeproxy_sync_proxy_rules_iptables_last", table="nat", **ipv4)
    owned = value(after, "kubeproxy_sync_proxy_rules_iptables_total", table="nat", **ipv4)
    assert written > 0
    assert owned >= written
    assert owned > value(before, "kubeproxy_sync_proxy_rules_iptables_total", table="nat", **ipv4)
    assert value(after, "kubeproxy_sync_proxy_rules_service_changes_pending") == 0
    assert value(after, "process_start_time_seconds") > 0
    assert health == (200, b"ok")


def test_modes_register_kube_proxys_families() -> None:
    def names(mode: str) -> set[str]:
        text = ProxyMetrics(mode).text().decode()
        return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}

    assert "kubeproxy_sync_full_proxy_rules_duration_seconds" in names("iptables")
    assert "kubeproxy_sync_full_proxy_rules_duration_seconds" not in names("nftables")
    assert "kubeproxy_sync_proxy_rules_nftables_sync_failures_total" in names("nftables")
    assert "kubeproxy_sync_proxy_rules_iptables_restore_failures_total" in names("ipvs")
    assert "kubeproxy_sync_proxy_rules_duration_seconds" in names("userspace")


def test_rules_are_counted_per_table() -> None:
    text = "*filter\n:KUBE-FORWARD - [0:0]\n-A KUBE-FORWARD -j ACCEPT\nCOMMIT\n*nat\n-A A\n-A B\n"
    assert rules_by_table(text) == {"filter": 1, "nat": 2}


def test_a_noflush_restore_flushes_only_the_chains_it_declares() -> None:
    chains: dict[tuple[str, str], int] = {}
    full = (
        "*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-A - [0:0]\n:KUBE-SVC-B - [0:0]\n"
        "-A KUBE-SERVICES -j KUBE-SVC-A\n-A KUBE-SERVICES -j KUBE-SVC-B\n"
        "-A KUBE-SVC-A -j X\n-A KUBE-SVC-B -j Y\n-A KUBE-SVC-B -j Z\nCOMMIT\n"
    )
    restore_chains(chains, full)
    restore_chains(chains, "*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-A - [0:0]\n"
                   "-A KUBE-SERVICES -j KUBE-SVC-B\n-X KUBE-SVC-A\nCOMMIT\n")  # fmt: skip
    assert chains == {("nat", "KUBE-SERVICES"): 1, ("nat", "KUBE-SVC-B"): 2}


def test_bind_addresses() -> None:
    assert parse_bind_address("127.0.0.1:10249") == ("127.0.0.1", 10249)
    assert parse_bind_address("[::]:10249") == ("::", 10249)
    assert parse_bind_address("0") is None
    assert parse_bind_address("") is None
    with pytest.raises(InputError, match="want HOST:PORT"):
        parse_bind_address("localhost")


@pytest.mark.kubectl
def test_the_verb_serves_metrics_on_the_bind_address(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from runner.cli.main import main

    url = f"http://127.0.0.1:{free_port()}"
    scraped: list[Samples] = []

    def scrape_once_synced() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not scraped:
            try:
                samples = scrape(url)
            except OSError:
                samples = {}
            if value(
                samples, "kubeproxy_sync_proxy_rules_duration_seconds_count", ip_family="IPv4"
            ):
                scraped.append(samples)
            time.sleep(0.1)

    with serve(tmp_path) as served:
        scraper = threading.Thread(target=scrape_once_synced)
        scraper.start()
        code = main(["serve", "proxy", "--kubeconfig", str(served.kubeconfig), "--dry-run",
                     "--hostname-override", "node", "--duration", "4",
                     "--metrics-bind-address", url.removeprefix("http://")])  # fmt: skip
        scraper.join()
    assert code == 0
    assert f"# metrics: {url}/metrics" in capsys.readouterr().out
    assert scraped
    assert value(scraped[0], "kubeproxy_sync_proxy_rules_service_changes_total") >= 1
