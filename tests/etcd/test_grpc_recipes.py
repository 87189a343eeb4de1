"""``serve etcd``'s v3lock and v3election services (the recipes of impl/etcd/recipes run in the
server): a contended lock waits until the holder unlocks, an election's leader proclaims and
resigns, and refusals are etcd's (Unknown with etcd's message)."""

import grpc
import pytest

from runner.etcd.etcdpb import v3election_pb2, v3election_pb2_grpc
from tests.etcd.grpc_client import served
from tests.etcd.recipe_script import run_script

HEADER = "header {   cluster_id: <id>   member_id: <id>   revision: {}   raft_term: <id> }"


def header(revision: int) -> str:
    return HEADER.replace("{}", str(revision))


def test_lock_and_election_script_on_the_reference() -> None:
    with served(members=3) as stubs:
        host_port = stubs.url.removeprefix("http://")
        lines = run_script(host_port)
    expected = {
        # keys L/101 at revision 2, L/102 at 3 (it waits), unlock 1 at 4 wakes it
        "lock 1": f'{header(2)} key: "L/101"',
        "lock 2 while 1 holds": "still waiting",
        "unlock 1": header(4),
        "lock 2 after unlock 1": f'{header(4)} key: "L/102"',
        "lock on an unknown lease": "UNKNOWN etcdserver: requested lease not found",
        "leader of nothing": "UNKNOWN election: no leader",
        "proclaim with a stale revision": "UNKNOWN election: not leader",
        "resign": header(7),
        "proclaim without a leader": 'UNKNOWN "leader" field must be provided',
        "leader after resign": "UNKNOWN election: no leader",
    }
    answers = dict(line.split(": ", 1) for line in lines)
    for name, answer in expected.items():
        assert answers[name] == answer, name
    assert 'value: "alice-2"' in answers["leader after proclaim"]


def test_observe_is_not_served() -> None:
    with served() as stubs:
        stream = v3election_pb2_grpc.ElectionStub(stubs.channel).Observe(
            v3election_pb2.LeaderRequest(name=b"E"), timeout=5
        )
        with pytest.raises(grpc.RpcError) as refused:
            next(stream)
        assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert "Observe is not served" in str(refused.value.details())
