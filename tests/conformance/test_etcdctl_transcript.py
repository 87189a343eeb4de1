"""etcdctl 3.4 (Debian's etcd-client) gives the same output against ``serve etcd`` over gRPC as
against real etcd 3.4.23: the same transcript runs on both, and only server-chosen IDs (lease,
member and cluster IDs, Raft terms and indexes, database sizes) are masked. Revisions are not
masked: the workload is deterministic, so they must match too."""

import pytest

from tests.conformance.conftest import reference_gateway_running
from tests.etcd.etcdctl import transcript

pytestmark = pytest.mark.conformance


def test_etcdctl_transcript_matches_real_etcd(real_etcd_member: str) -> None:
    real = transcript(real_etcd_member)
    with reference_gateway_running(members=1) as url:
        reference = transcript(url)
    assert reference == real
    # Not vacuous: the commands did what they are for (on both servers, as they are equal).
    expected = [
        "$ etcdctl put foo bar  -> exit 0",
        "lease <lease-1> keepalived with TTL(60)",
        "lease <lease-1> revoked",
        "Error: etcdserver: mvcc: required revision has been compacted",
        "Error: etcdserver: key is not provided",
        "held",
        "myelection/<lease>",
        "endpoint status version: 3.4.23",
        "FAILURE",
    ]
    for line in expected:
        assert line in reference
    assert any('"succeeded": true' in line for line in reference)
    assert not any(" -> exit 1" in line and "put foo" in line for line in reference)
