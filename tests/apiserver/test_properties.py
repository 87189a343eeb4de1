"""The API properties and the per-object linearizability check on small histories built by
hand, each with the outcome the API's semantics demand."""

from __future__ import annotations

from typing import Any

import msgspec

from models.apiserver.history import (
    ApiHistory,
    ApiOperation,
    OperationKind,
    Seen,
    WatchEvent,
    WatchStream,
)
from spec.apiserver import properties
from spec.apiserver.registers import check_objects


def _seen(name: str, rv: int, token: str, uid: str = "u1", deleting: bool = False) -> Seen:
    return Seen(name=name, resource_version=rv, token=token, uid=uid, deleting=deleting)


def _op(call: int, ret: int, kind: OperationKind, status: int, **fields: Any) -> ApiOperation:
    return ApiOperation(
        client=fields.pop("client", 0), call_time=call, return_time=ret, kind=kind, status=status,
        **fields,
    )  # fmt: skip


def _history(*operations: ApiOperation, watches: tuple[WatchStream, ...] = ()) -> ApiHistory:
    return ApiHistory(namespace="ns", names=("a", "b"), operations=operations, watches=watches)


CREATE_A = _op(1, 2, "create", 201, name="a", token="t1", objects=(_seen("a", 5, "t1"),))


def _names(found: list[Any]) -> list[str]:
    return [violation.property_name for violation in found]


def test_a_later_write_with_a_smaller_version_is_caught() -> None:
    later = _op(3, 4, "create", 201, name="b", token="t2", objects=(_seen("b", 4, "t2"),))
    assert _names(properties.write_versions_increase(_history(CREATE_A, later))) == [
        "write_versions_increase"
    ]
    fine = _op(3, 4, "create", 201, name="b", token="t2", objects=(_seen("b", 6, "t2"),))
    assert properties.write_versions_increase(_history(CREATE_A, fine)) == []


def test_two_updates_on_one_version_lose_one() -> None:
    def update(call: int, token: str) -> ApiOperation:
        return _op(
            call, call + 1, "update", 200, name="a", token=token, precondition=5,
            expected_token="t1", objects=(_seen("a", 6 + call, token),),
        )  # fmt: skip

    found = properties.no_lost_update(_history(CREATE_A, update(3, "x"), update(5, "y")))
    assert _names(found) == ["no_lost_update"]
    assert properties.no_lost_update(_history(CREATE_A, update(3, "x"))) == []


def test_a_watch_that_skips_a_change_is_caught() -> None:
    second = _op(3, 4, "create", 201, name="b", token="t2", objects=(_seen("b", 6, "t2"),))
    skipping = WatchStream(
        watch_id=1,
        start_revision=4,
        call_time=0,
        events=(WatchEvent(type="ADDED", object=_seen("b", 6, "t2")),),
    )
    found = properties.watch_ordered_gap_free(_history(CREATE_A, second, watches=(skipping,)))
    assert [v.reason for v in found] == [
        "watch 1 from 4 delivered events up to 6 but skipped the create of a at 5"
    ]
    complete = WatchStream(
        watch_id=1,
        start_revision=4,
        call_time=0,
        events=(
            WatchEvent(type="ADDED", object=_seen("a", 5, "t1")),
            WatchEvent(type="ADDED", object=_seen("b", 6, "t2")),
        ),
    )
    assert properties.watch_ordered_gap_free(_history(CREATE_A, second, watches=(complete,))) == []


def test_a_list_missing_a_written_object_is_caught() -> None:
    stale = _op(3, 4, "list", 200, list_revision=5)
    assert _names(properties.list_consistent(_history(CREATE_A, stale))) == ["list_consistent"]
    fresh = _op(3, 4, "list", 200, list_revision=5, objects=(_seen("a", 5, "t1"),))
    assert properties.list_consistent(_history(CREATE_A, fresh)) == []


def test_a_held_object_read_as_gone_is_caught() -> None:
    held = _op(
        3, 4, "delete", 200, name="a", precondition=5, expected_token="t1",
        objects=(_seen("a", 6, "t1", deleting=True),),
    )  # fmt: skip
    gone = _op(5, 6, "get", 404, name="a")
    found = properties.finalizer_blocks_deletion(_history(CREATE_A, held, gone))
    assert _names(found) == ["finalizer_blocks_deletion"]
    still = _op(5, 6, "get", 200, name="a", objects=(_seen("a", 6, "t1", deleting=True),))
    assert properties.finalizer_blocks_deletion(_history(CREATE_A, held, still)) == []


def test_a_changed_uid_is_caught() -> None:
    odd = _op(3, 4, "get", 200, name="a", objects=(_seen("a", 5, "t1", uid="other"),))
    assert _names(properties.uid_stable(_history(CREATE_A, odd))) == ["uid_stable"]


def test_a_stale_read_after_a_write_is_not_linearizable() -> None:
    stale = _op(3, 4, "get", 404, name="a", client=1)
    assert check_objects(_history(CREATE_A, stale))["a"].verdict == "not_linearizable"
    fresh = _op(3, 4, "get", 200, name="a", client=1, objects=(_seen("a", 5, "t1"),))
    assert check_objects(_history(CREATE_A, fresh))["a"].verdict == "linearizable"


def test_an_unanswered_delete_of_a_held_version_may_mark_it() -> None:
    # A delete of a version with finalizers only marks it (deletionTimestamp): a later read of
    # the marked version is explained by that delete even when its answer never came.
    delete = ApiOperation(client=1, call_time=3, return_time=None, kind="delete", name="a",
                          precondition=5, expected_token="t1", marks=True)  # fmt: skip
    marked = _op(6, 7, "get", 200, name="a", objects=(_seen("a", 6, "t1", deleting=True),))
    assert check_objects(_history(CREATE_A, delete, marked))["a"].verdict == "linearizable"
    removing = msgspec.structs.replace(delete, marks=False)
    assert check_objects(_history(CREATE_A, removing, marked))["a"].verdict == "not_linearizable"


def test_companions_report_what_a_history_did_not_exercise() -> None:
    assert set(properties.unexercised(_history(CREATE_A))) == {
        "concurrent_writes_happen",
        "conflicts_happen",
        "watches_see_changes",
        "lists_see_objects",
        "finalizers_hold",
        "objects_are_recreated",
    }
