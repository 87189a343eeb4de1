"""The ``Status`` answers of kube-apiserver's errors (apimachinery ``pkg/api/errors``).

Each constructor gives the Status kube-apiserver sends for that failure: its ``reason``, HTTP
``code`` and message wording (``pods "x" not found``, ``Operation cannot be fulfilled on ...``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from models.field_errors import FieldError, FieldErrorType
from models.k8s.meta import ListMeta
from models.k8s.meta_ops import Status, StatusCause, StatusDetails

_CAUSE_TYPES: Final = {
    FieldErrorType.INVALID: "FieldValueInvalid",
    FieldErrorType.REQUIRED: "FieldValueRequired",
    FieldErrorType.FORBIDDEN: "FieldValueForbidden",
    FieldErrorType.NOT_SUPPORTED: "FieldValueNotSupported",
    FieldErrorType.DUPLICATE: "FieldValueDuplicate",
}


def failure(
    code: int,
    reason: str,
    message: str,
    details: StatusDetails | None = None,
) -> Status:
    return Status(
        api_version="v1",
        kind="Status",
        metadata=ListMeta(),
        status="Failure",
        message=message,
        reason=reason,
        details=details,
        code=code,
    )


def success(details: StatusDetails | None = None) -> Status:
    return Status(
        api_version="v1", kind="Status", metadata=ListMeta(), status="Success", details=details
    )


def _details(qualified: str, name: str) -> StatusDetails:
    resource, _, group = qualified.partition(".")
    return StatusDetails(name=name or None, group=group or None, kind=resource)


def not_found(qualified: str, name: str) -> Status:
    return failure(404, "NotFound", f'{qualified} "{name}" not found', _details(qualified, name))


def already_exists(qualified: str, name: str) -> Status:
    return failure(
        409, "AlreadyExists", f'{qualified} "{name}" already exists', _details(qualified, name)
    )


def generate_name_conflict(qualified: str, name: str) -> Status:
    """Every ``generateName`` attempt hit an existing name (``NewGenerateNameConflict``)."""
    resource, _, group = qualified.partition(".")
    return failure(
        409,
        "AlreadyExists",
        f'{qualified} "{name}" already exists, the server was not able to generate a unique '
        "name for the object",
        StatusDetails(name=name, group=group or None, kind=resource, retry_after_seconds=1),
    )


def conflict(qualified: str, name: str, why: str) -> Status:
    return failure(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified} "{name}": {why}',
        _details(qualified, name),
    )


MODIFIED = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


def bad_request(message: str) -> Status:
    return failure(400, "BadRequest", message)


def method_not_allowed(message: str) -> Status:
    return failure(405, "MethodNotAllowed", message)


def not_acceptable(message: str) -> Status:
    return failure(406, "NotAcceptable", message)


def unsupported_media_type(message: str) -> Status:
    return failure(415, "UnsupportedMediaType", message)


def too_large(message: str) -> Status:
    return failure(413, "RequestEntityTooLarge", message)


def forbidden(qualified: str, name: str, why: str, causes: tuple[StatusCause, ...] = ()) -> Status:
    details = _details(qualified, name)
    if causes:
        details = StatusDetails(
            name=details.name, group=details.group, kind=details.kind, causes=causes
        )
    target = f'{qualified} "{name}"' if name else qualified
    return failure(403, "Forbidden", f"{target} is forbidden: {why}", details)


def expired(message: str) -> Status:
    return failure(410, "Expired", message)


def too_many_requests(message: str, causes: Sequence[StatusCause] = ()) -> Status:
    return failure(429, "TooManyRequests", message, StatusDetails(causes=tuple(causes) or None))


def internal_error(message: str) -> Status:
    return failure(500, "InternalError", f"Internal error occurred: {message}")


def unavailable(message: str) -> Status:
    return failure(503, "ServiceUnavailable", message)


def timeout(message: str) -> Status:
    return failure(504, "Timeout", message)


def resource_version_required(qualified: str, name: str) -> Status:
    """An update without resourceVersion of a kind that needs one (kube's generic store names
    the resource, not the kind, here: ``widgets.example.com "w" is invalid: ...``)."""
    body = "Invalid value: 0x0: must be specified for an update"
    resource, _, group = qualified.partition(".")
    cause = StatusCause(reason="FieldValueInvalid", message=body, field="metadata.resourceVersion")
    return failure(
        422,
        "Invalid",
        f'{qualified} "{name}" is invalid: metadata.resourceVersion: {body}',
        StatusDetails(name=name, group=group or None, kind=resource, causes=(cause,)),
    )


def too_large_resource_version(minimum: int, current: int) -> Status:
    """``NewTooLargeResourceVersionError``: a read newer than the store has reached."""
    cause = StatusCause(reason="ResourceVersionTooLarge", message="Too large resource version")
    return failure(
        504,
        "Timeout",
        f"Timeout: Too large resource version: {minimum}, current: {current}",
        StatusDetails(causes=(cause,), retry_after_seconds=1),
    )


def invalid(kind: str, group: str, name: str, errors: Sequence[FieldError]) -> Status:
    """``NewInvalid``: ``<Kind> "<name>" is invalid: <one error>`` or ``[e1, e2]``."""
    messages: list[str] = []
    for error in errors:
        if error.message not in messages:
            messages.append(error.message)
    body = messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"
    causes = tuple(
        StatusCause(reason=_CAUSE_TYPES[error.type], message=error.body, field=error.field)
        for error in errors
    )
    qualified_kind = f"{kind}.{group}" if group else kind
    return failure(
        422,
        "Invalid",
        f'{qualified_kind} "{name}" is invalid: {body}',
        StatusDetails(name=name, group=group or None, kind=kind, causes=causes),
    )
