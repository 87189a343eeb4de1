"""The reconstructed cluster is judged by spec.raft too: the mapping of the validator's views to
``ClusterObservation`` is faithful enough that spec.raft accepts a consistent trace and rejects
two leaders of one term."""

from __future__ import annotations

import msgspec
from immutables import Map

from spec.raft import RaftHistory
from spec.raft_validation.cluster import check_cluster, cluster_observation, node_numbers
from spec.raft_validation.node_view import NodeView, with_appended


def leader(node: str, term: int) -> NodeView:
    view = NodeView(node=node, term=term, vote=node, role="leader", voters=frozenset("123"))
    return with_appended(view, ((1, "normal"), (term, "normal")), 0)


def test_node_numbers() -> None:
    assert node_numbers(["2", "10"]) == {"2": 2, "10": 10}
    assert node_numbers(["b", "a"]) == {"a": 1, "b": 2}


def test_observation_shows_known_entries_after_an_unknown_prefix() -> None:
    view = with_appended(NodeView(node="1", term=2), ((-1, "unknown"), (1, "normal")), 0)
    observation = cluster_observation(Map({"1": (view,)}))
    node = observation.nodes[0]
    assert node.snapshot.index == 1
    assert [(entry.index, entry.term) for entry in node.log] == [(2, 1)]


def test_one_leader_is_fine_and_two_in_a_term_are_not() -> None:
    one = Map({"1": (leader("1", 2),), "2": (NodeView(node="2", term=2),)})
    history, violations = check_cluster(RaftHistory(), one)
    assert violations == ()
    two = one.set("2", (msgspec.structs.replace(leader("2", 2), vote="2"),))
    _, violations = check_cluster(history, two)
    assert "election_safety" in {violation.property_name for violation in violations}
