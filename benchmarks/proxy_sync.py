"""Sync time and rule size of the kube-proxy machine for 1k, 10k and 50k Services.

Each Service has one TCP port and two ready endpoints (the cluster of kube-proxy's own scale
tests has a handful of endpoints per Service). For each size and mode (iptables, nftables,
ipvs) the script times, with the machine driven through its events:

- a full sync: rendering the restore input / nft transaction from the informer cache;
- a partial sync after one endpoint of one Service changes;

and prints the rule size (lines, bytes; for ipvs the ipvsadm, ipset and iptables inputs
together). With ``--kernel`` (root, iptables and nft installed) it also loads the full sync (up
to 10k Services) into a fresh network namespace with the real ``iptables-restore`` and ``nft
-f`` and times that (not ipvs: the kernels here have no IPVS).

Published figures to compare with (cited in docs/proxy.md): before partial syncs (Kubernetes
1.26), large clusters reported iptables syncs of 4-5 s each (kubernetes/kubernetes#92836,
comment by T. Hockin, 2020); Kubernetes' scalability thresholds list 10,000 Services per
cluster; kube-proxy's default ``minSyncPeriod`` is 1 s.

    python -m benchmarks.proxy_sync [--sizes 1000,10000,50000] [--kernel]
"""

from __future__ import annotations

import argparse
import subprocess
import time
from typing import Any

from impl.proxy.machine import init, on_event
from models.k8s.codec import decode_data
from models.k8s.core.service import Service
from models.k8s.discovery import EndpointSlice
from models.proxy.config import ProxyConfig, ProxyMode
from models.proxy.events import (
    EndpointSliceUpserted,
    InitialListsSynced,
    IptablesRestore,
    IpvsApply,
    NftablesRun,
    ProxyCommand,
    ServiceUpserted,
    SyncApplied,
    SyncDue,
)
from models.proxy.state import ProxyMachineConfig, ProxyState

KERNEL_MAX_SERVICES = 10000
"""Larger rule sets take minutes in iptables-restore (nf_tables back end): not loaded."""

PUBLISHED_IPTABLES_SYNC_SECONDS = 4.5
"""kubernetes/kubernetes#92836: "iptables runs were 4-5 seconds each" in large clusters."""


def _address(index: int, base: int) -> str:
    return f"{base}.{(index >> 16) & 255}.{(index >> 8) & 255}.{index & 255}"


def objects(count: int) -> tuple[list[Service], list[EndpointSlice]]:
    services, slices = [], []
    for index in range(count):
        name = f"svc{index}"
        service = decode_data({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"namespace": "bench", "name": name},
            "spec": {"clusterIP": _address(index, 172), "ports": [{"name": "p", "port": 80}]},
        }).unwrap()  # fmt: skip
        endpoints = [{"addresses": [_address(2 * index + k, 10)]} for k in (0, 1)]
        endpoint_slice = decode_data({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"namespace": "bench", "name": f"{name}-1",
                         "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4", "endpoints": endpoints,
            "ports": [{"name": "p", "port": 8080, "protocol": "TCP"}],
        }).unwrap()  # fmt: skip
        assert isinstance(service, Service)
        assert isinstance(endpoint_slice, EndpointSlice)
        services.append(service)
        slices.append(endpoint_slice)
    return services, slices


def _text(commands: tuple[ProxyCommand, ...]) -> str:
    parts = [c.text for c in commands if isinstance(c, IptablesRestore | NftablesRun)]
    parts.extend(c.ipvsadm + c.ipset + c.iptables for c in commands if isinstance(c, IpvsApply))
    return "".join(parts)


def measure(count: int, mode: ProxyMode, kernel: bool) -> dict[str, Any]:
    proxy = ProxyConfig(node_name="node", local_addresses=("192.168.0.2",),
                        cluster_cidrs=("10.0.0.0/8",))  # fmt: skip
    setup = ProxyMachineConfig(proxy=proxy, mode=mode)
    state: ProxyState = init(setup).state
    services, slices = objects(count)
    for service in services:
        state = on_event(setup, state, ServiceUpserted(service=service)).state
    for endpoint_slice in slices:
        state = on_event(setup, state, EndpointSliceUpserted(endpoint_slice=endpoint_slice)).state
    state = on_event(setup, state, InitialListsSynced()).state
    started = time.perf_counter()
    step = on_event(setup, state, SyncDue(now_seconds=1.0))
    full_seconds = time.perf_counter() - started
    full_text = _text(step.commands)
    state = on_event(setup, step.state, SyncApplied(ok=True)).state
    changed = decode_data({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"namespace": "bench", "name": "svc0-1",
                     "labels": {"kubernetes.io/service-name": "svc0"}},
        "addressType": "IPv4", "endpoints": [{"addresses": ["10.255.255.254"]}],
        "ports": [{"name": "p", "port": 8080, "protocol": "TCP"}],
    }).unwrap()  # fmt: skip
    assert isinstance(changed, EndpointSlice)
    state = on_event(setup, state, EndpointSliceUpserted(endpoint_slice=changed)).state
    started = time.perf_counter()
    partial = on_event(setup, state, SyncDue(now_seconds=2.0))
    partial_seconds = time.perf_counter() - started
    result: dict[str, Any] = {
        "services": count,
        "mode": mode,
        "full_seconds": full_seconds,
        "full_lines": full_text.count("\n"),
        "full_bytes": len(full_text),
        "partial_seconds": partial_seconds,
        "partial_lines": _text(partial.commands).count("\n"),
    }
    if kernel and count <= KERNEL_MAX_SERVICES and mode != "ipvs":
        result["kernel_load_seconds"] = _load(mode, full_text)
    return result


def _load(mode: ProxyMode, text: str) -> float:
    name = f"ko-bench-{mode}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        command = ["iptables-restore", "--noflush"] if mode == "iptables" else ["nft", "-f", "-"]
        started = time.perf_counter()
        subprocess.run(["ip", "netns", "exec", name, *command], input=text, text=True, check=True)
        return time.perf_counter() - started
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--kernel", action="store_true", help="also load into a real kernel")
    args = parser.parse_args()
    print(f"{'services':>8} {'mode':>9} {'full sync':>10} {'lines':>9} {'MB':>6} "
          f"{'partial':>9} {'p.lines':>7} {'kernel load':>11}")  # fmt: skip
    for size in (int(s) for s in args.sizes.split(",")):
        for mode in ("iptables", "nftables", "ipvs"):
            row = measure(size, mode, args.kernel)
            load = f"{row['kernel_load_seconds']:.2f}s" if "kernel_load_seconds" in row else "-"
            print(f"{size:>8} {mode:>9} {row['full_seconds']:>9.2f}s {row['full_lines']:>9} "
                  f"{row['full_bytes'] / 1e6:>6.1f} {row['partial_seconds']:>8.2f}s "
                  f"{row['partial_lines']:>7} {load:>11}")  # fmt: skip
            if mode == "iptables" and size >= 10000:
                ratio = row["full_seconds"] / PUBLISHED_IPTABLES_SYNC_SECONDS
                print(f"{'':>8} ratio of full sync to the published 4-5 s iptables sync: "
                      f"{ratio:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
