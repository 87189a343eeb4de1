"""Small helpers to write histories by hand in tests."""

from models.etcd import KeyValue, ResponseHeader
from models.history import (
    CasResult,
    OkResult,
    OperationRecord,
    OperationResult,
    RegisterCas,
    RegisterRead,
    RegisterValue,
    RegisterWrite,
    ValueResult,
)
from models.history import Operation as AnyOperation


def operation(
    client: int,
    call: int,
    returned: int | None,
    request: AnyOperation,
    result: OperationResult | None,
) -> OperationRecord:
    """A record; ``returned`` None (or ``result`` None) makes the outcome unknown."""
    definite = returned is not None and result is not None
    return OperationRecord(
        client_id=client,
        call_time=call,
        return_time=returned,
        operation=request,
        result=result,
        definite=definite,
    )


def read(client: int, call: int, returned: int, value: RegisterValue) -> OperationRecord:
    return operation(client, call, returned, RegisterRead(), ValueResult(value=value))


def write(client: int, call: int, returned: int | None, value: RegisterValue) -> OperationRecord:
    result = OkResult() if returned is not None else None
    return operation(client, call, returned, RegisterWrite(value=value), result)


def cas(
    client: int,
    call: int,
    returned: int | None,
    expected: RegisterValue,
    new: RegisterValue,
    succeeded: bool | None,
) -> OperationRecord:
    result = None if succeeded is None else CasResult(succeeded=succeeded)
    return operation(client, call, returned, RegisterCas(expected=expected, new=new), result)


def header(revision: int) -> ResponseHeader:
    """An etcd response header that only says the revision."""
    return ResponseHeader(revision=revision)


def key_value(key: bytes, value: bytes, create: int, mod: int, version: int) -> KeyValue:
    """An etcd key-value (``mvccpb.KeyValue``) without a lease."""
    return KeyValue(key=key, value=value, create_revision=create, mod_revision=mod, version=version)
