"""The Events the controllers record, as core/v1 Event objects (client-go's
``record.EventRecorder`` as kube-controller-manager sets it up).

Each event is a POST of an Event named ``<object>.<hex nanoseconds>`` (the sub-millisecond
digits come from the message, for distinct names within one millisecond) in the object's
namespace (``default`` for cluster-scoped objects) with ``count: 1``, ``firstTimestamp`` and
``lastTimestamp`` now, ``source.component`` the recording controller, and ``involvedObject``
naming the object. Recording never fails a sync: the answer is not read. Nothing is recorded
unless ``ControllerConfig.record_events`` is on. Client-go's correlator (which folds repeats
into ``count``) is not modelled: controllers' messages name the pod or size, so they rarely
repeat.
"""

from __future__ import annotations

import dataclasses
import zlib
from typing import Any

import msgspec

from impl.controllers.objects import meta, timestamp, uid
from impl.controllers.plan import Outcome, Planned
from models.controllers.config import ControllerConfig
from models.controllers.messages import ApiCall


def event(
    config: ControllerConfig,
    component: str,
    obj: Any,
    kind: str,
    api_version: str,
    reason: str,
    message: str,
    now_ms: int,
    sequence: int = 0,
    warning: bool = False,
) -> Planned | None:
    """The POST recording one event about ``obj``; None when events are off."""
    if not config.record_events:
        return None
    namespace = meta(obj).namespace or "default"
    name = meta(obj).name or ""
    moment = timestamp(now_ms)
    involved: dict[str, Any] = {
        "kind": kind,
        "name": name,
        "uid": uid(obj),
        "apiVersion": api_version,
    }
    if meta(obj).namespace:
        involved["namespace"] = namespace
    if meta(obj).resource_version:
        involved["resourceVersion"] = meta(obj).resource_version
    body = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{name}.{_nanoseconds(now_ms, sequence, message):x}",
            "namespace": namespace,
        },
        "involvedObject": involved,
        "reason": reason,
        "message": message,
        "type": "Warning" if warning else "Normal",
        "source": {"component": component},
        "firstTimestamp": moment,
        "lastTimestamp": moment,
        "count": 1,
        "reportingComponent": component,
        "reportingInstance": "",
    }
    call = ApiCall(
        method="POST",
        path=f"/api/v1/namespaces/{namespace}/events",
        content_type="application/json",
        body=msgspec.json.encode(body),
    )
    return Planned(call=call, any_answer=True)


def _nanoseconds(now_ms: int, sequence: int, message: str) -> int:
    """The name's time in nanoseconds: the millisecond, plus a sub-millisecond part from the
    sequence and the message, so that events of one millisecond get distinct names."""
    return now_ms * 1_000_000 + (sequence * 7919 + zlib.crc32(message.encode())) % 1_000_000


def recorded(*planned: Planned | None) -> tuple[Planned, ...]:
    return tuple(p for p in planned if p is not None)


def before(outcome: Outcome[Any], planned: tuple[Planned, ...]) -> Outcome[Any]:
    """The outcome with ``planned`` events sent first (in a batch of their own)."""
    if not planned:
        return outcome
    return dataclasses.replace(outcome, batches=(planned, *outcome.batches))
