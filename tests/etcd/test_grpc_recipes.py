"""``serve etcd``'s v3lock and v3election services (the recipes of impl/etcd/recipes run in the
server): a contended lock waits until the holder unlocks, an election's leader proclaims and
resigns, and refusals are etcd's (Unknown with etcd's message)."""

from tests.etcd.grpc_client import served
from tests.etcd.recipe_script import run_gateway_script, run_script

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


def test_observe_follows_values_and_the_next_leader() -> None:
    with served() as stubs:
        lines = run_script(stubs.url.removeprefix("http://"))
    observed = [line for line in lines if line.startswith("observed: ")]
    # O/101 put at 8 (first leader "a"), proclaimed "b" at 9; O/102 created at 10 waits;
    # O/101 resigned at 11: the observer reports O/102 at the header revision 11.
    assert len(observed) == 3
    assert f'{header(8)} kv {{   key: "O/101"' in observed[0]
    assert 'value: "b"' in observed[1]
    assert header(9) in observed[1]
    assert f'{header(11)} kv {{   key: "O/102"   create_revision: 10' in observed[2]


def test_lock_and_election_routes_of_the_gateway() -> None:
    with served() as stubs:
        lines = run_gateway_script(stubs.url)
    answers = [line.split(" ", 2) for line in lines]
    assert [status for _, status, _ in answers] == [
        "200", "200", "500", "200", "200", "500", "200", "500", "200", "200", "400", "400",
    ]  # fmt: skip
    assert answers[1][2].endswith('"key":"TC8xMDE="}')  # L/101
    assert '"leader":{"name":"RQ==","key":"RS8xMDE=","rev":"3","lease":"257"}' in answers[3][2]
    assert '"code":2' in answers[5][2]
    assert "election: no leader" in answers[5][2]
