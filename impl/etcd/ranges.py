"""Range semantics: revision checks, min/max filters, sort, limit, keys_only and count_only.

``range_response`` turns the live key-values of a range (as seen by a read view) into etcd's
``RangeResponse``. ``count`` is the number of keys in the range before filters and limit;
``more`` says the filtered, sorted list was cut by ``limit``. Sorting with ``sort_order`` NONE
and a target other than KEY sorts ascending, as etcd does; ties keep key order.
"""

from __future__ import annotations

from models.etcd import (
    ERROR_COMPACTED,
    ERROR_FUTURE_REVISION,
    ERROR_KEY_NOT_PROVIDED,
    EtcdError,
    KeyValue,
    RangeRequest,
    RangeResponse,
    ResponseHeader,
    SortTarget,
)


def check_read_revision(revision: int, current: int, compact_revision: int) -> EtcdError | None:
    """ErrFutureRev above the current revision, ErrCompacted below the compaction revision."""
    if revision > current:
        return ERROR_FUTURE_REVISION
    if 0 < revision < compact_revision:
        return ERROR_COMPACTED
    return None


def check_range_request(
    request: RangeRequest, current: int, compact_revision: int
) -> EtcdError | None:
    """The errors a range request gets before it is executed."""
    if request.key == b"":
        return ERROR_KEY_NOT_PROVIDED
    return check_read_revision(request.revision, current, compact_revision)


def _sort_field(kv: KeyValue, target: SortTarget) -> int | bytes:
    if target == "VERSION":
        return kv.version
    if target == "CREATE":
        return kv.create_revision
    if target == "MOD":
        return kv.mod_revision
    if target == "VALUE":
        return kv.value
    return kv.key


def _passes_filters(kv: KeyValue, request: RangeRequest) -> bool:
    if request.min_mod_revision and kv.mod_revision < request.min_mod_revision:
        return False
    if request.max_mod_revision and kv.mod_revision > request.max_mod_revision:
        return False
    if request.min_create_revision and kv.create_revision < request.min_create_revision:
        return False
    return not (request.max_create_revision and kv.create_revision > request.max_create_revision)


def range_response(
    request: RangeRequest, found: tuple[KeyValue, ...], header_revision: int
) -> RangeResponse:
    """etcd's response for ``request`` given the live key-values ``found`` (ascending by key)."""
    count = len(found)
    header = ResponseHeader(revision=header_revision)
    if request.count_only:
        # etcd counts the range and returns no key-values, so nothing is cut by the limit.
        return RangeResponse(header=header, count=count)
    kvs = [kv for kv in found if _passes_filters(kv, request)]
    order = request.sort_order
    if order == "NONE" and request.sort_target != "KEY":
        order = "ASCEND"
    if order == "ASCEND":
        kvs.sort(key=lambda kv: _sort_field(kv, request.sort_target))
    elif order == "DESCEND":
        kvs.sort(key=lambda kv: _sort_field(kv, request.sort_target), reverse=True)
    more = False
    if request.limit > 0 and len(kvs) > request.limit:
        kvs = kvs[: request.limit]
        more = True
    if request.keys_only:
        kvs = [
            KeyValue(
                key=kv.key,
                create_revision=kv.create_revision,
                mod_revision=kv.mod_revision,
                version=kv.version,
                lease=kv.lease,
            )
            for kv in kvs
        ]
    return RangeResponse(header=header, kvs=tuple(kvs), more=more, count=count)
