"""Print API server throughput: requests/s for get, list, create and watch fan-out, for the pure
machine in-process and for ``serve apiserver`` on the reference etcd and on a real etcd.

Run: ``python -m benchmarks.apiserver``. HTTP figures use 4 client threads for 2 seconds per
operation; the list reads a namespace of 100 ConfigMaps; watch fan-out is the change events per
second delivered to 20 watchers of one namespace while one client updates a ConfigMap 200 times.
The last column is the real etcd's figure over the reference etcd's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from impl.apiserver.context import builtin_config
from runner.apiserver.client import ApiClient, Endpoint, WatchReader
from runner.apiserver.local import LocalApiServer
from runner.apiserver.server import ApiHttpServer, start_in_thread
from runner.etcd.cluster import LocalEtcdCluster

SECONDS = 2.0
CLIENTS = 4
LISTED = 100
WATCHERS = 20
UPDATES = 200
NAMESPACE = "/api/v1/namespaces/default/configmaps"

Call = Callable[[ApiClient, int, int], object]


def _configmap(name: str) -> dict[str, object]:
    return {"metadata": {"name": name}, "data": {"k": "v"}}


def machine_rates() -> dict[str, float]:
    """The machine with the in-process store, driven synchronously (no HTTP)."""
    server = LocalApiServer(config=builtin_config())
    for index in range(LISTED):
        server.call("POST", NAMESPACE, _configmap(f"cm-{index}"))
    rates: dict[str, float] = {}
    actions: tuple[tuple[str, Callable[[int], object]], ...] = (
        ("get", lambda n: server.call("GET", f"{NAMESPACE}/cm-{n % LISTED}")),
        ("list", lambda _: server.call("GET", NAMESPACE)),
        ("create", lambda n: server.call("POST", NAMESPACE, _configmap(f"new-{n}"))),
    )
    for name, action in actions:
        count, stop = 0, time.perf_counter() + SECONDS
        while time.perf_counter() < stop:
            action(count)
            count += 1
        rates[name] = count / SECONDS
    return rates


def _get(client: ApiClient, worker: int, count: int) -> object:
    del worker
    return client.request("GET", f"{NAMESPACE}/cm-{count % LISTED}")


def _list(client: ApiClient, worker: int, count: int) -> object:
    del worker, count
    return client.request("GET", NAMESPACE)


def _create(client: ApiClient, worker: int, count: int) -> object:
    return client.request("POST", NAMESPACE, _configmap(f"c{worker}-{count}"))


def _http_rate(endpoint: Endpoint, call: Call) -> float:
    done = [0] * CLIENTS
    stop = time.monotonic() + SECONDS

    def client(index: int) -> None:
        connection = ApiClient(endpoint)
        while time.monotonic() < stop:
            call(connection, index, done[index])
            done[index] += 1
        connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / SECONDS


def _fan_out_rate(endpoint: Endpoint) -> float:
    ApiClient(endpoint).request("POST", NAMESPACE, _configmap("hot"))
    received = [0] * WATCHERS
    readers = [
        WatchReader(endpoint, NAMESPACE, {"watch": "true", "fieldSelector": "metadata.name=hot",
                                          "resourceVersion": "0"})
        for _ in range(WATCHERS)
    ]  # fmt: skip

    def watch(index: int) -> None:
        for _ in readers[index].events():
            received[index] += 1

    threads = [threading.Thread(target=watch, args=(i,), daemon=True) for i in range(WATCHERS)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    writer = ApiClient(endpoint)
    start = time.perf_counter()
    for index in range(UPDATES):
        writer.request(
            "PUT", f"{NAMESPACE}/hot", {"metadata": {"name": "hot"}, "data": {"i": str(index)}}
        )
    wanted = WATCHERS * (UPDATES + 1)
    deadline = time.monotonic() + 30
    while sum(received) < wanted and time.monotonic() < deadline:
        time.sleep(0.01)
    elapsed = time.perf_counter() - start
    for reader in readers:
        reader.close()
    return (sum(received) - WATCHERS) / elapsed


def http_rates(etcd_servers: list[str] | None) -> dict[str, float]:
    server = ApiHttpServer(("127.0.0.1", 0), builtin_config(), etcd_servers=etcd_servers)
    thread = start_in_thread(server)
    time.sleep(1.0 if etcd_servers else 0.2)
    endpoint = Endpoint(url=server.url)
    try:
        setup = ApiClient(endpoint)
        for index in range(LISTED):
            setup.request("POST", NAMESPACE, _configmap(f"cm-{index}"))
        setup.close()
        return {
            "get": _http_rate(endpoint, _get),
            "list": _http_rate(endpoint, _list),
            "create": _http_rate(endpoint, _create),
            "watch fan-out": _fan_out_rate(endpoint),
        }
    finally:
        server.close()
        thread.join(timeout=10)


def main() -> None:
    machine = machine_rates()
    reference = http_rates(None)
    cluster = LocalEtcdCluster(1)
    try:
        cluster.start()
        real = http_rates(list(cluster.endpoints))
    finally:
        cluster.stop()
    print(f"{'operation':<15} {'machine':>10} {'ref etcd':>10} {'real etcd':>10} {'real/ref':>9}")
    for name in ("get", "list", "create", "watch fan-out"):
        inner = f"{machine[name]:>10.0f}" if name in machine else f"{'-':>10}"
        ratio = real[name] / reference[name] if reference[name] else 0.0
        print(f"{name:<15} {inner} {reference[name]:>10.0f} {real[name]:>10.0f} {ratio:>9.2f}")
    print("requests/s (watch fan-out: events/s delivered); list of 100 ConfigMaps; 4 clients")


if __name__ == "__main__":
    main()
