"""What the etcd world checks: the clients' history and the watch streams, judged by the
checkers ``conform etcd`` uses on a real etcd; its coverage, liveness progress and statistics.

:func:`history_of` turns a world state into a ``models.history.History``: every operation
recorded so far, the calls still open as operations of unknown outcome, every watch stream
(closed ones and open ones), and, for each open stream whose member is up and synced, a final
progress notification (``impl.etcd.watch``), so the Reliable and Bookmarkable guarantees are
judged up to the revision the member reached. :class:`HistoryChecker` judges it every
:data:`CHECK_EVERY_STEPS` steps (the history so far) and when the run ends, with
:func:`runner.etcd.conform_check.judge_history` (linearizability against
``spec.etcd.keyspace``, then ``spec.etcd.watch``) on a fixed search budget, so the verdict is
the same on every machine and in every replay. The ``sometimes`` companions say whether the
situations the history check is about arose in the run. :class:`MembersRaftChecker` judges the
members' Raft nodes with every ``spec.raft`` invariant after every step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, final

from impl.etcd import watch as etcd_watch
from impl.etcd.member_state import MemberState
from models.etcd import DeleteRangeResponse, EtcdError, PutResponse, TxnResponse
from models.etcd_member import Reply
from models.etcd_world import EtcdAction
from models.history import History, HistoryHeader, OperationRecord, WatchMessage, WatchRecord
from models.raft import RaftNodeState
from runner.etcd.world import (
    AbandonedCall,
    EtcdWorldState,
    Output,
    WatchSlot,
    available,
    member_state,
)
from runner.exit_codes import ExitCode
from runner.raft.checks import RaftChecker
from spec.linearizability import Budget
from spec.property import Violation

SEARCH_STEPS_MAX: Final = 3_000_000
"""The history check's search budget, in steps (about a minute of search at most)."""
LINEARIZABILITY: Final = "linearizability"
INCONCLUSIVE: Final = "history-check-inconclusive"
"""The property a run reports when the search budget ran out (the CLI exits 3)."""
REASON_LINES_MAX: Final = 12
CHECK_EVERY_STEPS: Final = 500
"""The history so far is also judged every this many steps, so a run stops near the step that
broke it (a check costs about 1% of the steps between two checks)."""

COVERAGE: Final = (
    "leader_elected",
    "leader_changed",
    "write_acknowledged",
    "unknown_outcome",
    "lease_expired",
    "compacted",
    "watch_resumed",
    "member_restarted",
)


def history_of(state: EtcdWorldState) -> History:
    """What the clients and watchers saw so far (see the module docstring)."""
    operations = [state.operations[key] for key in sorted(state.operations.keys())]
    unknown = [state.abandoned[key] for key in sorted(state.abandoned.keys())]
    for number in sorted(state.clients.keys()):
        client = state.clients[number]
        if client.call is not None:
            unknown.append(AbandonedCall(client_id=client.history_id, call=client.call))
    for ended in unknown:
        if ended.call.request_id in state.persisted:
            operations.append(
                OperationRecord(
                    client_id=ended.client_id,
                    call_time=ended.call.call_time,
                    return_time=None,
                    operation=ended.call.request,
                    definite=False,
                )
            )
    operations.sort(key=lambda record: record.call_time)
    watches = [state.closed_watches[key] for key in sorted(state.closed_watches.keys())]
    for number in sorted(state.watches.keys()):
        slot = state.watches[number]
        if slot.member:
            watches.append(_open_stream(state, number, slot))
    return History(
        header=HistoryHeader(model="etcd"), operations=tuple(operations), watches=tuple(watches)
    )


def _open_stream(state: EtcdWorldState, number: int, slot: WatchSlot) -> WatchRecord:
    from runner.etcd.world import SESSION_CLIENT_IDS, WATCH_CLIENT_BASE

    messages = [slot.messages[index] for index in range(len(slot.messages))]
    member = member_state(state, slot.member)
    if member is not None and available(state, slot.member) and slot.stream is not None:
        time = state.time + 1
        for response in etcd_watch.progress_notifications(member.etcd, slot.stream):
            messages.append(WatchMessage(time=time, response=response))
    return WatchRecord(
        client_id=WATCH_CLIENT_BASE + number + SESSION_CLIENT_IDS * slot.attempt,
        request=slot.request,
        messages=tuple(messages),
    )


def judge(state: EtcdWorldState) -> tuple[Violation, ...]:
    """The history's verdict as violations (none: linearizable, every watch guarantee kept)."""
    from runner.etcd.conform_check import judge_history

    budget = Budget(max_steps=SEARCH_STEPS_MAX)
    code, report = judge_history(history_of(state), budget, f"within {SEARCH_STEPS_MAX} steps")
    if code is ExitCode.PASS:
        return ()
    lines = report["explanation"]
    if code is ExitCode.INCONCLUSIVE:
        return (Violation(property_name=INCONCLUSIVE, nodes=(), reason=" ".join(lines)),)
    first = report["violations"][0]
    name = str(first["check"])
    shown = lines[:REASON_LINES_MAX] + (["..."] if len(lines) > REASON_LINES_MAX else [])
    return (Violation(property_name=name, nodes=(), reason="\n".join(shown)),)


@final
class HistoryChecker:
    """Judges the history when the run ends; notes the situations it covers as it goes."""

    def __init__(self) -> None:
        self.reached: dict[str, int | None] = dict.fromkeys(COVERAGE)
        self.terms: dict[int, int] = {}

    def start(self, state: EtcdWorldState) -> tuple[Violation, ...]:
        del state
        return ()

    def step(
        self,
        index: int,
        action: object,
        before: EtcdWorldState,
        after: EtcdWorldState,
        outputs: tuple[Output, ...],
    ) -> tuple[Violation, ...]:
        del action
        found = self._situations(before, after, outputs)
        for name in found:
            if self.reached[name] is None:
                self.reached[name] = index
        if index % CHECK_EVERY_STEPS:
            return ()
        # The history so far (open calls of unknown outcome): a violation in a prefix is one in
        # the run. An exhausted budget here is no verdict; the end of the run decides.
        return tuple(v for v in judge(after) if v.property_name != INCONCLUSIVE)

    def _situations(
        self, before: EtcdWorldState, after: EtcdWorldState, outputs: tuple[Output, ...]
    ) -> list[str]:
        found: list[str] = []
        for node in sorted(after.members.nodes.keys()):
            member = after.members.nodes[node].state
            if member is None:
                continue
            if member.raft.role == "leader":
                found.append("leader_elected")
                if member.raft.term > 1 and self.reached["leader_changed"] is None:
                    found.append("leader_changed")
            if member.etcd.compact_revision > 0:
                found.append("compacted")
            if before.members.nodes[node].state is None:
                found.append("member_restarted")
        if any(
            isinstance(c, Reply) and isinstance(c.result, PutResponse | TxnResponse
                                                | DeleteRangeResponse)
            for _, c in outputs
        ):  # fmt: skip
            found.append("write_acknowledged")
        if after.abandoned:
            found.append("unknown_outcome")
        if after.expiries:
            found.append("lease_expired")
        if after.closed_watches:
            found.append("watch_resumed")
        return found

    def finish(self, state: EtcdWorldState, index: int) -> tuple[Violation, ...]:
        del index
        return judge(state)

    def coverage(self) -> Mapping[str, int | None]:
        return dict(self.reached)


def _member_raft(member: MemberState) -> RaftNodeState:
    return member.raft


@final
class MembersRaftChecker:
    """Every ``spec.raft`` invariant on the members' Raft nodes, after every step (an
    incremental check: members the step did not touch are not judged afresh)."""

    def __init__(self) -> None:
        self.raft = RaftChecker(raft_of=_member_raft)

    def start(self, state: EtcdWorldState) -> tuple[Violation, ...]:
        return self.raft.check(state.members, 0)

    def step(
        self,
        index: int,
        action: object,
        before: EtcdWorldState,
        after: EtcdWorldState,
        outputs: tuple[Output, ...],
    ) -> tuple[Violation, ...]:
        del action, before, outputs
        return self.raft.check(after.members, index)

    def finish(self, state: EtcdWorldState, index: int) -> tuple[Violation, ...]:
        del state, index
        return ()

    def coverage(self) -> Mapping[str, int | None]:
        return self.raft.coverage()


LIVENESS_PROPERTY: Final = "a write is acknowledged once faults stop"


@final
class WriteAcknowledged:
    """Liveness: after faults stop, some client's write is answered with success."""

    name = LIVENESS_PROPERTY

    def observe(self, state: EtcdWorldState, outputs: tuple[Output, ...]) -> bool:
        del state
        return any(
            isinstance(command, Reply)
            and isinstance(command.result, PutResponse | TxnResponse | DeleteRangeResponse)
            for _, command in outputs
        )

    def failure(self, bound: int) -> str:
        return f"no write was acknowledged within {bound} steps after faults stopped"


@final
class Tally:
    """Counts actions by kind and answers by outcome."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def count(self, action: EtcdAction, outputs: tuple[Output, ...]) -> None:
        name = str(action.__struct_config__.tag)
        self.counts[name] = self.counts.get(name, 0) + 1
        for _, command in outputs:
            if isinstance(command, Reply):
                key = "answer:error" if isinstance(command.result, EtcdError) else "answer:ok"
                self.counts[key] = self.counts.get(key, 0) + 1

    def summary(self) -> dict[str, object]:
        return dict(sorted(self.counts.items()))
