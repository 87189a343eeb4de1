"""etcd's auth through etcdctl 3.4 gives the same output against ``serve etcd`` (three Raft
members) as against real etcd 3.4.23: users, roles, permissions on keys, prefixes, ranges and
``--from-key``, requests allowed and denied (KV, txn compares and branches, watch, lock, lease
revoke, admin requests), tokens invalidated by password changes and user deletion, the root
user's protections, auth enable and disable (``tests/etcd/etcdctl_auth.py``)."""

import pytest

from tests.conformance.conftest import reference_gateway_running
from tests.etcd.etcdctl_auth import auth_transcript

pytestmark = pytest.mark.conformance


def test_etcdctl_auth_transcript_matches_real_etcd(real_etcd_member: str) -> None:
    real = auth_transcript(real_etcd_member)
    with reference_gateway_running(members=3) as url:
        reference = auth_transcript(url)
    assert reference == real
    # Not vacuous: each kind of answer appears (on both servers, as they are equal).
    expected = [
        "Error: etcdserver: root user does not exist",
        "Error: etcdserver: user name already exists",
        "Error: etcdserver: role name not found",
        "Error: etcdserver: user name is empty",
        "Error: etcdserver: authentication failed, invalid user ID or password",
        "Error: etcdserver: permission denied",
        "Error: etcdserver: invalid auth management",
        "Error: etcdserver: permission is not granted to the role",
        "Error: etcdserver: role is not granted to the user",
        "Error: watch is canceled by the server",
        "Error: rpc error: code = Unknown desc = auth: authentication failed, password was "
        "given for no password user",
        "Authentication Enabled",
        "Authentication Disabled",
        "\t[pre/, pre0) (prefix pre/)",
        "\t[y, <open ended>",
        "\t[w1, w3)",
        "held",
    ]
    for line in expected:
        assert line in reference, line
    allowed = reference.index("$ etcdctl --user=alice:apw get --prefix pre/  -> exit 0")
    assert reference[allowed + 1 : allowed + 3] == ["pre/a", "1"]
    denied = reference.index("$ etcdctl --user=alice:apw put a x  -> exit 1")
    assert reference[denied + 1] == "Error: etcdserver: permission denied"
