"""Linearizability of an API server history, one object at a time: each object is a
compare-and-set register holding its current version's value (``Seen.value``: the token its
data carries, marked while a finalizer holds it; ``None``: absent), checked by the shared
linearizability checker (``spec.linearizability*``) with the cas-register model.

The mapping follows the API's semantics: a create is ``cas(None, token)``; an update conditioned
on a version is ``cas(value of that version, new token)`` (409 and 404 are failed cases); a
delete conditioned on a version is ``cas(value, None)``, or ``cas(value, token#deleting)`` when
a finalizer holds the object (that delete makes a new version of the same data); a get reads
the value (404: None); a list without resourceVersion reads every object at once, so each
object it shows or leaves out is a read at the list's times. A server that answers a stale
list, or lets an update through on an old resourceVersion, has an object whose history is not
linearizable.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

from models.apiserver.history import ApiHistory, ApiOperation
from models.history import (
    CasResult,
    Operation,
    OperationRecord,
    OperationResult,
    RegisterCas,
    RegisterRead,
    ValueResult,
)
from spec.etcd.registers import RegisterModel
from spec.linearizability import Budget
from spec.linearizability_report import CheckReport, check_history

_COMPARING: Final[Mapping[str, tuple[int, ...]]] = {
    "create": (409,),
    "update": (404, 409),
    "delete": (404, 409),
}
"""The refusals that come from comparing the object: it exists, it is absent, another version."""


def _record(
    op: ApiOperation, operation: Operation, result: OperationResult | None
) -> OperationRecord:
    return OperationRecord(
        client_id=op.client,
        call_time=op.call_time,
        return_time=op.return_time,
        operation=operation,
        result=result if op.definite else None,
        definite=op.definite,
    )


def _cas(op: ApiOperation, expected: str | None, new: str | None) -> OperationRecord:
    return _record(op, RegisterCas(expected=expected, new=new), CasResult(succeeded=op.succeeded))


def _write_record(op: ApiOperation) -> OperationRecord | None:
    """The write as a register operation; None for a refusal that says nothing about the
    object's state (an invalid body, a missing namespace: only 409 and 404 compare)."""
    if op.definite and not op.succeeded and op.status not in _COMPARING[op.kind]:
        return None
    if op.kind == "create":
        return _cas(op, None, op.token)
    if op.kind == "update" and op.precondition:
        return _cas(op, op.expected_token, op.token)
    if op.kind == "delete" and op.precondition:
        if op.succeeded and op.objects:  # the answer shows whether it marked or removed
            shown = op.objects[0]
            return _cas(op, op.expected_token, shown.value if shown.deleting else None)
        return _cas(op, op.expected_token, f"{op.expected_token}#deleting" if op.marks else None)
    return None


def records_for(history: ApiHistory, name: str) -> Iterator[OperationRecord]:
    """The register operations of object ``name``, in call order."""
    for op in history.operations:
        if op.kind == "list":
            if op.succeeded:
                shown = {seen.name: seen.value for seen in op.objects}
                yield _record(op, RegisterRead(), ValueResult(value=shown.get(name)))
            continue
        if op.name != name:
            continue
        if op.kind == "get":
            if op.status in (200, 404):
                value = op.objects[0].value if op.objects else None
                yield _record(op, RegisterRead(), ValueResult(value=value))
            continue
        record = _write_record(op)
        if record is not None:
            yield record


def check_objects(history: ApiHistory, max_steps: int = 2_000_000) -> dict[str, CheckReport]:
    """Each object's verdict."""
    model = RegisterModel(with_cas=True)
    return {
        name: check_history(model, list(records_for(history, name)), Budget(max_steps=max_steps))
        for name in history.names
    }
