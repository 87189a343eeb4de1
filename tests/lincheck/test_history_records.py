"""The kubeoracle history format: records round-trip, and bad lines are named by line and field."""

from returns.result import Failure, Success

from models.etcd import (
    Compare,
    Event,
    PutRequest,
    PutResponse,
    TxnRequest,
    WatchCreateRequest,
    WatchResponse,
)
from models.history import (
    History,
    HistoryHeader,
    OperationRecord,
    WatchMessage,
    WatchRecord,
    encode_history,
    history_json_schema,
    parse_history,
)
from models.strict_input import loose_structs
from tests.lincheck.builders import header, key_value


def sample_history() -> History:
    put = OperationRecord(
        client_id=1,
        call_time=10,
        return_time=20,
        operation=PutRequest(key=b"a", value=b"1"),
        result=PutResponse(header=header(2)),
    )
    unknown_txn = OperationRecord(
        client_id=2,
        call_time=15,
        return_time=None,
        operation=TxnRequest(
            compare=(Compare(key=b"a", target="MOD", result="EQUAL", mod_revision=2),),
            success=(PutRequest(key=b"a", value=b"2"),),
        ),
        definite=False,
    )
    put_a = Event(type="PUT", kv=key_value(b"a", b"1", 2, 2, 1))
    watch = WatchRecord(
        client_id=3,
        request=WatchCreateRequest(key=b"a", start_revision=1, prev_kv=True),
        messages=(
            WatchMessage(time=5, response=WatchResponse(header=header(1), created=True)),
            WatchMessage(time=21, response=WatchResponse(header=header(2), events=(put_a,))),
            WatchMessage(time=30, response=WatchResponse(header=header(2))),
            WatchMessage(time=31, error="connection reset by peer"),
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
    messages = sample_history().watches[0].messages
    assert [message.is_progress_notify() for message in messages] == [False, False, True, False]


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


def test_every_record_refuses_unknown_fields() -> None:
    from models.history import HistoryLine

    assert loose_structs(HistoryLine) == []
    text = (
        '{"kind":"operation","client_id":1,"call_time":1,"return_time":2,'
        '"operation":{"type":"put","key":"YQ==","value":"MQ==","leese":5},'
        '"result":{"type":"put","header":{"revision":2}}}'
    )
    result = parse_history(text)
    assert isinstance(result, Failure)
    assert (result.failure().line, result.failure().field) == (1, "operation.leese")


def test_etcd_records_are_etcds_messages_with_base64_keys() -> None:
    # etcd's JSON gateway writes keys and values base64: "a" is "YQ==", "1" is "MQ==".
    import json

    record = json.loads(encode_history(sample_history()).splitlines()[1])
    assert (record["operation"]["key"], record["operation"]["value"]) == ("YQ==", "MQ==")
    assert record["result"]["header"]["revision"] == 2


def test_version_1_is_refused_with_the_reason() -> None:
    result = parse_history('{"kind":"header","format":"kubeoracle-history","version":1}')
    assert isinstance(result, Failure)
    assert "version 2" in result.failure().reason
    assert "base64" in result.failure().reason


def test_a_watch_message_is_a_response_or_an_error() -> None:
    text = (
        '{"kind":"watch","client_id":1,"request":{"key":"YQ=="},'
        '"messages":[{"time":1,"error":"x","response":{"header":{"revision":1}}}]}'
    )
    result = parse_history(text)
    assert isinstance(result, Failure)
    assert result.failure().field == "messages[0]"
