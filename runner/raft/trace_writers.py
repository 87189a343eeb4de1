"""Writing exported node events (:mod:`runner.raft.trace_export`) as trace lines: kubeoracle's
Raft event format and etcd-io/raft's trace NDJSON.

In kubeoracle's format the state is attached to the last event of each node in each simulator
step (exactly the node's state afterwards), and messages carry every field (entry terms
included). In etcd's format every line carries the state etcd-io/raft would show with its
timing; the entry that leaves a joint configuration is not written, as etcd-io/raft does not
trace it.
"""

from __future__ import annotations

import json

import msgspec

from models.raft import (
    Message,
    MsgApp,
    MsgAppResp,
    MsgHeartbeat,
    MsgHeartbeatResp,
    MsgPreVote,
    MsgPreVoteResp,
    MsgSnap,
    MsgVote,
    MsgVoteResp,
)
from runner.raft.trace_export import BECOME, NodeEvent, Shown

ETCD_ROLE = {
    "follower": "StateFollower",
    "pre_candidate": "StatePreCandidate",
    "candidate": "StateCandidate",
    "leader": "StateLeader",
}
CHANGE_ACTIONS = {
    "add_node": "add_voter",
    "remove_node": "remove",
    "add_learner_node": "add_learner",
}
ETCD_CHANGE_ACTIONS = {
    "add_node": "AddNewServer",
    "remove_node": "RemoveServer",
    "add_learner_node": "AddLearner",
}
# ---------------------------------------------------------------------------------------------
# kubeoracle format


def kubeoracle_message(message: Message) -> dict[str, object]:
    """A message in kubeoracle's vocabulary, with every field the simulator knows."""
    base: dict[str, object] = {
        "source": str(message.from_id),
        "destination": str(message.to_id),
        "term": message.term,
    }
    if isinstance(message, MsgVote | MsgPreVote):
        kind = "vote_request" if isinstance(message, MsgVote) else "pre_vote_request"
        base |= {"last_log_index": message.last_log_index, "last_log_term": message.last_log_term}
    elif isinstance(message, MsgVoteResp | MsgPreVoteResp):
        kind = "vote_response" if isinstance(message, MsgVoteResp) else "pre_vote_response"
        base["granted"] = not message.reject
    elif isinstance(message, MsgApp):
        kind = "append_request"
        base |= {
            "prev_log_index": message.prev_log_index,
            "prev_log_term": message.prev_log_term,
            "entry_terms": [entry.term for entry in message.entries],
            "leader_commit": message.commit_index,
        }
    elif isinstance(message, MsgAppResp):
        kind = "append_response"
        base["success"] = not message.reject
        if not message.reject:
            base["match_index"] = message.index
    elif isinstance(message, MsgHeartbeat):
        kind = "heartbeat"
        base["leader_commit"] = message.commit_index
    elif isinstance(message, MsgHeartbeatResp):
        kind = "heartbeat_response"
    else:
        assert isinstance(message, MsgSnap)
        kind = "snapshot"
        metadata = message.snapshot.metadata
        base |= {"snapshot_index": metadata.index, "snapshot_term": metadata.term}
    return {"type": kind, **base}


def kubeoracle_state(shown: Shown) -> dict[str, object]:
    config: dict[str, object] = {"voters": [str(node) for node in shown.voters]}
    if shown.outgoing:
        config["outgoing_voters"] = [str(node) for node in shown.outgoing]
    return {
        "term": shown.term,
        "vote": str(shown.vote) if shown.vote else None,
        "role": shown.role,
        "commit_index": shown.commit,
        "last_log_index": shown.last_index,
        "last_log_term": shown.last_term,
        "config": config,
    }


def kubeoracle_record(event: NodeEvent) -> dict[str, object]:
    """One event line of kubeoracle's format."""
    record: dict[str, object] = {"kind": event.kind, "node": str(event.node), "time": event.step}
    if event.message is not None:
        record["message"] = kubeoracle_message(event.message)
    if event.entry is not None and event.entry.kind == "conf_change":
        change = event.entry.conf_change
        record["config_entry"] = True
        if change is not None:
            record["changes"] = [
                {"action": CHANGE_ACTIONS[item.type], "node": str(item.node_id)}
                for item in change.changes
            ]
    if event.kind == "commit":
        record["commit_index"] = event.shown.commit
    if event.kind == "apply_config":
        config: dict[str, object] = {"voters": [str(node) for node in event.voters_after]}
        if event.outgoing_after:
            config["outgoing_voters"] = [str(node) for node in event.outgoing_after]
        record["config"] = config
    if event.final is not None:
        record["state"] = kubeoracle_state(event.final)
    elif event.kind == "init":
        record["state"] = kubeoracle_state(event.shown)
    return record


def kubeoracle_lines(events: list[NodeEvent], description: str) -> list[str]:
    """The run as a kubeoracle Raft event file (header line first)."""
    nodes = sorted({str(event.node) for event in events}, key=int)
    header = {
        "format": "kubeoracle-raft-events",
        "version": 1,
        "nodes": nodes,
        "description": description,
    }
    lines = [json.dumps(header, sort_keys=True)]
    lines.extend(json.dumps(kubeoracle_record(event), sort_keys=True) for event in events)
    return lines


# ---------------------------------------------------------------------------------------------
# etcd-io/raft format

ETCD_NAMES = {
    ("receive", "MsgApp"): "ReceiveAppendEntriesRequest",
    ("receive", "MsgHeartbeat"): "ReceiveAppendEntriesRequest",
    ("receive", "MsgSnap"): "ReceiveAppendEntriesRequest",
    ("receive", "MsgAppResp"): "ReceiveAppendEntriesResponse",
    ("receive", "MsgHeartbeatResp"): "ReceiveAppendEntriesResponse",
    ("receive", "MsgVote"): "ReceiveRequestVoteRequest",
    ("receive", "MsgPreVote"): "ReceiveRequestVoteRequest",
    ("receive", "MsgVoteResp"): "ReceiveRequestVoteResponse",
    ("receive", "MsgPreVoteResp"): "ReceiveRequestVoteResponse",
    ("send", "MsgApp"): "SendAppendEntriesRequest",
    ("send", "MsgHeartbeat"): "SendAppendEntriesRequest",
    ("send", "MsgSnap"): "SendAppendEntriesRequest",
    ("send", "MsgAppResp"): "SendAppendEntriesResponse",
    ("send", "MsgHeartbeatResp"): "SendAppendEntriesResponse",
    ("send", "MsgVote"): "SendRequestVoteRequest",
    ("send", "MsgPreVote"): "SendRequestVoteRequest",
    ("send", "MsgVoteResp"): "SendRequestVoteResponse",
    ("send", "MsgPreVoteResp"): "SendRequestVoteResponse",
}


def etcd_message(message: Message) -> dict[str, object]:
    """A message as etcd-io/raft's trace logger writes it."""
    body: dict[str, object] = {
        "type": type(message).__name__,
        "term": message.term,
        "from": str(message.from_id),
        "to": str(message.to_id),
        "entries": 0,
        "logTerm": 0,
        "index": 0,
        "commit": 0,
        "vote": "0",
        "reject": False,
        "rejectHint": 0,
    }
    if isinstance(message, MsgVote | MsgPreVote):
        body |= {"index": message.last_log_index, "logTerm": message.last_log_term}
    elif isinstance(message, MsgVoteResp | MsgPreVoteResp):
        body["reject"] = message.reject
    elif isinstance(message, MsgApp):
        body |= {
            "index": message.prev_log_index,
            "logTerm": message.prev_log_term,
            "entries": len(message.entries),
            "commit": message.commit_index,
        }
    elif isinstance(message, MsgAppResp):
        body |= {
            "index": message.index,
            "reject": message.reject,
            "rejectHint": message.reject_hint,
            "logTerm": message.log_term,
        }
    elif isinstance(message, MsgHeartbeat):
        body["commit"] = message.commit_index
    elif isinstance(message, MsgSnap):
        body["entries"] = message.snapshot.metadata.index
    return body


def etcd_record(event: NodeEvent, time: float) -> dict[str, object] | None:
    """One etcd-io/raft trace line, or None for an event etcd does not trace."""
    shown = event.shown
    body: dict[str, object] = {
        "nid": str(event.node),
        "state": {"term": shown.term, "vote": str(shown.vote), "commit": shown.commit},
        "role": ETCD_ROLE[shown.role],
        "log": shown.last_index,
        "conf": [[str(node) for node in shown.voters], [str(node) for node in shown.outgoing]],
    }
    if event.kind in ("send", "receive"):
        assert event.message is not None
        body["name"] = ETCD_NAMES[(event.kind, type(event.message).__name__)]
        body["msg"] = etcd_message(event.message)
    elif event.kind == "append":
        entry = event.entry
        assert entry is not None
        if entry.kind == "conf_change" and entry.conf_change is not None:
            changes = [
                {"nid": str(item.node_id), "action": ETCD_CHANGE_ACTIONS[item.type]}
                for item in entry.conf_change.changes
            ]
            if not changes:
                return None  # etcd-io/raft traces neither Replicate nor ChangeConf for it
            body["name"] = "ChangeConf"
            body["prop"] = {"cc": {"changes": changes}}
        else:
            body["name"] = "Replicate"
    elif event.kind == "apply_config":
        body["name"] = "ApplyConfChange"
        body["prop"] = {"cc": {"newconf": [str(node) for node in event.voters_after]}}
    else:
        names = {"init": "InitState", "commit": "Commit", "persist": "Ready"}
        body["name"] = names.get(event.kind) or BECOME[event.kind.removeprefix("become_")]
    if body.get("prop") is None:
        body.pop("prop", None)
    return {"level": "debug", "ts": time, "msg": "trace", "tag": "trace", "event": body}


def etcd_lines(events: list[NodeEvent]) -> list[str]:
    """The run as etcd-io/raft trace NDJSON."""
    lines = []
    for position, event in enumerate(events):
        record = etcd_record(event, round(1.0 + position * 1e-4, 4))
        if record is not None:
            lines.append(msgspec.json.encode(record).decode())
    return lines
