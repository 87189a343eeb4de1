"""etcd's auth over the JSON gateway (``/v3/auth/*``, the token in ``Authorization``) and
``/v3/election/observe`` answer one script exactly as real etcd 3.4.23 does: statuses and
bodies, revisions included; cluster and member IDs, Raft terms and tokens masked."""

import pytest

from tests.conformance.conftest import reference_gateway_running
from tests.etcd.auth_gateway_script import run_auth_gateway_script, run_observe_script

pytestmark = pytest.mark.conformance


def test_auth_gateway_answers_match_real_etcd(real_etcd_member: str) -> None:
    real = run_auth_gateway_script(real_etcd_member)
    with reference_gateway_running(members=3) as url:
        reference = run_auth_gateway_script(url)
    assert reference == real
    assert "/v3/kv/put 401 " in "\n".join(reference)
    assert any(line.startswith("/v3/kv/put 403 ") for line in reference)
    assert any(line.startswith("/v3/auth/authenticate 200 ") for line in reference)
    assert any(line.startswith("/v3/kv/range (password changed) 401 ") for line in reference)


def test_election_observe_over_the_gateway_matches_real_etcd(real_etcd_member: str) -> None:
    real = run_observe_script(real_etcd_member)
    with reference_gateway_running(members=1) as url:
        reference = run_observe_script(url)
    assert reference == real
    observed = [line for line in reference if line.startswith('observed: {"result"')]
    assert len(observed) == 3
    assert '"value":"Yw=="' in observed[2]  # the second leader's value, "c"
