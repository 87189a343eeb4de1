"""Deliberately broken API servers (``serve apiserver --mutant NAME``), so that the conformance
checker can be shown to catch each kind of bug it claims to.

- ``stale-list``: a list without resourceVersion is read a few revisions in the past (a cache
  answering as if it were the store).
- ``skip-watch-event``: every fifth change event of each watch stream is not sent.
- ``ignore-resource-version``: updates and deletes lose their resourceVersion (and
  preconditions) before the machine sees them, so every update is unconditional.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from impl.apiserver.state import LOAD_OPERATION
from models.apiserver.messages import ApiRequest, ApiResponse, StorageRange, StorageTxn
from runner.apiserver import MUTANTS as MUTANT_NAMES
from runner.apiserver.driver import Sink, StoreCallback
from runner.apiserver.local_store import LocalStore

MUTANTS: Final = MUTANT_NAMES
STALE_REVISIONS: Final = 4
SKIP_EVERY: Final = 5


def stale_range(
    command: StorageRange | StorageTxn, revision: int, compact_revision: int
) -> StorageRange | StorageTxn:
    """A client's list (a range over a prefix, at no given revision) read ``STALE_REVISIONS``
    back from the store's ``revision``; other operations (the watch cache's load too)
    unchanged."""
    if (
        isinstance(command, StorageRange)
        and command.operation_id != LOAD_OPERATION
        and command.request.range_end
        and command.request.revision == 0
    ):
        past = max(compact_revision + 1, 1, revision - STALE_REVISIONS)
        request = msgspec.structs.replace(command.request, revision=past)
        return msgspec.structs.replace(command, request=request)
    return command


class StaleListStore(LocalStore):
    """Lists read ``STALE_REVISIONS`` back (:func:`stale_range`)."""

    def submit(self, command: StorageRange | StorageTxn, done: StoreCallback) -> None:
        super().submit(stale_range(command, self.revision, self.state.compact_revision), done)


class SkippingSink:
    """Passes everything on but every ``SKIP_EVERY``-th change event of each watch."""

    def __init__(self, inner: Sink) -> None:
        self.inner = inner
        self.counts: dict[int, int] = {}

    def respond(self, request_id: int, response: ApiResponse) -> None:
        self.inner.respond(request_id, response)

    def start_watch(self, request_id: int, content_type: str) -> None:
        self.inner.start_watch(request_id, content_type)

    def send_watch(self, watch_id: int, line: bytes) -> None:
        if b'"type":"BOOKMARK"' not in line and b'"type":"ERROR"' not in line:
            self.counts[watch_id] = self.counts.get(watch_id, 0) + 1
            if self.counts[watch_id] % SKIP_EVERY == 0:
                return
        self.inner.send_watch(watch_id, line)

    def end_watch(self, watch_id: int) -> None:
        self.counts.pop(watch_id, None)
        self.inner.end_watch(watch_id)


def _without_versions(body: Any) -> Any:
    if isinstance(body, dict):
        body.pop("preconditions", None)
        meta = body.get("metadata")
        if isinstance(meta, dict):
            meta.pop("resourceVersion", None)
    return body


def forget_resource_versions(request: ApiRequest) -> ApiRequest:
    """The request without the resourceVersion a PUT or DELETE was conditioned on."""
    if request.method not in ("PUT", "DELETE") or not request.body:
        return request
    try:
        body = msgspec.json.decode(request.body)
    except msgspec.DecodeError:
        return request
    return msgspec.structs.replace(request, body=msgspec.json.encode(_without_versions(body)))
