"""The reference gateway answers byte-for-byte like real etcd 3.4 (ids and terms aside).

The same script of requests goes to a fresh real etcd member and to the reference; the JSON
bodies and HTTP statuses must be equal once the member-specific header fields are removed.
"""

import json
import urllib.request
from typing import Any

SCRIPT: tuple[tuple[str, dict[str, Any]], ...] = (
    ("/v3/kv/range", {"key": "Zm9v"}),
    ("/v3/kv/put", {"key": "Zm9v", "value": "YmFy"}),
    ("/v3/kv/put", {"key": "Zm9v", "value": "YmF6", "prev_kv": True}),
    ("/v3/kv/range", {"key": "Zm9v"}),
    ("/v3/kv/range", {"key": "AA==", "range_end": "AA==", "count_only": True}),
    ("/v3/kv/range", {"key": "Zm9v", "revision": "100"}),
    ("/v3/kv/range", {"key": ""}),
    ("/v3/kv/compaction", {"revision": "2"}),
    ("/v3/kv/range", {"key": "Zm9v", "revision": "1"}),
    ("/v3/kv/compaction", {"revision": "2"}),
    ("/v3/kv/compaction", {"revision": "200"}),
    ("/v3/kv/deleterange", {"key": "Zm9v", "prev_kv": True}),
    ("/v3/kv/deleterange", {"key": "Zm9v"}),
    ("/v3/lease/grant", {"TTL": "100", "ID": "7"}),
    ("/v3/lease/grant", {"TTL": "100", "ID": "7"}),
    ("/v3/lease/grant", {"TTL": "1", "ID": "9"}),
    ("/v3/lease/timetolive", {"ID": "8"}),
    ("/v3/lease/revoke", {"ID": "8"}),
    ("/v3/kv/put", {"key": "Zm9v", "value": "YmFy", "lease": "8"}),
    ("/v3/kv/put", {"key": "Zm9v", "value": "YmFy", "lease": "7"}),
    ("/v3/kv/put", {"key": "YmFy", "value": "YmFy", "lease": "7"}),
    ("/v3/lease/revoke", {"ID": "7"}),
    ("/v3/kv/range", {"key": "Zm9v"}),
    (
        "/v3/kv/txn",
        {
            "compare": [{"key": "Zm9v", "target": "VERSION", "result": "EQUAL", "version": "0"}],
            "success": [
                {"request_put": {"key": "Zm9v", "value": "YQ=="}},
                {"request_range": {"key": "Zm9v"}},
            ],
        },
    ),
    (
        "/v3/kv/txn",
        {
            "compare": [{"key": "Zm9v", "target": "VERSION", "result": "EQUAL", "version": "0"}],
            "success": [{"request_put": {"key": "Zm9v", "value": "YQ=="}}],
            "failure": [{"request_delete_range": {"key": "Zm9v"}}, {"request_txn": {}}],
        },
    ),
    (
        "/v3/kv/txn",
        {
            "compare": [
                {
                    "key": "YQ==",
                    "range_end": "Yw==",
                    "target": "MOD",
                    "result": "LESS",
                    "mod_revision": "100",
                },
                {"key": "YQ==", "target": "VALUE", "result": "NOT_EQUAL", "value": "eA=="},
            ],
            "success": [{"request_put": {"key": "YQ==", "value": "eA=="}}],
            "failure": [{"request_put": {"key": "Yg==", "value": "eA=="}}],
        },
    ),
    (
        "/v3/kv/txn",
        {
            "success": [
                {"request_put": {"key": "Zm9v", "value": "YQ=="}},
                {"request_put": {"key": "Zm9v", "value": "YQ=="}},
            ]
        },
    ),
    ("/v3/kv/txn", {"success": [{"request_range": {"key": "YQ=="}}] * 129}),
    ("/v3/kv/put", {"key": "", "value": "YQ=="}),
    ("/v3/kv/put", {"key": "cXV4", "ignore_value": True}),
    ("/v3/kv/put", {"key": "Zm9v", "ignore_lease": True, "lease": "5"}),
    ("/v3/kv/put", {"key": "Zm9v", "ignore_value": True, "value": "YQ=="}),
    ("/v3/kv/put", {"key": "YS8x", "value": "MQ=="}),
    ("/v3/kv/put", {"key": "YS8y", "value": "Mg=="}),
    ("/v3/kv/put", {"key": "YS8y", "value": "Mw=="}),
    ("/v3/kv/range", {"key": "YS8=", "range_end": "YTA=", "sort_order": "DESCEND", "limit": "1"}),
    ("/v3/kv/range", {"key": "YS8=", "range_end": "YTA=", "sort_target": "VERSION"}),
    ("/v3/kv/range", {"key": "YS8=", "range_end": "YTA=", "keys_only": True, "limit": "1"}),
    ("/v3/kv/range", {"key": "YS8=", "range_end": "YTA=", "min_mod_revision": "13"}),
    ("/v3/kv/range", {"key": "AA==", "range_end": "AA==", "revision": "12"}),
    ("/v3/kv/range", {"key": "YS8=", "range_end": "YTA=", "limit": "1", "count_only": True}),
    (
        "/v3/kv/txn",
        {"failure": [{"request_put": {"key": "cQ=="}}, {"request_put": {"key": "cQ=="}}]},
    ),
    ("/v3/kv/txn", {"failure": [{"request_range": {"key": "cQ==", "revision": "99"}}]}),
    (
        "/v3/kv/txn",
        {
            "success": [
                {"request_range": {"key": "cQ==", "revision": "99"}},
                {"request_put": {"key": "cQ==", "lease": "99"}},
            ]
        },
    ),
    ("/v3/kv/deleterange", {"key": "YS8=", "range_end": "AA==", "prev_kv": True}),
    ("/v3/kv/put", {"key": "Zm9v", "ignore_value": True}),
    ("/v3/maintenance/status", {}),
)
MEMBER_FIELDS = ("cluster_id", "member_id", "raft_term")


def post(base: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def normalized(path: str, answer: tuple[int, Any]) -> tuple[int, Any]:
    status, body = answer
    if isinstance(body, dict) and isinstance(body.get("header"), dict):
        for name in MEMBER_FIELDS:
            body["header"].pop(name, None)
    if path == "/v3/maintenance/status":
        body = sorted(body)
    return status, body


def watch_lines(base: str, body: dict[str, Any], count: int) -> list[Any]:
    request = urllib.request.Request(base + "/v3/watch", data=json.dumps(body).encode())
    lines = []
    with urllib.request.urlopen(request, timeout=10) as response:
        for _ in range(count):
            message = json.loads(response.readline())
            message["result"]["header"] = {
                k: v for k, v in message["result"]["header"].items() if k not in MEMBER_FIELDS
            }
            lines.append(message)
    return lines


def test_unary_answers_match_real_etcd(real_etcd_member: str, reference_gateway: str) -> None:
    for path, body in SCRIPT:
        real = normalized(path, post(real_etcd_member, path, body))
        reference = normalized(path, post(reference_gateway, path, body))
        assert reference == real, (path, body)


def test_watch_streams_match_real_etcd(real_etcd_member: str, reference_gateway: str) -> None:
    for base in (real_etcd_member, reference_gateway):
        for path, body in SCRIPT[:13]:
            post(base, path, body)
    watches: tuple[tuple[dict[str, Any], int], ...] = (
        ({"create_request": {"key": "Zm9v", "start_revision": "2", "prev_kv": True}}, 2),
        ({"create_request": {"key": "Zm9v", "start_revision": "1"}}, 2),
        ({"create_request": {"key": "AA==", "range_end": "AA==", "start_revision": "3"}}, 2),
        ({"progress_request": {}}, 1),
    )
    for body, count in watches:
        assert watch_lines(reference_gateway, body, count) == watch_lines(
            real_etcd_member, body, count
        ), body
