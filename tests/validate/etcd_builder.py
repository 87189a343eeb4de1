"""Writing etcd-io/raft trace lines by hand, field for field as ``state_trace.go`` (v3.6.0) does:
``{"level","ts","msg":"trace","tag":"trace","event":{"name","nid","state":{"term","vote",
"commit"},"role","log","conf":[[voters],[outgoing]],"msg"?,"prop"?}}``."""

from __future__ import annotations

import json
from typing import Any

ROLES = {"F": "StateFollower", "C": "StateCandidate", "L": "StateLeader", "P": "StatePreCandidate"}


def msg(
    kind: str,
    term: int,
    source: int,
    destination: int,
    *,
    index: int = 0,
    log_term: int = 0,
    entries: int = 0,
    commit: int = 0,
    reject: bool = False,
) -> dict[str, Any]:
    """A ``TracingMessage`` (``makeTracingMessage``; for MsgSnap ``entries`` is the index)."""
    return {
        "type": kind,
        "term": term,
        "from": str(source),
        "to": str(destination),
        "entries": entries,
        "logTerm": log_term,
        "index": index,
        "commit": commit,
        "vote": "0",
        "reject": reject,
        "rejectHint": 0,
    }


class EtcdTrace:
    """Trace lines in order; ``line`` numbers are 1-based, as the validator reports them."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def event(
        self,
        name: str,
        node: int,
        state: tuple[int, int, int],
        role: str,
        log: int,
        conf: tuple[tuple[int, ...], tuple[int, ...]],
        message: dict[str, Any] | None = None,
        prop: dict[str, Any] | None = None,
    ) -> int:
        """Append one event (``state`` is term, vote, commit) and return its line number."""
        term, vote, commit = state
        event: dict[str, Any] = {
            "name": name,
            "nid": str(node),
            "state": {"term": term, "vote": str(vote), "commit": commit},
            "role": ROLES[role],
            "log": log,
            "conf": [[str(n) for n in conf[0]], [str(n) for n in conf[1]]],
        }
        if message is not None:
            event["msg"] = message
        if prop is not None:
            event["prop"] = prop
        record = {"level": "debug", "ts": len(self.lines) + 1, "msg": "trace", "tag": "trace"}
        self.lines.append(json.dumps({**record, "event": event}))
        return len(self.lines)

    def start_from_snapshot(self, node: int, index: int, voters: tuple[int, ...]) -> None:
        """newRaft on storage holding a snapshot at ``index`` (raft.go:467 traceInitState
        before the storage is read: term 0, commit = first index - 1; raft.go:477
        switchToConfig on an empty tracker; raft.go:485 becomeFollower)."""
        empty: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())
        self.event("InitState", node, (0, 0, index), "F", index, empty)
        newconf = {"cc": {"newconf": [str(v) for v in voters]}}
        self.event("ApplyConfChange", node, (0, 0, index), "F", index, empty, prop=newconf)
        self.event("BecomeFollower", node, (0, 0, index), "F", index, (voters, ()))

    def edited(self, line: int, change: dict[str, Any]) -> list[str]:
        """The lines with ``change`` (dotted paths inside ``event``) applied to ``line``."""
        copy = list(self.lines)
        record = json.loads(copy[line - 1])
        for path, value in change.items():
            target = record["event"]
            *parents, leaf = path.split(".")
            for part in parents:
                target = target[part]
            target[leaf] = value
        copy[line - 1] = json.dumps(record)
        return copy
