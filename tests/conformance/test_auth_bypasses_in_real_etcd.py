"""Four ways around etcd 3.4.23's permission checks, reproduced on Debian's etcd 3.4.23, and
refused by the reference (``tests/etcd/auth_bypass_probe.py``): a write hidden in a nested
txn, a read through a txn put's ``prev_kv`` by a user who may only write the key, a lease
time-to-live listing keys the user may not read, and a watch on every key from a key the user
may read (``--from-key``)."""

import pytest

from tests.conformance.conftest import reference_gateway_running
from tests.etcd.auth_bypass_probe import probe, watch_refusals

pytestmark = pytest.mark.conformance


def test_real_etcd_lets_four_requests_through(real_etcd_member: str) -> None:
    assert probe(real_etcd_member.removeprefix("http://")) == [
        "nested txn put z: succeeded=True",
        "txn put w prev_kv: previous value b'secret'",
        "lease timetolive --keys: keys [b'z-leased']",
        "watch from key a: created=True canceled=False reason=''",
    ]


def test_the_reference_refuses_all_four() -> None:
    with reference_gateway_running(members=1) as url:
        lines = probe(url.removeprefix("http://"))
    assert lines == [
        "nested txn put z: PERMISSION_DENIED etcdserver: permission denied",
        "txn put w prev_kv: PERMISSION_DENIED etcdserver: permission denied",
        "lease timetolive --keys: PERMISSION_DENIED etcdserver: permission denied",
        "watch from key a: created=True canceled=True "
        "reason='rpc error: code = PermissionDenied desc = etcdserver: permission denied'",
    ]


def test_refused_watches_are_answered_as_real_etcd_answers_them(real_etcd_member: str) -> None:
    """Not a bypass: a watch the caller may not make is created and cancelled at once, watch
    ID -1, with the gRPC error's Go text as the reason; identical on both (IDs masked)."""
    real = watch_refusals(real_etcd_member.removeprefix("http://"))
    with reference_gateway_running(members=1) as url:
        reference = watch_refusals(url.removeprefix("http://"))
    assert reference == real
    assert "code = PermissionDenied desc = etcdserver: permission denied" in reference[0]
    assert "code = InvalidArgument desc = etcdserver: user name is empty" in reference[1]
    assert "code = Unauthenticated desc = etcdserver: invalid auth token" in reference[2]
