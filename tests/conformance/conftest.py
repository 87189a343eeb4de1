"""Fixtures that start real systems (the etcd binary on PATH) and the reference gateway.

Every process and server started here is stopped in a ``finally``; a missing etcd binary fails
the tests (it is installed by ./scripts/test), it never skips them.
"""

import threading
from collections.abc import Iterator

import pytest

from runner.etcd.backend import SingleMemberBackend
from runner.etcd.cluster import LocalEtcdCluster
from runner.etcd.gateway import GatewayServer


@pytest.fixture
def real_etcd_member() -> Iterator[str]:
    """One fresh real etcd member; yields its client URL."""
    cluster = LocalEtcdCluster(1)
    try:
        cluster.start()
        yield cluster.endpoints[0]
    finally:
        cluster.stop()


@pytest.fixture
def reference_gateway() -> Iterator[str]:
    """The reference etcd served in-process on a free loopback port; yields its URL."""
    server = GatewayServer(("127.0.0.1", 0), SingleMemberBackend())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.close()
        thread.join(timeout=5)
