"""Node registration, NodeStatus and Lease heartbeats, with the v1.35 defaults."""

from __future__ import annotations

from models.kubelet.config import KubeletConfig
from models.kubelet.events import RegisterNode, RenewLease, UpdateNodeStatus
from tests.kubelet.harness import T0, Harness


def test_registers_then_renews_the_lease_every_ten_seconds() -> None:
    harness = Harness()
    register = harness.of_type(RegisterNode)
    assert len(register) == 1
    node = register[0].node
    assert node.meta.name == "node-0"
    assert dict(node.meta.labels or {})["kubernetes.io/hostname"] == "node-0"
    harness.run(60)
    leases = harness.of_type(RenewLease)
    # renewed at 0, 10, ..., 60 s: a quarter of nodeLeaseDurationSeconds (40 s)
    assert [lease.lease.spec.renew_time for lease in leases if lease.lease.spec] == [
        f"2027-01-15T08:00:{s:02d}.000000Z" if s < 60 else "2027-01-15T08:01:00.000000Z"
        for s in range(0, 61, 10)
    ]
    spec = leases[0].lease.spec
    assert spec is not None
    assert spec.lease_duration_seconds == 40
    assert spec.holder_identity == "node-0"
    metadata = leases[-1].lease.metadata
    owners = (metadata.owner_references if metadata else None) or ()
    assert [(o.kind, o.name, o.uid) for o in owners] == [("Node", "node-0", "node-uid")]


def test_status_is_posted_on_change_and_every_five_minutes() -> None:
    harness = Harness()
    harness.run(601)
    posted = list(harness.of_type(UpdateNodeStatus))
    times = []
    for update in posted:
        ready = next(c for c in update.status.conditions or () if c.type == "Ready")
        times.append(ready.last_heartbeat_time)
    # nothing changes: only the report frequency posts (0 s, 300 s, 600 s)
    assert times == ["2027-01-15T08:00:00Z", "2027-01-15T08:05:00Z", "2027-01-15T08:10:00Z"]


def test_node_status_fields() -> None:
    config = KubeletConfig(node_name="node-0", reserved_cpu_millis=500)
    harness = Harness(config)
    status = harness.of_type(UpdateNodeStatus)[0].status
    capacity = {k: str(v) for k, v in (status.capacity or {}).items()}
    allocatable = {k: str(v) for k, v in (status.allocatable or {}).items()}
    assert capacity == {"cpu": "4", "memory": "8Gi", "ephemeral-storage": "100Gi", "pods": "110"}
    # allocatable = capacity - reserved - hard eviction (100Mi memory, 10% nodefs)
    assert allocatable == {
        "cpu": "3500m",
        "memory": f"{8 * 1024 - 100}Mi",
        "ephemeral-storage": "90Gi",
        "pods": "110",
    }
    conditions = [(c.type, c.status, c.reason) for c in status.conditions or ()]
    assert conditions == [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID"),
        ("Ready", "True", "KubeletReady"),
    ]
    assert [(a.type, a.address) for a in status.addresses or ()] == [
        ("InternalIP", "127.0.0.1"),
        ("Hostname", "node-0"),
    ]
    assert status.node_info is not None
    assert status.node_info.kubelet_version == "v1.35.0"
    endpoint = status.daemon_endpoints.kubelet_endpoint if status.daemon_endpoints else None
    assert endpoint is not None
    assert endpoint.port == 10250


def test_failed_lease_renewal_is_retried_on_the_next_tick() -> None:
    harness = Harness(answer=500)
    # registration is refused: it is retried a second later until accepted
    harness.run(3)
    assert len(harness.of_type(RegisterNode)) == 4
    assert not harness.state.registered
    harness.answer = 200
    harness.run(1)
    assert harness.state.registered
    harness.answer = 500
    harness.run(10)
    tried = len(harness.of_type(RenewLease))
    harness.run(1)
    assert len(harness.of_type(RenewLease)) == tried + 1
    assert harness.state.lease_renewed_ms == T0 + 4000
