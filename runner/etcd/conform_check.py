"""Judge a recorded etcd history with the checkers of ``spec/etcd``.

First linearizability of the KV and lease operations against etcd's sequential keyspace model
(:mod:`spec.etcd.keyspace`), then the watch guarantees (:mod:`spec.etcd.watch`: Ordered,
Unique, Atomic, Bookmarkable, Resumable, Reliable, IsCreate, PrevKV, Filter) against a replay
of the linearization found. Returns the verdict as an exit code and the report fields that
describe it: a violation names the operations involved with their clients, times, requests and
results.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from models.history import History, OperationRecord
from runner.exit_codes import ExitCode
from spec.linearizability import Budget

DEFAULT_TIME_LIMIT_SECONDS = 120.0
MAX_REPORTED_OPERATIONS = 12
MAX_REPORTED_WATCH_PROBLEMS = 10


def _describe_record(index: int, record: OperationRecord) -> dict[str, Any]:
    from spec.etcd.describe import describe_operation, describe_result

    return {
        "index": index,
        "client_id": record.client_id,
        "call_ns": record.call_time,
        "return_ns": record.return_time,
        "definite": record.definite,
        "operation": describe_operation(record.operation),
        "result": describe_result(record.result) if record.result is not None else "unknown",
    }


def check_recorded(
    history: History, time_limit_seconds: float = DEFAULT_TIME_LIMIT_SECONDS
) -> tuple[ExitCode, dict[str, Any]]:
    """The verdict and the report fields (``explanation`` lines, ``violations``)."""
    deadline = time.monotonic() + time_limit_seconds
    budget = Budget(interrupted=lambda: time.monotonic() > deadline)
    return judge_history(history, budget, f"within {time_limit_seconds:.0f}s")


def judge_history(history: History, budget: Budget, limit: str) -> tuple[ExitCode, dict[str, Any]]:
    """:func:`check_recorded` with the caller's search budget (``simulate etcd`` gives a
    number of steps, so that its verdict is the same on every machine); ``limit`` says what
    the budget is, for an inconclusive verdict."""
    from runner.etcd.conform_patch import patch_history
    from spec.etcd.keyspace import EtcdModel
    from spec.linearizability_report import check_history

    history, resolved = patch_history(history)
    started = time.monotonic()
    report = check_history(EtcdModel(), history.operations, budget)
    linearizability = {
        "verdict": report.verdict,
        "operations_checked": report.operations_checked,
        "steps": report.steps,
        "seconds": round(time.monotonic() - started, 3),
        "unknown_outcomes_resolved_by_watches": resolved,
    }
    if report.verdict == "not_linearizable":
        violation = report.violation
        involved = violation.minimal if violation is not None else ()
        explanation = violation.explanation if violation is not None else report.note
        return ExitCode.VIOLATION, {
            "linearizability": linearizability,
            "explanation": ["history is not linearizable:", *explanation.splitlines()],
            "violations": [
                {
                    "check": "linearizability",
                    "explanation": explanation,
                    "operations": [
                        _describe_record(index, history.operations[index])
                        for index in involved[:MAX_REPORTED_OPERATIONS]
                    ],
                }
            ],
        }
    if report.verdict == "unknown":
        return ExitCode.INCONCLUSIVE, {
            "linearizability": linearizability,
            "explanation": [f"the linearizability search did not finish {limit}"],
            "violations": [],
        }
    order = report.orders[0][1] if report.orders else ()
    return _check_watch_streams(history, order, linearizability, report.operations_checked, budget)


def _check_watch_streams(
    history: History,
    order: Sequence[int],
    linearizability: dict[str, Any],
    checked: int,
    budget: Budget,
) -> tuple[ExitCode, dict[str, Any]]:
    """The watch guarantees (:func:`spec.etcd.witness.judge_watches`)."""
    from spec.etcd.witness import judge_watches

    verdict = judge_watches(history.operations, history.watches, order, budget)
    problems, order = verdict.problems, verdict.order
    if verdict.order_chosen_by_watches:
        linearizability["order_chosen_by_watches"] = True
    known = known_etcd_issues(history, order, [problem.watch for problem in problems])
    watch_summary = {"streams": len(history.watches), "problems": len(problems)}
    if problems:
        described = [
            {
                "check": f"watch {problem.guarantee}",
                "watch": problem.watch,
                "client_id": problem.client_id,
                "revision": problem.revision,
                "explanation": problem.message,
                "request": _watch_request(history, problem.watch),
                **({"known_issue": known[problem.watch]} if problem.watch in known else {}),
            }
            for problem in problems[:MAX_REPORTED_WATCH_PROBLEMS]
        ]
        return ExitCode.VIOLATION, {
            "linearizability": linearizability,
            "watches": watch_summary,
            "explanation": [
                f"watch {item['watch']} (client {item['client_id']}) at revision "
                f"{item['revision']}: {item['explanation']}"
                + (f" [{item['known_issue']}]" if "known_issue" in item else "")
                for item in described
            ],
            "violations": described,
        }
    return ExitCode.PASS, {
        "linearizability": linearizability,
        "watches": watch_summary,
        "explanation": [
            f"linearizable ({checked} operations, {linearizability['steps']} search steps); "
            f"{len(history.watches)} watch streams keep every guarantee"
        ],
        "violations": [],
    }


def _watch_request(history: History, watch: int) -> dict[str, Any]:
    request = history.watches[watch].request
    return {
        "key": request.key.decode("utf-8", "backslashreplace"),
        "range_end": request.range_end.decode("utf-8", "backslashreplace"),
        "start_revision": request.start_revision,
        "prev_kv": request.prev_kv,
        "filters": list(request.filters),
    }


ISSUE_18089 = (
    "etcd issue #18089 (3.4.23 affected, fixed in 3.4.34): compacting at a delete's revision "
    "drops the tombstone, so a watch started at the compaction revision misses that DELETE"
)


def known_etcd_issues(
    history: History, order: Sequence[int], watches: Sequence[int]
) -> dict[int, str]:
    """Watches whose problem is a known etcd bug: started at a compaction revision where a
    matching DELETE happened that the stream never delivered (#18089)."""
    from models.etcd import range_end_covers
    from spec.etcd.watch import replay

    history_replay = replay(history.operations, order)
    known: dict[int, str] = {}
    for number in sorted(set(watches)):
        watch = history.watches[number]
        request = watch.request
        start = request.start_revision
        if start <= 0 or start not in history_replay.compactions:
            continue
        received = {
            (event.kv.key, event.kv.mod_revision)
            for _, response in watch.received()
            for event in response.events
        }
        missed_deletes = [
            event
            for event in history_replay.events.get(start, ())
            if event.type == "DELETE"
            and "NODELETE" not in request.filters
            and range_end_covers(request.key, request.range_end, event.kv.key)
            and (event.kv.key, start) not in received
        ]
        if missed_deletes:
            known[number] = ISSUE_18089
    return known
