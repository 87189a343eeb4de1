"""The events the kubelet records about a pod's containers (``kubectl get events``): which pod
and container, Normal or Warning, the kubelet's reason and message. The writer stamps the time
it posts it (the machine's clock moves by whole ticks)."""

from __future__ import annotations

from typing import Literal

import msgspec

EventType = Literal["Normal", "Warning"]


class RecordedEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One event about a pod, as the kubelet's recorder would post it (source ``kubelet`` on
    the node)."""

    node: str
    """The node whose kubelet records it (the event's ``source.host``)."""
    namespace: str
    pod_name: str
    pod_uid: str
    field_path: str
    """``spec.containers{NAME}`` or ``spec.initContainers{NAME}``."""
    type: EventType
    reason: str
    message: str
