"""A self-contained HTML page showing a checked history on a timeline, one lane per client.

Each operation is a bar from its call to its return (to the right edge, dashed, when the
outcome is unknown). Bars are numbered with their place in the linearization found (of the
whole history, or of the longest linearizable prefix when there is a violation); the end of that
prefix is a vertical line; the culprit is red, the other operations the violation needs are
orange, and writes it keeps as "may take effect or not" are dashed. Hovering a bar shows the
operation, its result and its times. No scripts, no external resources.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

from models.history import OperationRecord
from spec.linearizability_report import CheckReport

LANE_HEIGHT_PIXELS = 34
BAR_HEIGHT_PIXELS = 22
LEFT_MARGIN_PIXELS = 90
WIDTH_PIXELS = 1400
CHARACTER_WIDTH_PIXELS = 6.2


def _order_numbers(report: CheckReport) -> dict[int, int]:
    if report.violation is not None:
        order: Sequence[int] = report.violation.prefix_order
    else:
        order = [index for _, partition in report.orders for index in partition]
    return {index: number for number, index in enumerate(order, start=1)}


def _bar(
    record: OperationRecord,
    index: int,
    x: Callable[[int], float],
    end_time: int,
    lane: int,
    style: str,
    number: int | None,
    label: str,
) -> str:
    start = x(record.call_time)
    finish = x(record.return_time if record.return_time is not None else end_time)
    width = max(finish - start, 3.0)
    top = 20 + lane * LANE_HEIGHT_PIXELS
    dashed = ' stroke-dasharray="4 3"' if record.return_time is None or "relaxed" in style else ""
    tag = f"#{number} " if number is not None else ""
    fits = max(int(width / CHARACTER_WIDTH_PIXELS) - 1, 0)
    full = tag + label
    if len(full) > fits:
        full = tag.strip() if len(tag.strip()) <= fits else ""
    text = html.escape(full)
    return (
        f'<g class="{style}"><title>{html.escape(label)} (operation {index})</title>'
        f'<rect x="{start:.1f}" y="{top}" width="{width:.1f}" height="{BAR_HEIGHT_PIXELS}" '
        f'rx="3"{dashed}/>'
        f'<text x="{start + 3:.1f}" y="{top + 15}">{text}</text></g>'
    )


def _lanes(
    records: Sequence[OperationRecord],
    report: CheckReport,
    describe: Callable[[OperationRecord], str],
    partition_of: Callable[[OperationRecord], str | None],
    clients: Sequence[int],
    x: Callable[[int], float],
    last: int,
) -> list[str]:
    """The lane labels and one bar per operation, styled by its part in the verdict."""
    lane_of = {client: lane for lane, client in enumerate(clients)}
    numbers = _order_numbers(report)
    violation = report.violation
    needed = set(violation.minimal) if violation else set()
    relaxed = set(violation.relaxed) if violation else set()
    parts: list[str] = []
    for lane, client in enumerate(clients):
        top = 20 + lane * LANE_HEIGHT_PIXELS
        parts.append(f'<text class="lane" x="4" y="{top + 15}">client {client}</text>')
    for index, record in enumerate(records):
        style = "op"
        if violation is not None:
            if partition_of(record) != violation.partition:
                style = "op after"
            elif index == violation.culprit:
                style = "op culprit"
            elif index in needed:
                style = "op needed"
            elif index in relaxed:
                style = "op relaxed"
            elif record.call_time > violation.prefix_end_time:
                style = "op after"
        label = describe(record)
        number = numbers.get(index)
        parts.append(_bar(record, index, x, last, lane_of[record.client_id], style, number, label))
    return parts


def render_history_html(
    title: str,
    records: Sequence[OperationRecord],
    report: CheckReport,
    describe: Callable[[OperationRecord], str],
    partition_of: Callable[[OperationRecord], str | None],
) -> str:
    """The page for ``records`` judged by ``report``; ``describe`` labels an operation and
    ``partition_of`` names its partition (None: the model does not split histories)."""
    times = [record.call_time for record in records] + [
        record.return_time for record in records if record.return_time is not None
    ]
    first, last = (min(times), max(times)) if times else (0, 1)
    span = max(last - first, 1)

    def x(time: int) -> float:
        return LEFT_MARGIN_PIXELS + (time - first) * (WIDTH_PIXELS - LEFT_MARGIN_PIXELS - 10) / span

    clients = sorted({record.client_id for record in records})
    parts = _lanes(records, report, describe, partition_of, clients, x, last)
    height = 40 + len(clients) * LANE_HEIGHT_PIXELS
    violation = report.violation
    if violation is not None:
        cut = x(violation.prefix_end_time)
        parts.append(
            f'<line class="cut" x1="{cut:.1f}" y1="0" x2="{cut:.1f}" y2="{height}"/>'
            f'<text class="cut" x="{cut + 3:.1f}" y="12">end of the longest linearizable '
            "prefix</text>"
        )
    summary = html.escape(
        violation.explanation if violation else f"verdict: {report.verdict.replace('_', ' ')}"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 16px; }}
pre {{ background: #f4f4f4; padding: 8px; white-space: pre-wrap; }}
svg text {{ font-size: 11px; }}
.op rect {{ fill: #cfe8cf; stroke: #3a7a3a; }}
.op.after rect {{ fill: #eeeeee; stroke: #999999; }}
.op.needed rect {{ fill: #ffd9a8; stroke: #c06000; stroke-width: 2; }}
.op.relaxed rect {{ fill: #fff4e0; stroke: #c06000; }}
.op.culprit rect {{ fill: #ffb3b3; stroke: #c00000; stroke-width: 3; }}
line.cut {{ stroke: #c00000; stroke-width: 2; }}
text.cut {{ fill: #c00000; }}
.legend span {{ display: inline-block; padding: 2px 6px; margin-right: 8px; border: 1px solid; }}
</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p>Model <b>{html.escape(report.model)}</b>, {report.operations_checked} operations checked,
verdict <b>{html.escape(report.verdict.replace("_", " "))}</b>.</p>
<p class="legend"><span style="background:#cfe8cf">linearized (#: order)</span>
<span style="background:#ffb3b3">culprit</span>
<span style="background:#ffd9a8">needed for the violation</span>
<span style="background:#fff4e0">may take effect or not</span>
<span style="background:#eeeeee">after the prefix, or another partition</span></p>
<pre>{summary}</pre>
<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH_PIXELS}" height="{height}">
{"".join(parts)}
</svg>
</body></html>
"""
