"""Fixtures that start real systems (the etcd binary on PATH) and the reference gateway.

Every process and server started here is stopped in a ``finally``; a missing etcd binary fails
the tests (it is installed by ./scripts/test), it never skips them.
"""

import contextlib
from collections.abc import Iterator

import pytest

from runner.etcd.backend import make_backend
from runner.etcd.cluster import LocalEtcdCluster
from runner.etcd.server import GatewayServer, start_in_thread


@pytest.fixture
def real_etcd_member() -> Iterator[str]:
    """One fresh real etcd member; yields its client URL."""
    cluster = LocalEtcdCluster(1)
    try:
        cluster.start()
        yield cluster.endpoints[0]
    finally:
        cluster.stop()


@contextlib.contextmanager
def reference_gateway_running(members: int = 0) -> Iterator[str]:
    """The reference etcd served in-process on a free loopback port (``members`` Raft
    members, 0: one member without Raft); yields its URL."""
    server = GatewayServer(("127.0.0.1", 0), make_backend(members))
    thread = start_in_thread(server)
    try:
        yield server.url
    finally:
        server.close()
        thread.join(timeout=5)


@pytest.fixture
def reference_gateway() -> Iterator[str]:
    """The reference etcd (one member without Raft) on a free loopback port; yields its URL."""
    with reference_gateway_running() as url:
        yield url


@pytest.fixture
def reference_raft_gateway() -> Iterator[str]:
    """The reference etcd as three Raft members on a free loopback port; yields its URL."""
    with reference_gateway_running(3) as url:
        yield url
