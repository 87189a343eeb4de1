"""Judging a client history file: read it, pick and check its model, search for a
linearization and, for etcd, check the watch streams against it (what ``check history`` and
``view`` do with a history)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from runner.errors import InputError

if TYPE_CHECKING:
    from models.history import History, OperationRecord
    from spec.linearizability import Budget, SequentialModel
    from spec.linearizability_report import CheckReport


def model_named(name: str) -> SequentialModel[Any]:
    """The sequential model called ``name``."""
    from spec.etcd.keyspace import EtcdModel
    from spec.etcd.registers import KvModel, RegisterModel

    if name == "etcd":
        return EtcdModel()
    if name == "kv":
        return KvModel()
    return RegisterModel(with_cas=name == "cas-register")


def _choose_model(file: str, model_name: str | None, history: History) -> str:
    if model_name is not None:
        return model_name
    if history.header is not None and history.header.model is not None:
        return history.header.model
    raise InputError("no --model given and the file has no header naming one", source=file)


def _validate(
    model: SequentialModel[Any], records: Sequence[OperationRecord], lines: Sequence[int], path: str
) -> None:
    for record, line in zip(records, lines, strict=True):
        reason = model.invalid_reason(record)
        if reason is not None:
            raise InputError(reason, source=path, line=line, field="operation")


@dataclass(frozen=True)
class Judged:
    """A history judged against its model (what ``check history`` and ``view`` show)."""

    history: History
    model: SequentialModel[Any]
    report: CheckReport
    watch_problems: list[dict[str, Any]]
    seconds: float


def judge_history(
    file: str, input_format: str, model_name: str | None, timeout: float, workers: int | None
) -> Judged:
    """Read a history (exit 2 on bad input) and judge it: linearizability, then etcd's watch
    guarantees when it is linearizable."""
    from runner.history.parallel import parallel_searcher
    from runner.history.read import read_history
    from spec.linearizability import Budget
    from spec.linearizability_report import check_history

    history = read_history(Path(file), input_format)
    if not history.operations and not history.watches:
        raise InputError(f"no operations found (is --format {input_format} right?)", source=file)
    model = model_named(_choose_model(file, model_name, history))
    _validate(model, history.operations, history.operation_lines, file)
    deadline = time.monotonic() + timeout
    budget = Budget(interrupted=lambda: time.monotonic() > deadline)
    started = time.monotonic()
    report = check_history(model, history.operations, budget, parallel_searcher(workers))
    watch_problems: list[dict[str, Any]] = []
    if model.name == "etcd" and history.watches and report.verdict == "linearizable":
        order = report.orders[0][1] if report.orders else ()
        watch_problems = _check_watches(history, order, budget)
    return Judged(history, model, report, watch_problems, round(time.monotonic() - started, 3))


def _check_watches(history: History, order: Sequence[int], budget: Budget) -> list[dict[str, Any]]:
    from spec.etcd.witness import judge_watches

    verdict = judge_watches(history.operations, history.watches, order, budget)
    return [msgspec.to_builtins(problem) for problem in verdict.problems]
