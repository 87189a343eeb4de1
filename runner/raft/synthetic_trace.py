"""A long, consistent Raft trace in etcd-io/raft's trace format, for benchmarks and tests.

``synthetic_etcd_trace(target_events, node_count, seed)`` plays a small, correct Raft cluster the
way etcd-io/raft traces it (``state_trace.go``): elections (BecomeCandidate, MsgVote and
MsgVoteResp, BecomeLeader and the leader's empty entry), replication rounds (Replicate, MsgApp,
MsgAppResp, Commit), heartbeats and Ready after every step, and leaders stepping down so that
terms advance. Every message sent is delivered once. The seed decides the order in which
followers handle a round and how many entries each round proposes.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field


@dataclass
class SimulatedNode:
    """One node of the synthetic cluster (mutable: this is a generator, not a reference)."""

    node: int
    term: int = 1
    vote: int = 0
    commit: int = 0
    role: str = "StateFollower"
    log: list[int] = field(default_factory=list)
    match: dict[int, int] = field(default_factory=dict)


@dataclass
class SyntheticCluster:
    """The cluster and the lines emitted so far."""

    nodes: dict[int, SimulatedNode]
    rng: random.Random
    lines: list[str] = field(default_factory=list)
    clock: float = 1_700_000_000.0

    def voters(self) -> list[str]:
        return [str(node) for node in sorted(self.nodes)]

    def emit(
        self,
        name: str,
        node: SimulatedNode,
        message: dict[str, object] | None = None,
        *,
        vote: int | None = None,
    ) -> None:
        """One trace line with ``node``'s current state (``vote`` overrides the shown vote)."""
        self.clock += 0.0001
        event: dict[str, object] = {
            "name": name,
            "nid": str(node.node),
            "state": {
                "term": node.term,
                "vote": str(node.vote if vote is None else vote),
                "commit": node.commit,
            },
            "role": node.role,
            "log": len(node.log),
            "conf": [self.voters(), []],
        }
        if message is not None:
            event["msg"] = message
        record = {"level": "debug", "ts": round(self.clock, 4), "tag": "trace", "event": event}
        self.lines.append(json.dumps(record, separators=(",", ":")))


def message(
    kind: str, term: int, source: int, destination: int, **fields: object
) -> dict[str, object]:
    """An etcd ``msg`` object with defaults for the fields not given."""
    body: dict[str, object] = {
        "type": kind,
        "term": term,
        "from": str(source),
        "to": str(destination),
        "entries": 0,
        "logTerm": 0,
        "index": 0,
        "commit": 0,
        "vote": "0",
        "reject": False,
        "rejectHint": 0,
    }
    body.update(fields)
    return body


def last_term(node: SimulatedNode) -> int:
    return node.log[-1] if node.log else 0


def elect(cluster: SyntheticCluster, candidate: SimulatedNode) -> None:
    """``candidate`` campaigns and wins (every log is equal when it starts)."""
    candidate.term += 1
    candidate.vote = candidate.node
    candidate.role = "StateCandidate"
    cluster.emit("BecomeCandidate", candidate)
    others = [node for key, node in sorted(cluster.nodes.items()) if key != candidate.node]
    request = {"logTerm": last_term(candidate), "index": len(candidate.log)}
    for other in others:
        sent = message("MsgVote", candidate.term, candidate.node, other.node, **request)
        cluster.emit("SendRequestVoteRequest", candidate, sent)
    own = message("MsgVoteResp", candidate.term, candidate.node, candidate.node)
    cluster.emit("SendRequestVoteResponse", candidate, own)
    cluster.emit("Ready", candidate)
    cluster.emit("ReceiveRequestVoteResponse", candidate, own)
    granted = 1
    if 2 * granted > len(cluster.nodes):
        become_leader(cluster, candidate)  # a single-node cluster elects itself
    for other in others:
        sent = message("MsgVote", candidate.term, candidate.node, other.node, **request)
        cluster.emit("ReceiveRequestVoteRequest", other, sent)
        if candidate.term > other.term:
            other.term, other.vote, other.role = candidate.term, 0, "StateFollower"
            cluster.emit("BecomeFollower", other)
        reply = message("MsgVoteResp", candidate.term, other.node, candidate.node)
        cluster.emit("SendRequestVoteResponse", other, reply)
        other.vote = candidate.node
        cluster.emit("Ready", other)
        cluster.emit("ReceiveRequestVoteResponse", candidate, reply)
        granted += 1
        if candidate.role == "StateCandidate" and 2 * granted > len(cluster.nodes):
            become_leader(cluster, candidate)


def become_leader(cluster: SyntheticCluster, leader: SimulatedNode) -> None:
    """The candidate wins and appends its empty entry."""
    leader.role = "StateLeader"
    leader.match = dict.fromkeys(cluster.nodes, 0)
    leader.match[leader.node] = len(leader.log)
    cluster.emit("BecomeLeader", leader)


def replicate(cluster: SyntheticCluster, leader: SimulatedNode, count: int) -> None:
    """One round: ``count`` new entries, sent to every follower, acknowledged, committed."""
    followers = [node for key, node in sorted(cluster.nodes.items()) if key != leader.node]
    sent_from = {follower.node: len(follower.log) for follower in followers}
    for _ in range(count):
        cluster.emit("Replicate", leader)
        leader.log.append(leader.term)
        own = message("MsgAppResp", leader.term, leader.node, leader.node, index=len(leader.log))
        cluster.emit("SendAppendEntriesResponse", leader, own)
    requests = {}
    for follower in followers:
        prev = sent_from[follower.node]
        requests[follower.node] = message(
            "MsgApp",
            leader.term,
            leader.node,
            follower.node,
            logTerm=leader.log[prev - 1] if prev else 0,
            index=prev,
            entries=len(leader.log) - prev,
            commit=leader.commit,
        )
        cluster.emit("SendAppendEntriesRequest", leader, requests[follower.node])
    cluster.emit("Ready", leader)
    own = message("MsgAppResp", leader.term, leader.node, leader.node, index=len(leader.log))
    cluster.emit("ReceiveAppendEntriesResponse", leader, own)
    leader.match[leader.node] = len(leader.log)
    maybe_commit(cluster, leader)
    cluster.rng.shuffle(followers)
    for follower in followers:
        request = requests[follower.node]
        cluster.emit("ReceiveAppendEntriesRequest", follower, request)
        prev = sent_from[follower.node]
        follower.log = follower.log[:prev] + leader.log[prev:]
        follower.commit = max(follower.commit, min(int(str(request["commit"])), len(follower.log)))
        reply = message(
            "MsgAppResp", leader.term, follower.node, leader.node, index=len(leader.log)
        )
        cluster.emit("SendAppendEntriesResponse", follower, reply)
        cluster.emit("Ready", follower)
        cluster.emit("ReceiveAppendEntriesResponse", leader, reply)
        leader.match[follower.node] = len(leader.log)
        maybe_commit(cluster, leader)


def maybe_commit(cluster: SyntheticCluster, leader: SimulatedNode) -> None:
    """The leader's maybeCommit: the quorum index, if its entry is of the current term."""
    matched = sorted(leader.match.values(), reverse=True)
    quorum = matched[len(cluster.nodes) // 2]
    if quorum > leader.commit and leader.log[quorum - 1] == leader.term:
        leader.commit = quorum
    cluster.emit("Commit", leader)


def heartbeat(cluster: SyntheticCluster, leader: SimulatedNode) -> None:
    """Heartbeats carrying min(commit, match) to every follower, and their responses."""
    for key, follower in sorted(cluster.nodes.items()):
        if key == leader.node:
            continue
        commit = min(leader.commit, leader.match[key])
        beat = message("MsgHeartbeat", leader.term, leader.node, key, commit=commit)
        cluster.emit("SendAppendEntriesRequest", leader, beat)
        cluster.emit("ReceiveAppendEntriesRequest", follower, beat)
        follower.commit = max(follower.commit, min(commit, len(follower.log)))
        reply = message("MsgHeartbeatResp", leader.term, key, leader.node)
        cluster.emit("SendAppendEntriesResponse", follower, reply)
        cluster.emit("Ready", follower)
        cluster.emit("ReceiveAppendEntriesResponse", leader, reply)


def synthetic_etcd_trace(target_events: int, node_count: int = 3, seed: int = 1) -> list[str]:
    """At least ``target_events`` lines of a consistent etcd-raft trace."""
    rng = random.Random(seed)
    cluster = SyntheticCluster(
        nodes={key: SimulatedNode(node=key) for key in range(1, node_count + 1)}, rng=rng
    )
    for node in cluster.nodes.values():
        cluster.emit("InitState", node)
    leader = cluster.nodes[1]
    while len(cluster.lines) < target_events:
        elect(cluster, leader)
        replicate(cluster, leader, 1)  # the leader's empty entry
        for _ in range(rng.randint(5, 40)):
            replicate(cluster, leader, rng.randint(1, 4))
            heartbeat(cluster, leader)
        leader.role = "StateFollower"
        cluster.emit("BecomeFollower", leader)
        leader = cluster.nodes[rng.choice(sorted(cluster.nodes))]
    return cluster.lines
