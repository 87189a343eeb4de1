"""Informers of the cluster world's components: list, then watch from the list's revision; a
watch that ends or fails lists again (a reflector's loop).

Each informer is an :class:`~runner.cluster.world_state.Informer` in its component's slot;
what the component makes of a listed collection or a watch line is its own business
(``runner.cluster.world_components``). Watch lines reach an informer only from the watch it
follows now (``Caller.token`` is the watch's request id), so a line of a watch it gave up on is
dropped. ``Inform`` hands over every line queued since the last one (a watch's lag).
"""

from __future__ import annotations

from typing import Any, Final

import immutables
import msgspec

from models.apiserver.messages import ApiRequest
from models.controllers.resources import RESOURCES
from runner.cluster.world_api import ApiEngine, Work
from runner.cluster.world_state import Caller, Informer

Informers = immutables.Map[str, Informer]
LIST: Final = "list"
WATCH: Final = "watch"


def collection_path(resource: str) -> str:
    return RESOURCES[resource].collection_path()


def start_list(
    api: ApiEngine,
    work: Work,
    informers: Informers,
    component: str,
    resource: str,
    query: tuple[tuple[str, str], ...],
    incarnation: int,
) -> Informers:
    """Send the informer's list; the informer waits for it."""
    request_id = work.state.next_request
    caller = Caller(component=component, purpose=LIST, resource=resource, incarnation=incarnation)
    informer = informers.get(resource) or Informer()
    informers = informers.set(
        resource, msgspec.structs.replace(informer, listing=request_id, watch_id=0, pending=())
    )
    api.send(work, ApiRequest(method="GET", path=collection_path(resource), query=query), caller)
    return informers


def start_watch(
    api: ApiEngine,
    work: Work,
    informers: Informers,
    component: str,
    resource: str,
    query: tuple[tuple[str, str], ...],
    revision: str,
    incarnation: int,
) -> Informers:
    """After a list at ``revision``: watch from there."""
    request_id = work.state.next_request
    caller = Caller(
        component=component,
        purpose=WATCH,
        resource=resource,
        token=request_id,
        incarnation=incarnation,
    )
    informer = informers.get(resource) or Informer()
    informers = informers.set(
        resource,
        msgspec.structs.replace(
            informer, listing=0, watch_id=request_id, listed_revision=int(revision or 0)
        ),
    )
    watch_query = (*query, ("watch", "true"), ("resourceVersion", revision))
    request = ApiRequest(method="GET", path=collection_path(resource), query=watch_query)
    api.send(work, request, caller)
    return informers


def watch_answer(informers: Informers, caller: Caller, status: int, line: bytes) -> Informers:
    """A watch line (``status`` -1), the watch's end (-2) or its refusal (any other status):
    the line queues; otherwise the informer will list again."""
    informer = informers.get(caller.resource)
    if informer is None or informer.watch_id != caller.token:
        return informers
    if status == -1:
        return informers.set(
            caller.resource, msgspec.structs.replace(informer, pending=(*informer.pending, line))
        )
    return informers.set(caller.resource, msgspec.structs.replace(informer, watch_id=0))


def listed(body: bytes) -> tuple[tuple[bytes, ...], str] | None:
    """A list answer's items (raw JSON each) and revision, or None when it is not a list."""
    try:
        decoded: Any = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None
    if not isinstance(decoded, dict) or not isinstance(decoded.get("items"), list):
        return None
    revision = (decoded.get("metadata") or {}).get("resourceVersion") or "0"
    return tuple(msgspec.json.encode(item) for item in decoded["items"]), str(revision)


def take_lines(informers: Informers, resource: str) -> tuple[Informers, tuple[bytes, ...]] | None:
    """Every line queued at the informer (what arrived since it was last handed over)."""
    informer = informers.get(resource)
    if informer is None or not informer.pending:
        return None
    rest = msgspec.structs.replace(informer, pending=())
    return informers.set(resource, rest), informer.pending


def changes(lines: tuple[bytes, ...]) -> tuple[list[tuple[str, dict[str, Any]]], bool]:
    """The changes ``lines`` carry, in order, up to an ``ERROR`` line (then True: the
    informer must list again)."""
    found: list[tuple[str, dict[str, Any]]] = []
    for line in lines:
        decoded = decode_line(line)
        if decoded is None:
            continue
        if decoded[0] == "ERROR":
            return found, True
        found.append(decoded)
    return found, False


def needs_list(informer: Informer) -> bool:
    return not informer.watch_id and not informer.listing


def list_failed(informers: Informers, resource: str) -> Informers:
    informer = informers.get(resource)
    if informer is None:
        return informers
    return informers.set(resource, msgspec.structs.replace(informer, listing=0, watch_id=0))


def ready(informers: Informers) -> list[str]:
    """The resources whose informer has a line to hand over or must list again, sorted."""
    return sorted(r for r, i in informers.items() if i.pending or needs_list(i))


def decode_line(line: bytes) -> tuple[str, dict[str, Any]] | None:
    """A watch line's type and object (None for a bookmark)."""
    event: Any = msgspec.json.decode(line)
    kind = event.get("type")
    if kind not in ("ADDED", "MODIFIED", "DELETED", "ERROR"):
        return None
    return str(kind), event.get("object") or {}
