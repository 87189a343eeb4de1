"""Parsers of other history formats into kubeoracle :class:`models.history.History` records.

Pure: text in, a history or a :class:`models.history.HistoryParseError` out. Times are event
positions (1-based line numbers), since neither format records clock times.

* ``jepsen``: the Jepsen etcd logs of porcupine's corpus, one event per line
  ``INFO  jepsen.util - <process> <type> <f> <value>`` with ``type`` ``:invoke``, ``:ok``,
  ``:fail`` or ``:info`` and ``f`` ``:read``, ``:write`` or ``:cas`` (``[from to]``). A ``:fail``
  cas compared unequal (a definite outcome); a ``:fail`` read or write did not happen and is
  dropped; ``:info`` (e.g. ``:timed-out``) and an invoke never completed leave the outcome
  unknown. Lines of other shapes are not events and are skipped.
* ``porcupine-kv``: ``{:process P, :type :invoke|:ok, :f :get|:put|:append, :key "K",
  :value "V"}`` (``nil`` for a get's invoke).
"""

from __future__ import annotations

import re

from returns.result import Failure, Result, Success

from models.history import (
    CasResult,
    History,
    HistoryHeader,
    HistoryParseError,
    KvAppend,
    KvGet,
    KvPut,
    OkResult,
    Operation,
    OperationRecord,
    OperationResult,
    RegisterCas,
    RegisterRead,
    RegisterValue,
    RegisterWrite,
    ValueResult,
)

_JEPSEN_LINE = re.compile(r"^INFO\s+jepsen\.util\s+-\s+(\d+)\s+:(\w+)\s+:(\w+)\s+(.*?)\s*$")
_JEPSEN_CAS = re.compile(r"^\[\s*(-?\d+|nil)\s+(-?\d+|nil)\s*\]$")
_KV_LINE = re.compile(
    r'^\{:process (\d+), :type :(\w+), :f :(\w+), :key "((?:[^"\\]|\\.)*)", '
    r':value (nil|"(?:[^"\\]|\\.)*")\}\s*$'
)


def _jepsen_function(operation: Operation) -> str:
    if isinstance(operation, RegisterRead):
        return "read"
    return "write" if isinstance(operation, RegisterWrite) else "cas"


class _Pending:
    """An invoked operation waiting for its completion line."""

    def __init__(self, line: int, operation: Operation) -> None:
        self.line = line
        self.operation = operation


def _register_value(text: str) -> RegisterValue | None:
    if text == "nil":
        return None
    return int(text)


def _jepsen_operation(function: str, value: str, line: int) -> Operation | HistoryParseError:
    if function == "read":
        return RegisterRead()
    if function == "write":
        if not re.fullmatch(r"-?\d+", value):
            return HistoryParseError(line=line, field="value", reason=f"bad write value {value}")
        return RegisterWrite(value=int(value))
    if function == "cas":
        match = _JEPSEN_CAS.match(value)
        if match is None:
            return HistoryParseError(line=line, field="value", reason=f"bad cas value {value}")
        return RegisterCas(
            expected=_register_value(match.group(1)), new=_register_value(match.group(2))
        )
    return HistoryParseError(line=line, field="f", reason=f"unknown function :{function}")


def _jepsen_result(
    kind: str, operation: Operation, value: str, line: int
) -> OperationResult | HistoryParseError | None:
    """The definite result of a completion, None when it did not happen, or an error."""
    if isinstance(operation, RegisterCas):
        return CasResult(succeeded=kind == "ok")
    if kind == "fail":
        return None
    if isinstance(operation, RegisterRead):
        if not re.fullmatch(r"-?\d+|nil", value):
            return HistoryParseError(line=line, field="value", reason=f"bad read value {value}")
        return ValueResult(value=_register_value(value))
    return OkResult()


def parse_jepsen(text: str) -> Result[History, HistoryParseError]:
    """Parse a Jepsen etcd register log (see the module docstring)."""
    pending: dict[int, _Pending] = {}
    records: list[tuple[int, OperationRecord]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        match = _JEPSEN_LINE.match(raw)
        if match is None:
            continue
        process, kind, function, value = (
            int(match.group(1)),
            match.group(2),
            match.group(3),
            match.group(4),
        )
        if kind == "invoke":
            operation = _jepsen_operation(function, value, number)
            if isinstance(operation, HistoryParseError):
                return Failure(operation)
            if process in pending:
                return Failure(
                    HistoryParseError(
                        line=number, field="process", reason=f"process {process} invoked twice"
                    )
                )
            pending[process] = _Pending(number, operation)
            continue
        started = pending.pop(process, None)
        if started is None or _jepsen_function(started.operation) != function:
            return Failure(
                HistoryParseError(
                    line=number,
                    field="process",
                    reason=f"completion of :{function} without a matching invoke by {process}",
                )
            )
        if kind == "info":
            records.append((started.line, _unknown(process, started.line, started.operation)))
            continue
        if kind not in ("ok", "fail"):
            return Failure(
                HistoryParseError(line=number, field="type", reason=f"unknown type :{kind}")
            )
        result = _jepsen_result(kind, started.operation, value, number)
        if isinstance(result, HistoryParseError):
            return Failure(result)
        if result is not None:
            records.append(
                (
                    started.line,
                    OperationRecord(
                        client_id=process,
                        call_time=started.line,
                        return_time=number,
                        operation=started.operation,
                        result=result,
                    ),
                )
            )
    for process, started in pending.items():
        records.append((started.line, _unknown(process, started.line, started.operation)))
    return Success(_history(records, "cas-register"))


def _unknown(process: int, line: int, operation: Operation) -> OperationRecord:
    return OperationRecord(
        client_id=process, call_time=line, return_time=None, operation=operation, definite=False
    )


def _history(records: list[tuple[int, OperationRecord]], model: str) -> History:
    records.sort(key=lambda item: item[0])
    header = HistoryHeader(model="cas-register" if model == "cas-register" else "kv")
    return History(
        header=header,
        operations=tuple(record for _, record in records),
        operation_lines=tuple(line for line, _ in records),
    )


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _unquote(text: str) -> str:
    return _unescape(text[1:-1])


def parse_porcupine_kv(text: str) -> Result[History, HistoryParseError]:
    """Parse porcupine's kv log format (see the module docstring)."""
    pending: dict[int, _Pending] = {}
    records: list[tuple[int, OperationRecord]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        match = _KV_LINE.match(raw)
        if match is None:
            return Failure(HistoryParseError(line=number, reason="not a porcupine kv event"))
        process, kind, function = int(match.group(1)), match.group(2), match.group(3)
        key, value = _unescape(match.group(4)), match.group(5)
        if kind == "invoke":
            operation: Operation
            if function == "get":
                operation = KvGet(key=key)
            elif function in ("put", "append") and value != "nil":
                cls = KvPut if function == "put" else KvAppend
                operation = cls(key=key, value=_unquote(value))
            else:
                return Failure(
                    HistoryParseError(line=number, field="f", reason=f"bad :{function} invoke")
                )
            if process in pending:
                return Failure(
                    HistoryParseError(line=number, field="process", reason="invoked twice")
                )
            pending[process] = _Pending(number, operation)
            continue
        started = pending.pop(process, None)
        if kind != "ok" or started is None:
            return Failure(
                HistoryParseError(
                    line=number, field="type", reason=f"unexpected :{kind} for process {process}"
                )
            )
        result: OperationResult = OkResult()
        if isinstance(started.operation, KvGet):
            if value == "nil":
                return Failure(
                    HistoryParseError(line=number, field="value", reason="get returned nil")
                )
            result = ValueResult(value=_unquote(value))
        records.append(
            (
                started.line,
                OperationRecord(
                    client_id=process,
                    call_time=started.line,
                    return_time=number,
                    operation=started.operation,
                    result=result,
                ),
            )
        )
    for process, started in pending.items():
        records.append((started.line, _unknown(process, started.line, started.operation)))
    return Success(_history(records, "kv"))
