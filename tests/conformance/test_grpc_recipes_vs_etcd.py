"""``serve etcd``'s v3lock and v3election services answer one script exactly as real etcd
3.4.23 does (cluster and member IDs and Raft terms masked; revisions, keys, values and error
codes and messages compared)."""

import pytest

from tests.conformance.conftest import reference_gateway_running
from tests.etcd.recipe_script import run_gateway_script, run_script

pytestmark = pytest.mark.conformance


def test_lock_and_election_answers_match_real_etcd(real_etcd_member: str) -> None:
    real = run_script(real_etcd_member.removeprefix("http://"))
    with reference_gateway_running(members=1) as url:
        reference = run_script(url.removeprefix("http://"))
    assert reference == real
    assert any(line.startswith("lock 2 after unlock 1: header") for line in reference)


def test_lock_and_election_gateway_routes_match_real_etcd(real_etcd_member: str) -> None:
    real = run_gateway_script(real_etcd_member)
    with reference_gateway_running(members=1) as url:
        reference = run_gateway_script(url)
    assert reference == real
    assert reference[1].startswith("/v3/lock/lock 200 ")
