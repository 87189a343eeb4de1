"""What the conformance workload sends and receives, and how it becomes history records.

Histories record etcd's own messages (:mod:`models.etcd`, the one set of etcd types): a
workload request is the operation and etcd's response or error the result, as they are. Only
a watch message needs wrapping: the time it arrived, or the error that ended the stream.
"""

from __future__ import annotations

from models import history as h
from models.etcd import WatchResponse

WorkloadRequest = h.EtcdOperation
"""What the workload sends: the etcd requests a history records."""
WorkloadResponse = h.EtcdAnswer
"""What etcd answers them (besides errors)."""


def watch_message(message: WatchResponse | str, time_ns: int) -> h.WatchMessage:
    """A received watch message (or the error that ended the stream) as a history record."""
    if isinstance(message, str):
        return h.WatchMessage(time=time_ns, error=message)
    return h.WatchMessage(time=time_ns, response=message)
