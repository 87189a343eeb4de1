"""Progress bars for long work (``simulate``, ``validate``, ``check``, ``conform``), on standard
error, drawn by ``rich``; only when standard error is a terminal and the report is not JSON.

Piped, redirected or with ``-o json`` nothing is written, so scripts and CI logs see only the
report. The bar is erased when the work ends (``transient``), so the terminal keeps only the
report too; ``rich`` is imported only when a bar is drawn. Three shapes:

- :func:`track` wraps an iterable (seeds, events, files): one tick per item, with a count and
  the time left;
- :func:`timed` fills over a known time (a workload of ``--duration`` seconds, or a search
  against its ``--timeout``) from a background thread, and stops early when the work does;
- :class:`Bar` is what both drive, for a caller that advances by hand.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sized
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final, TextIO, TypeVar, final

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

ItemT = TypeVar("ItemT")
TICK_SECONDS: Final = 0.2
"""How often a timed bar moves."""


def wanted(output: str = "text", stream: TextIO | None = None) -> bool:
    """Whether to draw: the report is for people and standard error is a terminal."""
    target = stream if stream is not None else sys.stderr
    return output != "json" and target.isatty()


@final
class Bar:
    """One bar on standard error, or nothing at all when not :func:`wanted`."""

    def __init__(
        self,
        description: str,
        total: float | None,
        output: str = "text",
        stream: TextIO | None = None,
        counted: bool = True,
    ) -> None:
        """``counted``: show ``done/total`` (items); otherwise only the bar and the times."""
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        if not wanted(output, stream):
            return
        # Imported only to draw: piped runs and --help do not pay for rich.
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        console = Console(file=stream if stream is not None else sys.stderr)
        columns = [
            SpinnerColumn(),
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            *([MofNCompleteColumn()] if counted and total is not None else []),
            TimeElapsedColumn(),
            *([TimeRemainingColumn()] if total is not None else []),
            TextColumn("{task.fields[note]}"),
        ]
        self._progress = Progress(*columns, console=console, transient=True)
        self._task = self._progress.add_task(description, total=total, note="")
        self._progress.start()

    @property
    def drawing(self) -> bool:
        """Whether the bar is on the terminal."""
        return self._progress is not None

    def advance(self, amount: float = 1.0, note: str | None = None) -> None:
        """Move on by ``amount``; ``note`` replaces the text after the bar."""
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, amount)
            if note is not None:
                self._progress.update(self._task, note=note)

    def set(self, completed: float, note: str | None = None) -> None:
        """Put the bar at ``completed``."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=completed)
            if note is not None:
                self._progress.update(self._task, note=note)

    def close(self) -> None:
        """Erase the bar (idempotent)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def track(
    items: Iterable[ItemT],
    description: str,
    output: str = "text",
    total: int | None = None,
    stream: TextIO | None = None,
) -> Iterator[ItemT]:
    """Yield ``items``, one tick each (``total`` defaults to ``len(items)`` when it has one).
    Breaking out of the loop erases the bar."""
    if total is None and isinstance(items, Sized):
        total = len(items)
    with Bar(description, total, output, stream) as bar:
        for item in items:
            yield item
            bar.advance()


@contextmanager
def timed(
    description: str, seconds: float, output: str = "text", stream: TextIO | None = None
) -> Iterator[Bar]:
    """A bar that fills over ``seconds`` of wall time while the ``with`` body runs."""
    with Bar(description, seconds, output, stream, counted=False) as bar:
        if not bar.drawing:
            yield bar
            return
        stop = threading.Event()
        started = time.monotonic()

        def move() -> None:
            while not stop.wait(TICK_SECONDS):
                bar.set(min(time.monotonic() - started, seconds))

        mover = threading.Thread(target=move, name="progress", daemon=True)
        mover.start()
        try:
            yield bar
        finally:
            stop.set()
            mover.join()
