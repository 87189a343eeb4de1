"""Argument types for numeric options: a bad value is a usage error (exit 2) naming the option;
and the ``--faults`` list every ``simulate`` target takes.

argparse reports a ``type`` that raises ``ArgumentTypeError`` as
``kubeoracle VERB: error: argument --timeout: <reason>`` and exits 2, before any work starts.
Infinity and NaN are never accepted (``float("nan")`` would compare false with every bound).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def bounded_float(low: float, high: float, *, low_open: bool = True) -> Callable[[str], float]:
    """A finite number in ``(low, high]`` (``[low, high]`` when ``low_open`` is false)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        too_low = value <= low if low_open else value < low
        if not math.isfinite(value) or too_low or value > high:
            bracket = "(" if low_open else "["
            reason = f"expected a number in {bracket}{low:g}, {high:g}], got {text!r}"
            raise argparse.ArgumentTypeError(reason)
        return value

    return parse


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An integer in ``[low, high]``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {low} to {high}, got {value}")
        return value

    return parse


SECONDS_MAX = 7 * 24 * 3600.0
"""A week: the longest timeout or duration an option takes."""
positive_seconds = bounded_float(0.0, SECONDS_MAX)
"""Seconds for a duration: more than 0, at most a week."""
timeout_seconds = bounded_float(0.0, SECONDS_MAX, low_open=False)
"""Seconds for a timeout: 0 (give up at the first check) to a week."""


def fault_kinds(text: str, known: tuple[str, ...]) -> tuple[str, ...] | None:
    """``--faults``: comma-separated kinds of ``known``, ``all``, ``none``, or ``swarm`` (None:
    the seed picks the mix); an unknown kind is an ``InputError`` naming the option."""
    from runner.errors import InputError

    if text == "swarm":
        return None
    if text == "none":
        return ()
    if text == "all":
        return known
    chosen = tuple(part.strip() for part in text.split(","))
    unknown = [part for part in chosen if part not in known]
    if unknown:
        raise InputError(
            f"unknown fault kind {unknown[0]!r} (known: {', '.join(known)})", field="--faults"
        )
    return chosen
