"""The events the kubelet records (``kubectl get events``): about a pod's containers or about
its node, Normal or Warning, with the kubelet's reason and message. The writer stamps the time
it posts it (the machine's clock moves by whole ticks)."""

from __future__ import annotations

from typing import Literal

import msgspec

EventType = Literal["Normal", "Warning"]
ObjectKind = Literal["Pod", "Node"]


class RecordedEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One event, as the kubelet's recorder would post it (source ``kubelet`` on the node).
    A node's events live in ``default`` and name the node with its name as UID, as the
    kubelet's node reference does."""

    node: str
    """The node whose kubelet records it (the event's ``source.host``)."""
    kind: ObjectKind = "Pod"
    namespace: str
    name: str
    uid: str
    field_path: str = ""
    """``spec.containers{NAME}`` or ``spec.initContainers{NAME}`` (a pod's container)."""
    type: EventType
    reason: str
    message: str
