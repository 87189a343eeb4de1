"""Parsers of other history formats into kubeoracle :class:`models.history.History` records.

Pure: numbered lines in (streamed: ``runner.input_files.read_lines``, or
:func:`models.history.text_lines` for a text in memory), a history or an
:class:`~models.strict_input.InputError` naming the line and field out. Times are event
positions (1-based line numbers), since neither format records clock times.

* ``jepsen``: the Jepsen etcd logs of porcupine's corpus, one event per line
  ``INFO  jepsen.util - <process> <type> <f> <value>`` with ``type`` ``:invoke``, ``:ok``,
  ``:fail`` or ``:info`` and ``f`` ``:read``, ``:write`` or ``:cas`` (``[from to]``). A ``:fail``
  cas compared unequal (a definite outcome); a ``:fail`` read or write did not happen and is
  dropped; ``:info`` (e.g. ``:timed-out``) and an invoke never completed leave the outcome
  unknown. Lines of other shapes are not events and are skipped.
* ``porcupine-kv``: ``{:process P, :type :invoke|:ok, :f :get|:put|:append, :key "K",
  :value "V"}`` (``nil`` for a get's invoke).

Register values and process numbers are int64, like every integer a reader accepts
(``docs/limits.md``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from returns.result import Failure, Result, Success

from models.history import (
    CasResult,
    History,
    HistoryHeader,
    KvAppend,
    KvGet,
    KvPut,
    ModelName,
    OkResult,
    Operation,
    OperationRecord,
    OperationResult,
    RegisterCas,
    RegisterRead,
    RegisterValue,
    RegisterWrite,
    ValueResult,
    text_lines,
)
from models.strict_input import INT64_MAX, INT64_MIN, InputError, utf8_text

_JEPSEN_LINE = re.compile(r"^INFO\s+jepsen\.util\s+-\s+(\d+)\s+:(\w+)\s+:(\w+)\s+(.*?)\s*$")
_JEPSEN_CAS = re.compile(r"^\[\s*(-?\d+|nil)\s+(-?\d+|nil)\s*\]$")
_INTEGER = re.compile(r"-?\d+")
_KV_LINE = re.compile(
    r'^\{:process (\d+), :type :(\w+), :f :(\w+), :key "((?:[^"\\]|\\.)*)", '
    r':value (nil|"(?:[^"\\]|\\.)*")\}\s*$'
)

NumberedLines = Iterable[tuple[int, bytes]]


class _Reader:
    """One file being read: the source named in errors, the invocations waiting for their
    completion (process -> call line and operation) and the operations read so far."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.pending: dict[int, tuple[int, Operation]] = {}
        self.records: list[OperationRecord] = []

    def error(self, line: int, field: str, reason: str) -> InputError:
        return InputError(reason, source=self.source, line=line, field=field)

    def integer(self, text: str, line: int, field: str) -> int:
        value = int(text)
        if len(text) > 18 and not INT64_MIN <= value <= INT64_MAX:
            raise self.error(line, field, f"integer {value} is outside int64")
        return value

    def invoke(self, process: int, line: int, operation: Operation) -> None:
        if process in self.pending:
            raise self.error(line, "process", f"process {process} invoked twice")
        self.pending[process] = (line, operation)

    def record(
        self,
        process: int,
        call: int,
        returned: int | None,
        operation: Operation,
        result: OperationResult | None,
    ) -> None:
        self.records.append(
            OperationRecord(
                client_id=process,
                call_time=call,
                return_time=returned,
                operation=operation,
                result=result,
                definite=returned is not None,
            )
        )

    def history(self, model: ModelName) -> History:
        """The operations in call order; an invocation never completed has an unknown outcome."""
        for process, (line, operation) in self.pending.items():
            self.record(process, line, None, operation, None)
        self.records.sort(key=lambda record: record.call_time)
        return History(
            header=HistoryHeader(model=model),
            operations=tuple(self.records),
            operation_lines=tuple(record.call_time for record in self.records),
        )


def _register_value(reader: _Reader, text: str, line: int) -> RegisterValue:
    return None if text == "nil" else reader.integer(text, line, "value")


def _jepsen_operation(reader: _Reader, function: str, value: str, line: int) -> Operation:
    if function == "read":
        return RegisterRead()
    if function == "write":
        if _INTEGER.fullmatch(value) is None:
            raise reader.error(line, "value", f"bad write value {value}")
        return RegisterWrite(value=reader.integer(value, line, "value"))
    if function == "cas":
        match = _JEPSEN_CAS.match(value)
        if match is None:
            raise reader.error(line, "value", f"bad cas value {value}")
        expected = _register_value(reader, match.group(1), line)
        return RegisterCas(expected=expected, new=_register_value(reader, match.group(2), line))
    raise reader.error(line, "f", f"unknown function :{function}")


def _jepsen_function(operation: Operation) -> str:
    if isinstance(operation, RegisterRead):
        return "read"
    return "write" if isinstance(operation, RegisterWrite) else "cas"


def _jepsen_result(
    reader: _Reader, kind: str, operation: Operation, value: str, line: int
) -> OperationResult | None:
    """The definite result of a completion, or None when the operation did not happen."""
    if kind not in ("ok", "fail"):
        raise reader.error(line, "type", f"unknown type :{kind}")
    if isinstance(operation, RegisterCas):
        return CasResult(succeeded=kind == "ok")
    if kind == "fail":
        return None  # a failed read or write did not happen
    if isinstance(operation, RegisterRead):
        if value != "nil" and _INTEGER.fullmatch(value) is None:
            raise reader.error(line, "value", f"bad read value {value}")
        return ValueResult(value=_register_value(reader, value, line))
    return OkResult()


class _JepsenReader(_Reader):
    """A Jepsen log being read. Logs repeat a few operations and results (a register of small
    values), so each distinct text is decoded once and its record shared: parsing is faster
    and a long history takes less memory."""

    def __init__(self, source: str) -> None:
        super().__init__(source)
        self.operations: dict[tuple[str, str], Operation] = {}
        self.results: dict[tuple[str, str, Operation], OperationResult | None] = {}

    def on_line(self, process: int, kind: str, function: str, value: str, line: int) -> None:
        if kind == "invoke":
            operation = self.operations.get((function, value))
            if operation is None:
                operation = _jepsen_operation(self, function, value, line)
                self.operations[(function, value)] = operation
            self.invoke(process, line, operation)
            return
        started = self.pending.pop(process, None)
        if started is None or _jepsen_function(started[1]) != function:
            reason = f"completion of :{function} without a matching invoke by {process}"
            raise self.error(line, "process", reason)
        call, operation = started
        if kind == "info":
            self.record(process, call, None, operation, None)
            return
        if (kind, value, operation) in self.results:
            result = self.results[(kind, value, operation)]
        else:
            result = _jepsen_result(self, kind, operation, value, line)
            self.results[(kind, value, operation)] = result
        if result is not None:
            self.record(process, call, line, operation, result)


def parse_jepsen_lines(lines: NumberedLines, source: str) -> Result[History, InputError]:
    """Read a Jepsen etcd register log, one line at a time (see the module docstring)."""
    reader = _JepsenReader(source)
    try:
        for number, raw in lines:
            match = _JEPSEN_LINE.match(utf8_text(raw, source, first_line=number))
            if match is not None:
                process, kind, function, value = match.groups()
                reader.on_line(
                    reader.integer(process, number, "process"), kind, function, value, number
                )
    except InputError as error:
        return Failure(error)
    return Success(reader.history("cas-register"))


def parse_jepsen(text: str, source: str = "<text>") -> Result[History, InputError]:
    """:func:`parse_jepsen_lines` over a text in memory."""
    return parse_jepsen_lines(text_lines(text, source), source)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _kv_invoke(reader: _Reader, function: str, key: str, value: str, line: int) -> Operation:
    if function == "get":
        return KvGet(key=key)
    if function in ("put", "append") and value != "nil":
        kind = KvPut if function == "put" else KvAppend
        return kind(key=key, value=_unescape(value[1:-1]))
    raise reader.error(line, "f", f"bad :{function} invoke")


def parse_porcupine_kv_lines(lines: NumberedLines, source: str) -> Result[History, InputError]:
    """Read porcupine's kv log format, one line at a time (see the module docstring)."""
    reader = _Reader(source)
    try:
        for number, raw in lines:
            text = utf8_text(raw, source, first_line=number)
            if not text.strip():
                continue
            match = _KV_LINE.match(text)
            if match is None:
                raise reader.error(number, "", "not a porcupine kv event")
            process = reader.integer(match.group(1), number, "process")
            kind, function = match.group(2), match.group(3)
            key, value = _unescape(match.group(4)), match.group(5)
            if kind == "invoke":
                reader.invoke(process, number, _kv_invoke(reader, function, key, value, number))
                continue
            started = reader.pending.pop(process, None)
            if kind != "ok" or started is None:
                raise reader.error(number, "type", f"unexpected :{kind} for process {process}")
            call, operation = started
            result: OperationResult = OkResult()
            if isinstance(operation, KvGet):
                if value == "nil":
                    raise reader.error(number, "value", "get returned nil")
                result = ValueResult(value=_unescape(value[1:-1]))
            reader.record(process, call, number, operation, result)
    except InputError as error:
        return Failure(error)
    return Success(reader.history("kv"))


def parse_porcupine_kv(text: str, source: str = "<text>") -> Result[History, InputError]:
    """:func:`parse_porcupine_kv_lines` over a text in memory."""
    return parse_porcupine_kv_lines(text_lines(text, source), source)
