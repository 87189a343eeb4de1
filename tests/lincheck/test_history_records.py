"""The kubeoracle history format: records round-trip, and bad lines are named by line and field."""

from returns.result import Failure, Success

from models.history import (
    Compare,
    EtcdPut,
    EtcdTxn,
    History,
    HistoryHeader,
    KeyValue,
    OperationRecord,
    PutResult,
    WatchEvent,
    WatchRecord,
    WatchRequest,
    WatchResponse,
    encode_history,
    history_json_schema,
    parse_history,
)


def sample_history() -> History:
    put = OperationRecord(
        client_id=1,
        call_time=10,
        return_time=20,
        operation=EtcdPut(key="a", value="1"),
        result=PutResult(revision=2),
    )
    unknown_txn = OperationRecord(
        client_id=2,
        call_time=15,
        return_time=None,
        operation=EtcdTxn(
            compare=(Compare(key="a", target="mod", result="equal", operand=2),),
            success=(EtcdPut(key="a", value="2"),),
        ),
        definite=False,
    )
    watch = WatchRecord(
        client_id=3,
        request=WatchRequest(key="a", start_revision=1, prev_kv=True),
        responses=(
            WatchResponse(time=5, revision=1, created=True),
            WatchResponse(
                time=21,
                revision=2,
                events=(
                    WatchEvent(
                        type="put",
                        kv=KeyValue(
                            key="a", value="1", create_revision=2, mod_revision=2, version=1
                        ),
                    ),
                ),
            ),
            WatchResponse(time=30, revision=2),
        ),
    )
    return History(
        header=HistoryHeader(model="etcd"),
        operations=(put, unknown_txn),
        watches=(watch,),
        operation_lines=(2, 3),
    )


def test_history_round_trips_through_json_lines() -> None:
    history = sample_history()
    assert parse_history(encode_history(history)) == Success(history)


def test_progress_notification_is_an_empty_response_that_is_not_created() -> None:
    responses = sample_history().watches[0].responses
    assert [response.is_progress_notify() for response in responses] == [False, False, True]


def test_wrong_field_type_names_line_and_field() -> None:
    text = '\n{"kind":"operation","client_id":"x","call_time":1,"return_time":2}\n'
    result = parse_history(text)
    assert isinstance(result, Failure)
    assert result.failure().line == 2
    assert result.failure().field == "client_id"


def test_definite_operation_without_return_is_rejected() -> None:
    text = (
        '{"kind":"operation","client_id":1,"call_time":1,"return_time":null,'
        '"operation":{"type":"read"},"result":{"type":"value","value":null}}'
    )
    result = parse_history(text)
    assert isinstance(result, Failure)
    assert result.failure().field == "definite"


def test_return_before_call_is_rejected() -> None:
    text = (
        '{"kind":"operation","client_id":1,"call_time":5,"return_time":4,'
        '"operation":{"type":"read"},"result":{"type":"value","value":1}}'
    )
    result = parse_history(text)
    assert isinstance(result, Failure)
    assert result.failure().field == "return_time"


def test_schema_names_every_record_kind() -> None:
    schema_text = str(history_json_schema())
    for kind in ("header", "operation", "watch"):
        assert f"'{kind}'" in schema_text


def test_checked_in_schema_is_generated_from_the_types() -> None:
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "docs" / "history-format.schema.json"
    assert json.loads(path.read_text()) == json.loads(json.dumps(history_json_schema()))
