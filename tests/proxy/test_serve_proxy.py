"""``serve proxy --dry-run`` against the reference API server (``serve apiserver``): it lists
and watches Services and EndpointSlices created with the real kubectl, prints the rules of each
sync, and a diff when an EndpointSlice changes."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path

import pytest

from models.proxy.config import ProxyConfig
from models.proxy.state import ProxyMachineConfig
from runner.proxy.serve import ProxyServer
from runner.proxy.watch import kubeconfig_server
from tests.apiserver.kubectl import kubectl, serve

pytestmark = pytest.mark.kubectl

SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {"ports": [{"name": "http", "port": 80, "protocol": "TCP"}]},
}


def endpoint_slice(ip: str) -> dict[str, object]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "web-1",
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": "web"},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": [ip], "conditions": {"ready": True}}],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }


def wait_for(text: io.StringIO, needle: str, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if needle in text.getvalue():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("mode", ["iptables", "nftables", "ipvs"])
def test_dry_run_prints_rules_and_the_diff_of_an_endpoint_change(tmp_path: Path, mode: str) -> None:
    with serve(tmp_path) as served:
        for document in (SERVICE, endpoint_slice("10.244.1.5")):
            created = kubectl(served, "apply", "-f", "-", stdin=json.dumps(document))
            assert created.returncode == 0, created.stderr
        config = ProxyConfig(node_name="node", local_addresses=("192.168.0.2",))
        out = io.StringIO()
        proxy = ProxyServer(
            kubeconfig_server(str(served.kubeconfig)),
            ProxyMachineConfig(proxy=config, mode=mode),  # type: ignore[arg-type]
            out,
            dry_run=True,
            min_sync_seconds=0.2,
        )
        thread = threading.Thread(target=proxy.run, kwargs={"max_syncs": 2, "duration_seconds": 60})
        thread.start()
        try:
            assert wait_for(out, "10.244.1.5:8080"), out.getvalue()
            changed = kubectl(
                served, "apply", "-f", "-", stdin=json.dumps(endpoint_slice("10.244.2.7"))
            )
            assert changed.returncode == 0, changed.stderr
            assert wait_for(out, "# diff against sync 1"), out.getvalue()
        finally:
            proxy.stop.set()
            thread.join(timeout=10)
    text = out.getvalue()
    diff = text.split("# diff against sync 1", 1)[1]
    assert "+" in diff
    assert "10.244.2.7:8080" in diff


def test_the_verb_runs_one_sync_and_stops(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from runner.cli.main import main

    with serve(tmp_path) as served:
        assert kubectl(served, "apply", "-f", "-", stdin=json.dumps(SERVICE)).returncode == 0
        code = main(["serve", "proxy", "--kubeconfig", str(served.kubeconfig), "--dry-run",
                     "--mode", "iptables", "--hostname-override", "node", "--node-ip",
                     "192.168.0.2", "--cluster-cidr", "10.0.0.0/8", "--max-syncs", "1",
                     "--duration", "30", "--metrics-bind-address", "0"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "# sync 1 (iptables)" in out
    assert '"default/web:http has no endpoints"' in out


def test_ipvs_mode_without_dry_run_is_refused_before_touching_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from runner.cli.main import main

    code = main(["serve", "proxy", "--kubeconfig", str(tmp_path / "absent"), "--mode", "ipvs"])
    assert code == 2
    assert "--mode ipvs runs only with --dry-run" in capsys.readouterr().err
