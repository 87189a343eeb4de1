"""What etcd's auth guarantees for key-value requests: none succeeds without its permissions.

Source: etcd 3.4's auth documentation and ``authApplierV3``: once auth is enabled, a user
without the root role may read a key only if one of its roles has READ or READWRITE on a
permission range containing it, and write a key only with WRITE or READWRITE. A request
touches key ranges: a range reads ``[key, range_end)``; a put writes its key (and reads it when
``prev_kv`` is asked for); a delete writes its range (and reads it for ``prev_kv``); a txn reads
every compare's range and touches what each operation of both branches touches, nested txns
included (whichever branch runs, the request names them all).

- :data:`PERMISSION_RESPECTED` (always): a request that succeeded for a non-root user while
  auth was on touched only ranges its permissions cover.
- :data:`PERMITTED_REQUEST_SUCCEEDED` and :data:`REQUEST_DENIED` (sometimes): the companions,
  saying that non-root users' requests did succeed and were refused, so the property is not
  vacuous.

Coverage is stated point-wise: ``[begin, end)`` is covered when every key in it lies in some
permission range. The union of half-open ranges can only stop covering at ``begin`` or at a
permission's end, so it suffices to look at ``begin`` and at every permission end inside the
range. An empty range (``range_end <= key``) touches no key and is covered.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from models.etcd import DeleteRangeRequest, PutRequest, RangeRequest, TxnRequest
from models.etcd_auth import AuthAttempt, Permission
from spec.property import Property

Span = tuple[bytes, bytes | None]
"""``[begin, end)``; end None: every key from begin on."""


def span(key: bytes, range_end: bytes) -> Span:
    """etcd's range conventions as a span: one key, ``[key, range_end)``, or ``>= key``."""
    if range_end == b"":
        return key, key + b"\x00"
    if range_end == b"\x00":
        return key, None
    return key, range_end


def _contains(permission: Span, key: bytes) -> bool:
    begin, end = permission
    return begin <= key and (end is None or key < end)


def covered(permissions: Sequence[Span], wanted: Span) -> bool:
    """Whether every key of ``wanted`` lies in one of ``permissions``."""
    begin, end = wanted
    if end is not None and end <= begin:
        return True  # an empty range touches no key
    points = [begin] + [
        stop
        for _, stop in permissions
        if stop is not None and begin < stop and (end is None or stop < end)
    ]
    return all(any(_contains(permission, point) for permission in permissions) for point in points)


def touched(
    request: RangeRequest | PutRequest | DeleteRangeRequest | TxnRequest,
) -> Iterator[tuple[Span, bool]]:
    """Every span ``request`` reads (False) or writes (True)."""
    if isinstance(request, RangeRequest):
        yield span(request.key, request.range_end), False
    elif isinstance(request, PutRequest):
        yield span(request.key, b""), True
        if request.prev_kv:
            yield span(request.key, b""), False
    elif isinstance(request, DeleteRangeRequest):
        yield span(request.key, request.range_end), True
        if request.prev_kv:
            yield span(request.key, request.range_end), False
    else:
        for compare in request.compare:
            yield span(compare.key, compare.range_end), False
        for op in (*request.success, *request.failure):
            yield from touched(op)


def _spans(permissions: Sequence[Permission], write: bool) -> list[Span]:
    kinds = ("WRITE", "READWRITE") if write else ("READ", "READWRITE")
    return [
        span(permission.key, permission.range_end)
        for permission in permissions
        if permission.perm_type in kinds and permission.key != b""
    ]


def permitted(attempt: AuthAttempt) -> bool:
    """Whether the attempt's user may make its request."""
    if not attempt.auth_enabled or attempt.root:
        return True
    return all(
        covered(_spans(attempt.permissions, write), wanted)
        for wanted, write in touched(attempt.request)
    )


PERMISSION_RESPECTED: Property[AuthAttempt] = Property(
    name="auth_no_success_without_permission",
    kind="always",
    predicate=lambda attempt: not attempt.succeeded or permitted(attempt),
    description="no key-value request of a non-root user succeeds while auth is on unless its "
    "roles' permissions cover every key it reads and writes",
)
PERMITTED_REQUEST_SUCCEEDED: Property[AuthAttempt] = Property(
    name="auth_permitted_request_succeeded",
    kind="sometimes",
    predicate=lambda attempt: attempt.auth_enabled and not attempt.root and attempt.succeeded,
    description="a non-root user's request succeeded while auth was on",
)
REQUEST_DENIED: Property[AuthAttempt] = Property(
    name="auth_request_denied",
    kind="sometimes",
    predicate=lambda attempt: attempt.auth_enabled and not attempt.succeeded,
    description="a request was refused while auth was on",
)
