"""etcd's keyspace model constrained by what the watches saw: a linearization the watch
streams agree with.

A history with writes of unknown outcome (a member killed while they were in flight) often has
several linearizations: an unknown put may be placed at revision 818, or an unknown delete, or
neither. Linearizability holds if any one fits; but the watch guarantees are judged against a
replay of one linearization, and when the search picked one the watches contradict (they saw the
delete at 818, the replay has the put there), every stream seems to break Reliable and
IsCreate/KeyValue although etcd did nothing wrong.

:class:`WitnessedEtcdModel` is :class:`spec.etcd.keyspace.EtcdModel` where a write that creates
revision R is illegal unless it produces every event some watch delivered at R (key, type and a
put's value). It asks "at least", not "exactly", so a watch that missed an event (etcd #18089)
does not exclude the true linearization. The checker uses it only to choose the order the watch
guarantees are judged against; the linearizability verdict comes from the plain model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import msgspec

from models.etcd import RangeRequest, RangeResponse, ResponseHeader
from models.history import Operation, OperationRecord, OperationResult, WatchRecord
from spec.etcd.keyspace import EtcdModel, EtcdState, EtcdTransition
from spec.etcd.watch import WatchProblem, check_watches
from spec.linearizability import ILLEGAL, Budget, Illegal
from spec.linearizability_report import check_history

# (type, key, value): a delete's value is b"".
Sighting = tuple[str, bytes, bytes]


def watched_events(watches: Iterable[WatchRecord]) -> dict[int, frozenset[Sighting]]:
    """Every event any watch delivered, by revision."""
    seen: dict[int, set[Sighting]] = {}
    for watch in watches:
        for _, response in watch.received():
            for event in response.events:
                value = event.kv.value if event.type == "PUT" else b""
                seen.setdefault(event.kv.mod_revision, set()).add((event.type, event.kv.key, value))
    return {revision: frozenset(events) for revision, events in seen.items()}


def produces(before: EtcdState, after: EtcdState, sighting: Sighting) -> bool:
    """Whether the write from ``before`` to ``after`` (one new revision) has this event."""
    kind, key, value = sighting
    new = after.keys.get(key)
    if kind == "PUT":
        return new is not None and new.mod_revision == after.revision and new.value == value
    return new is None and key in before.keys


class WitnessedEtcdModel(EtcdModel):
    """:class:`EtcdModel` whose writes must produce the events watches saw at their revision,
    and whose *milestones* (:func:`milestones`) require a revision to have been reached."""

    def __init__(
        self, witnessed: Mapping[int, frozenset[Sighting]], reached: Mapping[Operation, int]
    ) -> None:
        self._witnessed = witnessed
        self._reached = reached

    @property
    def name(self) -> str:
        return "etcd constrained by watches"

    def transition(self, operation: Operation, result: OperationResult | None) -> EtcdTransition:
        if operation in self._reached:
            revision = self._reached[operation]
            return lambda state: state if state.revision >= revision else ILLEGAL
        plain = super().transition(operation, result)
        witnessed = self._witnessed

        def step(state: EtcdState) -> EtcdState | Illegal:
            after = plain(state)
            if isinstance(after, Illegal) or after.revision == state.revision:
                return after
            sightings = witnessed.get(after.revision, frozenset())
            if all(produces(state, after, sighting) for sighting in sightings):
                return after
            return ILLEGAL

        return step


# A key no etcd client sends (etcd keys are non-empty; this one starts with NUL and names us).
MILESTONE_KEY = b"\x00kubeoracle-watch-milestone"


def milestones(watches: Iterable[WatchRecord]) -> dict[int, int]:
    """For each revision a watch delivered, the earliest time a watch received it: the cluster
    had committed that revision by then, so its write is linearized before that time."""
    earliest: dict[int, int] = {}
    for watch in watches:
        for time, response in watch.received():
            for event in response.events:
                revision = event.kv.mod_revision
                if revision not in earliest or time < earliest[revision]:
                    earliest[revision] = time
    return earliest


def milestone_records(
    watches: Iterable[WatchRecord],
) -> tuple[list[OperationRecord], dict[Operation, int]]:
    """Synthetic instantaneous operations "the revision is at least R at time t", one per
    revision a watch delivered, and the revision each one requires."""
    records: list[OperationRecord] = []
    reached: dict[Operation, int] = {}
    for revision, time in sorted(milestones(watches).items()):
        marker = RangeRequest(key=MILESTONE_KEY, revision=revision, count_only=True)
        reached[marker] = revision
        records.append(
            OperationRecord(
                client_id=-1 - revision,
                call_time=time - 1,
                return_time=time,
                operation=marker,
                result=RangeResponse(header=ResponseHeader(revision=revision)),
            )
        )
    return records, reached


class WatchVerdict(msgspec.Struct, frozen=True, kw_only=True):
    """The watch problems against the order they were judged with."""

    problems: tuple[WatchProblem, ...]
    order: tuple[int, ...]
    order_chosen_by_watches: bool = False


def judge_watches(
    records: Sequence[OperationRecord],
    watches: Sequence[WatchRecord],
    order: Sequence[int],
    budget: Budget,
) -> WatchVerdict:
    """The watch guarantees against a replay of ``order`` (a linearization of ``records``); if
    they fail there, against a linearization the watches agree with, when one exists (the
    search's first pick may have placed a write of unknown outcome where the watches saw
    another)."""
    problems = check_watches(records, watches, order)
    if not problems:
        return WatchVerdict(problems=(), order=tuple(order))
    markers, reached = milestone_records(watches)
    model = WitnessedEtcdModel(watched_events(watches), reached)
    report = check_history(model, [*records, *markers], budget)
    if report.verdict != "linearizable" or not report.orders:
        return WatchVerdict(problems=tuple(problems), order=tuple(order))
    witnessed = [index for index in report.orders[0][1] if index < len(records)]
    return WatchVerdict(
        problems=tuple(check_watches(records, watches, witnessed)),
        order=tuple(witnessed),
        order_chosen_by_watches=True,
    )
