"""Deviations of real etcd 3.4.23 from its own guarantees, reproduced; the reference is right.

etcd issue #18089 (fixed in 3.4.34): compacting at the revision of a delete removes the
tombstone, so a watch created at the compaction revision (allowed: it is not compacted) never
sees that DELETE event, breaking the Reliable and Resumable watch guarantees.
"""

import json
import urllib.request
from typing import Any

SETUP: tuple[tuple[str, dict[str, Any]], ...] = (
    ("/v3/kv/put", {"key": "YQ==", "value": "MQ=="}),  # a = 1 at revision 2
    ("/v3/kv/put", {"key": "Yg==", "value": "MQ=="}),  # b = 1 at revision 3
    ("/v3/kv/deleterange", {"key": "YQ=="}),  # delete a at revision 4
    ("/v3/kv/compaction", {"revision": "4", "physical": True}),
)
WATCH_A_FROM_4 = {"create_request": {"key": "YQ==", "start_revision": "4"}}


def post(base: str, path: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(base + path, data=json.dumps(body).encode())
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def events_after_creation(base: str) -> list[Any]:
    """The watch's messages after ``created``, until it is quiet for one second."""
    request = urllib.request.Request(base + "/v3/watch", data=json.dumps(WATCH_A_FROM_4).encode())
    messages = []
    with urllib.request.urlopen(request, timeout=1) as response:
        created = json.loads(response.readline())
        assert created["result"]["created"] is True
        try:
            for _ in range(10):
                messages.append(json.loads(response.readline())["result"])
        except TimeoutError:
            pass
    return [event for message in messages for event in message.get("events", [])]


def test_watch_at_the_compaction_revision_misses_the_delete_in_etcd_3_4_23(
    real_etcd_member: str, reference_gateway: str
) -> None:
    for base in (real_etcd_member, reference_gateway):
        for path, body in SETUP:
            post(base, path, body)
    expected_delete = {"type": "DELETE", "kv": {"key": "YQ==", "mod_revision": "4"}}
    assert events_after_creation(reference_gateway) == [expected_delete]
    assert events_after_creation(real_etcd_member) == []
