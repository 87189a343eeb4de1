"""The search against the definition itself, on small random register and kv histories.

Herlihy & Wing: a history is linearizable when some order of its operations respects real time
(``a`` before ``b`` whenever ``a`` returned before ``b`` was called) and, run in that order, the
sequential model gives every observed result. An operation with an unknown outcome may appear
anywhere after its call, or not at all. The oracle enumerates exactly that: every subset of the
unknown operations, every order of the chosen operations. Histories are drawn at random (not
from the model), so both verdicts occur. The kv histories (appends, puts and gets of one key)
exercise the search's pruning of states no append can lead to a pending get's answer from."""

from collections.abc import Sequence
from itertools import combinations, permutations
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

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
    RegisterWrite,
    ValueResult,
)
from spec.etcd.registers import KvModel, RegisterModel
from spec.linearizability import ILLEGAL, Budget, SequentialModel
from spec.linearizability_report import check_history

MODEL = RegisterModel(with_cas=True)
KV = KvModel()
VALUES = st.sampled_from([None, 0, 1])
PIECES = st.sampled_from(["x", "y"])
ANSWERS = st.sampled_from(["", "x", "y", "xy", "yx", "xx", "xyx", "yxy"])


@st.composite
def random_history(draw: st.DrawFn) -> list[OperationRecord]:
    """Up to 6 operations with random intervals, requests and results."""
    records: list[OperationRecord] = []
    for client in range(draw(st.integers(1, 6))):
        call = draw(st.integers(0, 8))
        returned: int | None = call + draw(st.integers(0, 6))
        if draw(st.integers(0, 4)) == 0:
            returned = None
        kind = draw(st.sampled_from(["read", "write", "cas"]))
        request: Operation
        result: OperationResult
        if kind == "read":
            if returned is None:
                continue  # an unknown read has no effect: it would be dropped
            request, result = RegisterRead(), ValueResult(value=draw(VALUES))
        elif kind == "write":
            request, result = RegisterWrite(value=draw(VALUES)), OkResult()
        else:
            request = RegisterCas(expected=draw(VALUES), new=draw(VALUES))
            result = CasResult(succeeded=draw(st.booleans()))
        records.append(
            OperationRecord(
                client_id=client,
                call_time=call,
                return_time=returned,
                operation=request,
                result=result if returned is not None else None,
                definite=returned is not None,
            )
        )
    return records


@st.composite
def random_kv_history(draw: st.DrawFn) -> list[OperationRecord]:
    """Up to 7 operations on one key with random intervals, requests and answers."""
    records: list[OperationRecord] = []
    for client in range(draw(st.integers(1, 7))):
        call = draw(st.integers(0, 8))
        returned: int | None = call + draw(st.integers(0, 6))
        if draw(st.integers(0, 4)) == 0:
            returned = None
        kind = draw(st.sampled_from(["get", "get", "append", "append", "put"]))
        request: Operation
        result: OperationResult
        if kind == "get":
            if returned is None:
                continue  # an unknown get has no effect: it would be dropped
            request, result = KvGet(key="k"), ValueResult(value=draw(ANSWERS))
        elif kind == "append":
            request, result = KvAppend(key="k", value=draw(PIECES)), OkResult()
        else:
            request, result = KvPut(key="k", value=draw(ANSWERS)), OkResult()
        records.append(
            OperationRecord(
                client_id=client,
                call_time=call,
                return_time=returned,
                operation=request,
                result=result if returned is not None else None,
                definite=returned is not None,
            )
        )
    return records


def respects_real_time(order: Sequence[OperationRecord]) -> bool:
    for later, b in enumerate(order):
        for a in order[later + 1 :]:
            # a comes after b in the order, but returned before b was called.
            if a.return_time is not None and a.return_time < b.call_time:
                return False
    return True


def legal(order: Sequence[OperationRecord], model: SequentialModel[Any] = MODEL) -> bool:
    state = model.initial_state()
    for record in order:
        moved = model.transition(record.operation, record.result if record.definite else None)(
            state
        )
        if moved is ILLEGAL:
            return False
        state = moved
    return True


def oracle(records: Sequence[OperationRecord], model: SequentialModel[Any] = MODEL) -> bool:
    definite = [record for record in records if record.definite]
    unknown = [record for record in records if not record.definite]
    for size in range(len(unknown) + 1):
        for chosen in combinations(unknown, size):
            for order in permutations([*definite, *chosen]):
                if respects_real_time(order) and legal(order, model):
                    return True
    return False


@given(random_history())
def test_verdict_matches_the_definition(records: list[OperationRecord]) -> None:
    report = check_history(MODEL, records, Budget(max_steps=1_000_000))
    expected = "linearizable" if oracle(records) else "not_linearizable"
    assert report.verdict == expected


@given(random_history())
def test_a_linearizable_verdict_comes_with_an_order_the_definition_accepts(
    records: list[OperationRecord],
) -> None:
    report = check_history(MODEL, records, Budget(max_steps=1_000_000))
    if report.verdict != "linearizable":
        return
    (_, order), *_ = report.orders or (("", ()),)
    ordered = [records[index] for index in order]
    assert respects_real_time(ordered)
    assert legal(ordered)
    assert {index for index, record in enumerate(records) if record.definite} <= set(order)


@given(random_kv_history())
def test_kv_verdict_matches_the_definition(records: list[OperationRecord]) -> None:
    report = check_history(KV, records, Budget(max_steps=1_000_000))
    expected = "linearizable" if oracle(records, KV) else "not_linearizable"
    assert report.verdict == expected
