"""Reading a judged client history into the page's rows, lanes and spans (``docs/view.md``).

The page ``check history --html`` and ``view HISTORY`` write: one lane per client, one row
per call and per return in time order, and each operation a bar from its call to its return
(to the end, dashed, when its outcome is unknown). Bars are styled by their part in the
verdict: the culprit, the operations the violation needs, those kept as "may take effect or
not", and those after the longest linearizable prefix or in another partition; the row where
that prefix ends is marked. A row's details are the operation, its result, its times and its
place in the linearization found.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from runner.view.model import Mark, Row, Span, ViewData

if TYPE_CHECKING:
    from models.history import OperationRecord
    from runner.history.judge import Judged


def read_history_view(path: Path, input_format: str, model: str | None, timeout: float) -> ViewData:
    """Judge the history in ``path`` (as ``check history`` does) and make the page's data."""
    from runner.history.judge import judge_history

    judged = judge_history(str(path), input_format, model, timeout, None)
    return history_view_data(str(path), judged)


def _order_numbers(judged: Judged) -> dict[int, int]:
    report = judged.report
    if report.violation is not None:
        order: tuple[int, ...] = report.violation.prefix_order
    else:
        order = tuple(index for _, partition in report.orders for index in partition)
    return {index: number for number, index in enumerate(order, start=1)}


def _style(judged: Judged, index: int, record: OperationRecord) -> str:
    """The operation's part in the verdict (a style class of the page)."""
    violation = judged.report.violation
    if violation is None:
        return "op"
    if judged.model.partition_key(record.operation) != violation.partition:
        return "after"
    if index == violation.culprit:
        return "culprit"
    if index in violation.minimal:
        return "needed"
    if index in violation.relaxed:
        return "relaxed"
    if record.call_time > violation.prefix_end_time:
        return "after"
    return "op"


def _describe(judged: Judged, record: OperationRecord) -> tuple[str, str]:
    model = judged.model
    result = "?"
    if record.definite and record.result is not None:
        result = model.describe_result(record.result)
    return model.describe_operation(record.operation), result


def history_view_data(source: str, judged: Judged) -> ViewData:
    """The page's data for a judged history."""
    records = judged.history.operations
    clients = sorted({record.client_id for record in records})
    lane_of = {client: lane for lane, client in enumerate(clients)}
    # Events in time order: (time, 0 return / 1 call, operation index).
    events = sorted(
        [(record.call_time, 1, index) for index, record in enumerate(records)]
        + [
            (record.return_time, 0, index)
            for index, record in enumerate(records)
            if record.return_time is not None
        ]
    )
    numbers = _order_numbers(judged)
    report = judged.report
    violation = report.violation
    rows: list[Row] = []
    starts: dict[int, int] = {}
    ends: dict[int, int] = {}
    prefix_row: int | None = None
    for time, is_call, index in events:
        record = records[index]
        operation, result = _describe(judged, record)
        style = _style(judged, index, record)
        number = numbers.get(index)
        tag = f"#{number} " if number is not None else ""
        if violation is not None and prefix_row is None and time > violation.prefix_end_time:
            prefix_row = len(rows)
        if is_call:
            starts[index] = len(rows)
            label = f"{tag}{operation}"
        else:
            ends[index] = len(rows)
            label = f"{tag}{operation} -> {result}"
        detail = {
            "operation": index,
            "client": record.client_id,
            "call": operation,
            "result": result,
            "call_time": record.call_time,
            "return_time": record.return_time,
            "definite": record.definite,
            "linearized_as": number,
            "part": style,
            "record": msgspec.to_builtins(record),
        }
        rows.append(
            Row(
                n=time,
                lane=lane_of[record.client_id],
                label=label,
                detail=msgspec.json.format(msgspec.json.encode(detail), indent=2).decode(),
                diff=(),
                style="violation" if violation is not None and index == violation.culprit else "",
            )
        )
    if prefix_row is not None:
        row = rows[prefix_row]
        rows[prefix_row] = msgspec.structs.replace(row, style=row.style or "phase")
    last = max(len(rows) - 1, 0)
    spans = tuple(
        Span(
            lane=lane_of[record.client_id],
            start=starts[index],
            end=ends.get(index, last),
            label=" -> ".join(_describe(judged, record)),
            style=_style(judged, index, record)
            + ("" if index in ends and record.definite else " unknown"),
        )
        for index, record in enumerate(records)
    )
    marks: tuple[Mark, ...] = ()
    if violation is not None:
        culprit = records[violation.culprit]
        marks = (
            Mark(
                row=starts[violation.culprit],
                property="not linearizable",
                message=violation.explanation,
                lanes=(lane_of[culprit.client_id],),
            ),
        )
    summary = [
        f"model {report.model}, {report.operations_checked} operations checked, verdict "
        f"{report.verdict.replace('_', ' ')} ({judged.seconds} s)",
    ]
    if violation is not None:
        summary.append(
            f"the longest linearizable prefix ends just before time {violation.prefix_end_time} "
            f"({len(violation.prefix_order)} operations linearized)"
        )
    elif report.note:
        summary.append(report.note)
    summary += [f"watch of client {p['client_id']}: {p['message']}" for p in judged.watch_problems]
    return ViewData(
        title=source,
        kind="history",
        summary=tuple(summary),
        lanes=tuple(f"client {client}" for client in clients),
        rows=tuple(rows),
        spans=spans,
        marks=marks,
        legend=_legend(violation is not None),
    )


def _legend(violated: bool) -> tuple[tuple[str, str], ...]:
    if not violated:
        return (("op", "linearized (#: order)"),)
    return (
        ("op", "linearized (#: order)"),
        ("culprit", "culprit"),
        ("needed", "needed for the violation"),
        ("relaxed", "may take effect or not"),
        ("after", "after the prefix, or another partition"),
        ("phase", "end of the longest linearizable prefix"),
    )
