"""Print etcd throughput figures: impl/etcd apply, and the gateway and gRPC (reference and
real etcd).

Run: ``python -m benchmarks.etcd_throughput``. Prints requests per second for the pure state
machine, for ``serve etcd`` without Raft and with 3 simulated Raft members, and for a real
3-member etcd cluster, each driven by 4 client threads doing puts and gets for 2 seconds, over
the JSON gateway and over gRPC.
"""

from __future__ import annotations

import random
import threading
import time

from impl.etcd.apply import ApplyContext, apply
from impl.etcd.store import EtcdState
from models.etcd import PutRequest, RangeRequest
from runner.etcd.backend import make_backend
from runner.etcd.client import EtcdGatewayClient
from runner.etcd.cluster import LocalEtcdCluster
from runner.etcd.grpc_client import EtcdGrpcClient
from runner.etcd.server import GatewayServer

SECONDS = 2.0
CLIENTS = 4


def apply_rate(count: int = 20_000) -> float:
    state = EtcdState()
    rng = random.Random(1)
    start = time.perf_counter()
    for index in range(count):
        key = b"key%d" % rng.randrange(100)
        request = PutRequest(key=key, value=b"%d" % index) if index % 2 else RangeRequest(key=key)
        state, _ = apply(state, request, ApplyContext())
    return count / (time.perf_counter() - start)


def gateway_rate(endpoints: tuple[str, ...], protocol: str = "gateway") -> float:
    done = [0] * CLIENTS
    stop = time.monotonic() + SECONDS

    def client(index: int) -> None:
        endpoint = endpoints[index % len(endpoints)]
        connection: EtcdGatewayClient | EtcdGrpcClient = (
            EtcdGrpcClient(endpoint) if protocol == "grpc" else EtcdGatewayClient(endpoint)
        )
        while time.monotonic() < stop:
            key = b"key%d" % (done[index] % 10)
            if done[index] % 2:
                connection.put(PutRequest(key=key, value=b"v"))
            else:
                connection.range(RangeRequest(key=key))
            done[index] += 1
        connection.close()

    threads = [threading.Thread(target=client, args=(index,)) for index in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / SECONDS


def served_rate(members: int, protocol: str = "gateway") -> float:
    server = GatewayServer(("127.0.0.1", 0), make_backend(members))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        return gateway_rate((server.url,), protocol)
    finally:
        server.close()
        thread.join(timeout=5)


def main() -> None:
    print(f"impl/etcd apply: {apply_rate():,.0f} requests/s")
    for protocol in ("gateway", "grpc"):
        for members in (0, 3):
            rate = served_rate(members, protocol)
            print(
                f"serve etcd --members {members}, {protocol}: {rate:,.0f} requests/s "
                f"({CLIENTS} clients)"
            )
    with LocalEtcdCluster(3) as cluster:
        for protocol in ("gateway", "grpc"):
            rate = gateway_rate(cluster.endpoints, protocol)
            print(f"real etcd, 3 members, {protocol}: {rate:,.0f} requests/s")


if __name__ == "__main__":
    main()
