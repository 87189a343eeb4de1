"""The lock and election recipes (impl/etcd/recipes) on impl/etcd, and their spec: queue order
by create revision, a waiter watching the key just before its own, two believed holders after a
pause longer than the TTL (Jepsen's etcd 3.4 result), and fencing restoring safety."""

from __future__ import annotations

from collections import deque

from impl.etcd.recipes import election, lock, observe
from impl.etcd.recipes.fenced import write
from impl.etcd.recipes.queue import key_for
from models.etcd import RangeResponse
from models.etcd_recipes import (
    LockObservation,
    ResourceObservation,
    ResourceWrite,
    SendRequest,
)
from spec.etcd import recipes as spec
from tests.etcd.recipe_world import World

PREFIX = b"mylock"
TTL_SECONDS = 2


def three_clients() -> World:
    world = World()
    for client in (1, 2, 3):
        world.grant(client, lease=0x100 + client, ttl_seconds=TTL_SECONDS)
    return world


def test_keys_are_prefix_slash_lease_in_hex() -> None:
    assert key_for(b"mylock", 0x3B451FCA7410A2D5) == b"mylock/3b451fca7410a2d5"
    assert key_for(b"e", 0xB99860BB4561F13) == b"e/b99860bb4561f13"  # no zero padding
    first = lock.lock(b"mylock", 0x15).commands[0]
    assert isinstance(first, SendRequest)
    assert first.request == lock.acquire_request(b"mylock", 0x15)


def test_clients_hold_the_lock_in_create_revision_order() -> None:
    world = three_clients()
    world.start(1, lock.lock(PREFIX, 0x101))
    world.start(2, lock.lock(PREFIX, 0x102))
    world.start(3, lock.lock(PREFIX, 0x103))
    # Keys created at revisions 2, 3, 4: client 1 holds, 2 waits for 1's key, 3 for 2's.
    assert world.held == {1: 2}
    assert world.clients[2].phase == "waiting"
    assert world.clients[2].waiting_for == b"mylock/101"
    assert world.clients[3].waiting_for == b"mylock/102"
    world.act(1, lock.unlock)  # revision 5
    assert world.held == {2: 3}
    assert world.clients[1].phase == "released"
    assert world.clients[3].waiting_for == b"mylock/102"
    world.act(2, lock.unlock)
    assert world.held == {3: 4}
    assert spec.MUTUAL_EXCLUSION.holds(world.observe())
    assert spec.UNCONDITIONAL_MUTUAL_EXCLUSION.holds(world.observe())


def test_a_waiter_whose_predecessor_leaves_watches_the_next_one() -> None:
    world = three_clients()
    world.start(1, lock.lock(PREFIX, 0x101))
    world.start(2, lock.lock(PREFIX, 0x102))
    world.start(3, lock.lock(PREFIX, 0x103))
    world.act(2, lock.unlock)  # 2 gives up while waiting: 3 now waits for 1
    assert world.clients[3].phase == "waiting"
    assert world.clients[3].waiting_for == b"mylock/101"
    assert world.held == {1: 2}
    world.act(1, lock.unlock)
    assert world.held == {3: 4}


def test_relocking_with_the_same_lease_reuses_the_key() -> None:
    world = three_clients()
    world.start(1, lock.lock(PREFIX, 0x101))
    world.start(1, lock.lock(PREFIX, 0x101))
    assert world.held == {1: 2}
    assert world.etcd.revision == 2  # the second attempt found the key and wrote nothing


def test_pause_longer_than_the_ttl_gives_two_holders_and_fencing_keeps_order() -> None:
    world = three_clients()
    world.start(1, lock.lock(PREFIX, 0x101))
    world.start(2, lock.lock(PREFIX, 0x102))
    token_1 = world.held[1]
    world.pause(1)  # e.g. a long GC pause or SIGSTOP: no keepalives, no events
    for _ in range(4):
        world.advance(1000)  # 4 s > TTL: etcd revokes lease 0x101 and deletes mylock/101
    world.resume(1)
    observation = world.observe()
    assert sorted(world.held) == [1, 2]
    token_2 = world.held[2]
    assert token_2 > token_1
    assert 0x101 not in observation.live_leases
    assert spec.MUTUAL_EXCLUSION.holds(observation)  # the guarantee, with its precondition
    assert not spec.UNCONDITIONAL_MUTUAL_EXCLUSION.holds(observation)
    assert spec.TWO_BELIEVED_HOLDERS.holds(observation)
    violation = spec.explain_holders(observation)
    assert violation is not None
    assert violation.property_name == "lock_mutual_exclusion_unconditional"
    assert violation.nodes == (1, 2)
    assert "expired (revoked)" in violation.reason
    assert "fencing" in violation.reason
    # Both holders write; the paused one writes last, with its older token.
    unfenced = ResourceObservation()
    fenced = ResourceObservation()
    for client, token in ((2, token_2), (1, token_1)):
        unfenced, _ = write(unfenced, ResourceWrite(client=client, token=token), fenced=False)
        fenced, _ = write(fenced, ResourceWrite(client=client, token=token), fenced=True)
    assert not spec.FENCED_WRITES_IN_TOKEN_ORDER.holds(unfenced)
    assert spec.FENCED_WRITES_IN_TOKEN_ORDER.holds(fenced)
    assert spec.STALE_WRITE_REFUSED.holds(fenced)
    assert fenced.refused == (ResourceWrite(client=1, token=token_1),)


def test_without_pauses_leases_stay_alive_and_there_is_one_holder() -> None:
    world = three_clients()
    world.start(1, lock.lock(PREFIX, 0x101))
    world.start(2, lock.lock(PREFIX, 0x102))
    for _ in range(10):
        world.advance(1000)
        observation = world.observe()
        assert spec.UNCONDITIONAL_MUTUAL_EXCLUSION.holds(observation)
    assert world.held == {1: 2}


def test_a_holder_that_has_not_paused_is_never_joined_by_a_live_second_holder() -> None:
    observation = LockObservation(holders=(), live_leases=frozenset({1}))
    assert spec.MUTUAL_EXCLUSION.holds(observation)
    assert spec.explain_holders(observation) is None


def test_election_leader_proclaims_resigns_and_the_next_candidate_leads() -> None:
    world = three_clients()
    world.start(1, election.campaign(b"e", 0x101, b"alice"))
    world.start(2, election.campaign(b"e", 0x102, b"bob"))
    assert world.held == {1: 2}
    leader = world.apply(election.leader_request(b"e"))
    assert isinstance(leader, RangeResponse)
    found = election.leader(leader)
    assert found is not None
    assert (found.key, found.value) == (b"e/101", b"alice")
    world.act(1, lambda state: election.proclaim(state, b"alice-2"))
    assert world.clients[1].phase == "held"
    assert world.etcd.revision == 4
    world.act(1, election.resign)
    assert world.held == {2: 3}
    assert spec.SINGLE_LEADER.holds(world.observe())


def test_election_campaign_with_an_existing_key_proclaims_the_new_value() -> None:
    world = three_clients()
    world.start(1, election.campaign(b"e", 0x101, b"old"))
    world.start(1, election.campaign(b"e", 0x101, b"new"))
    assert world.held == {1: 2}
    leader = world.apply(election.leader_request(b"e"))
    assert isinstance(leader, RangeResponse)
    assert [kv.value for kv in leader.kvs] == [b"new"]


def test_a_leader_whose_lease_expired_learns_it_no_longer_leads() -> None:
    world = three_clients()
    world.start(1, election.campaign(b"e", 0x101, b"alice"))
    world.start(2, election.campaign(b"e", 0x102, b"bob"))
    world.pause(1)
    for _ in range(4):
        world.advance(1000)
    world.resume(1)
    assert sorted(world.held) == [1, 2]
    assert spec.SINGLE_LEADER.holds(world.observe())
    assert not spec.UNCONDITIONAL_SINGLE_LEADER.holds(world.observe())
    world.act(1, lambda state: election.proclaim(state, b"still me?"))
    assert world.failures[1] == "election: not leader"
    assert world.held == {2: 3}
    assert spec.UNCONDITIONAL_SINGLE_LEADER.holds(world.observe())


def test_an_observer_follows_the_leader_its_values_and_its_successor() -> None:
    world = three_clients()
    world.pending[9] = deque()
    world.start(9, observe.observe(b"e"))  # no leader yet: it watches the prefix
    assert world.clients[9].phase == "waiting"
    world.start(1, election.campaign(b"e", 0x101, b"alice"))  # revision 2
    world.act(1, lambda state: election.proclaim(state, b"alice-2"))  # revision 3
    world.start(2, election.campaign(b"e", 0x102, b"bob"))  # revision 4, waits
    world.act(1, election.resign)  # revision 5: bob leads
    seen = [(item.kv.key, item.kv.value, item.revision) for item in world.observed[9]]
    assert seen == [(b"e/101", b"alice", 2), (b"e/101", b"alice-2", 3), (b"e/102", b"bob", 5)]
