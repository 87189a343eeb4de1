"""Sequential models of a register, a compare-and-set register and a string key-value store.

Each is the textbook object, written to be obviously correct:

* ``register``: one value (``None`` until written); ``read`` returns it, ``write`` replaces it;
* ``cas-register``: a register with ``cas(expected, new)``, which sets ``new`` and succeeds when
  the value equals ``expected``, and otherwise fails and changes nothing (Jepsen's semantics:
  a ``:fail`` cas compared unequal);
* ``kv``: independent string registers by key, ``""`` until written; ``kv_get`` returns the
  string, ``kv_put`` replaces it, ``kv_append`` appends. Keys are independent, so the checker
  splits a kv history per key and each partition's state is one string. Appends only extend
  it: a get whose answer does not start with the state can only be legal after a put, which
  lets the search abandon such states (``grows``, ``reach_test``).
"""

from __future__ import annotations

from collections.abc import Callable

from models.history import (
    CasResult,
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
from spec.linearizability import ILLEGAL, Illegal

RegisterTransition = Callable[[RegisterValue], RegisterValue | Illegal]


def _show(value: RegisterValue) -> str:
    return "nil" if value is None else repr(value)


def _read(expected: RegisterValue) -> RegisterTransition:
    def read(state: RegisterValue) -> RegisterValue | Illegal:
        return state if state == expected else ILLEGAL

    return read


def _write(value: RegisterValue) -> RegisterTransition:
    def write(_state: RegisterValue) -> RegisterValue | Illegal:
        return value

    return write


def _cas(operation: RegisterCas, succeeded: bool | None) -> RegisterTransition:
    expected, new = operation.expected, operation.new

    def cas_succeeded(state: RegisterValue) -> RegisterValue | Illegal:
        return new if state == expected else ILLEGAL

    def cas_failed(state: RegisterValue) -> RegisterValue | Illegal:
        return ILLEGAL if state == expected else state

    def cas_unknown(state: RegisterValue) -> RegisterValue | Illegal:
        return new if state == expected else state

    if succeeded is None:
        return cas_unknown
    return cas_succeeded if succeeded else cas_failed


class RegisterModel:
    """A register (``with_cas`` false) or a compare-and-set register (``with_cas`` true)."""

    def __init__(self, *, with_cas: bool) -> None:
        self.with_cas = with_cas

    @property
    def name(self) -> str:
        return "cas-register" if self.with_cas else "register"

    def initial_state(self) -> RegisterValue:
        return None

    def transition(
        self, operation: Operation, result: OperationResult | None
    ) -> RegisterTransition:
        if isinstance(operation, RegisterRead):
            assert isinstance(result, ValueResult), "unknown reads are dropped before"
            return _read(result.value)
        if isinstance(operation, RegisterWrite):
            return _write(operation.value)
        assert isinstance(operation, RegisterCas)
        assert result is None or isinstance(result, CasResult)
        return _cas(operation, None if result is None else result.succeeded)

    def expected(
        self, state: RegisterValue, operation: Operation
    ) -> tuple[OperationResult, RegisterValue]:
        if isinstance(operation, RegisterRead):
            return ValueResult(value=state), state
        if isinstance(operation, RegisterWrite):
            return OkResult(), operation.value
        assert isinstance(operation, RegisterCas)
        if state == operation.expected:
            return CasResult(succeeded=True), operation.new
        return CasResult(succeeded=False), state

    def has_effect(self, operation: Operation) -> bool:
        return not isinstance(operation, RegisterRead)

    def read_only(self, operation: Operation, result: OperationResult) -> bool:
        if isinstance(operation, RegisterCas):
            return isinstance(result, CasResult) and not result.succeeded
        return isinstance(operation, RegisterRead)

    def grows(self, operation: Operation) -> bool:
        del operation  # a write may set any value: no state is above another
        return False

    def reach_test(
        self, operation: Operation, result: OperationResult
    ) -> Callable[[RegisterValue], bool] | None:
        del operation, result  # no order among values
        return None

    def checked(self, record: OperationRecord) -> bool:
        del record  # every operation of this model is checked
        return True

    def invalid_reason(self, record: OperationRecord) -> str | None:
        operation, result = record.operation, record.result
        allowed: tuple[type, ...] = (RegisterRead, RegisterWrite)
        if self.with_cas:
            allowed = (*allowed, RegisterCas)
        if not isinstance(operation, allowed):
            return f"operation {type(operation).__name__} is not a {self.name} operation"
        if not record.definite or result is None:
            return None
        wanted = {RegisterRead: ValueResult, RegisterWrite: OkResult, RegisterCas: CasResult}
        if not isinstance(result, wanted[type(operation)]):
            return f"result {type(result).__name__} does not answer {type(operation).__name__}"
        return None

    def partition_key(self, operation: Operation) -> str | None:
        del operation  # one register: no partitions
        return None

    def describe_operation(self, operation: Operation) -> str:
        if isinstance(operation, RegisterRead):
            return "read()"
        if isinstance(operation, RegisterWrite):
            return f"write({_show(operation.value)})"
        assert isinstance(operation, RegisterCas)
        return f"cas({_show(operation.expected)} -> {_show(operation.new)})"

    def describe_result(self, result: OperationResult) -> str:
        if isinstance(result, ValueResult):
            return _show(result.value)
        if isinstance(result, CasResult):
            return "ok" if result.succeeded else "failed (compared unequal)"
        return "ok"

    def describe_state(self, state: RegisterValue) -> str:
        return _show(state)


KvTransition = Callable[[str], str | Illegal]


def _kv_get(expected: str) -> KvTransition:
    def get(state: str) -> str | Illegal:
        return state if state == expected else ILLEGAL

    return get


def _kv_append(suffix: str) -> KvTransition:
    def append(state: str) -> str | Illegal:
        return state + suffix

    return append


def _kv_put(value: str) -> KvTransition:
    def put(_state: str) -> str | Illegal:
        return value

    return put


class KvModel:
    """String registers by key; the checker sees one key at a time (state: its string)."""

    @property
    def name(self) -> str:
        return "kv"

    def initial_state(self) -> str:
        return ""

    def transition(self, operation: Operation, result: OperationResult | None) -> KvTransition:
        if isinstance(operation, KvGet):
            assert isinstance(result, ValueResult), "unknown gets are dropped before"
            assert isinstance(result.value, str)
            return _kv_get(result.value)
        if isinstance(operation, KvAppend):
            return _kv_append(operation.value)
        assert isinstance(operation, KvPut)
        return _kv_put(operation.value)

    def expected(self, state: str, operation: Operation) -> tuple[OperationResult, str]:
        if isinstance(operation, KvGet):
            return ValueResult(value=state), state
        if isinstance(operation, KvAppend):
            return OkResult(), state + operation.value
        assert isinstance(operation, KvPut)
        return OkResult(), operation.value

    def has_effect(self, operation: Operation) -> bool:
        return not isinstance(operation, KvGet)

    def read_only(self, operation: Operation, result: OperationResult) -> bool:
        del result  # a get never changes the state, whatever it returned
        return isinstance(operation, KvGet)

    def grows(self, operation: Operation) -> bool:
        # States are ordered by extension (s <= t when t starts with s): an append extends
        # the string; a put may set anything.
        return isinstance(operation, KvAppend)

    def reach_test(self, operation: Operation, result: OperationResult) -> Callable[[str], bool]:
        # A get answering v is legal only in state v, which extends s only if v starts with s.
        assert isinstance(operation, KvGet)
        assert isinstance(result, ValueResult)
        assert isinstance(result.value, str)
        return result.value.startswith

    def checked(self, record: OperationRecord) -> bool:
        del record  # every operation of this model is checked
        return True

    def invalid_reason(self, record: OperationRecord) -> str | None:
        operation, result = record.operation, record.result
        if not isinstance(operation, KvGet | KvPut | KvAppend):
            return f"operation {type(operation).__name__} is not a kv operation"
        if not record.definite or result is None:
            return None
        if isinstance(operation, KvGet):
            if not isinstance(result, ValueResult) or not isinstance(result.value, str):
                return "a kv_get needs a value result holding a string"
        elif not isinstance(result, OkResult):
            return f"result {type(result).__name__} does not answer {type(operation).__name__}"
        return None

    def partition_key(self, operation: Operation) -> str | None:
        assert isinstance(operation, KvGet | KvPut | KvAppend)
        return operation.key

    def describe_operation(self, operation: Operation) -> str:
        if isinstance(operation, KvGet):
            return f"get({operation.key!r})"
        assert isinstance(operation, KvPut | KvAppend)
        verb = "put" if isinstance(operation, KvPut) else "append"
        return f"{verb}({operation.key!r}, {operation.value!r})"

    def describe_result(self, result: OperationResult) -> str:
        if isinstance(result, ValueResult):
            return repr(result.value)
        return "ok"

    def describe_state(self, state: str) -> str:
        return repr(state)
