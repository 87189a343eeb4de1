"""The Jepsen and porcupine kv parsers, on small logs written to match the corpus README."""

from returns.result import Failure

from models.history import (
    CasResult,
    KvAppend,
    KvGet,
    OkResult,
    RegisterCas,
    RegisterRead,
    RegisterWrite,
    ValueResult,
)
from models.history_formats import parse_jepsen, parse_porcupine_kv

JEPSEN = """\
2015-01-01 other text
INFO  jepsen.util - 0\t:invoke\t:read\tnil
INFO  jepsen.util - 1\t:invoke\t:write\t3
INFO  jepsen.util - 0\t:ok\t:read\tnil
INFO  jepsen.util - 1\t:info\t:write\t:timed-out
INFO  jepsen.util - 2\t:invoke\t:cas\t[3 4]
INFO  jepsen.util - 2\t:fail\t:cas\t[3 4]
INFO  jepsen.util - 3   :invoke   :read   nil
INFO  jepsen.util - 3   :fail   :read   :timed-out
INFO  jepsen.util - 4\t:invoke\t:cas\t[0 1]
"""


def test_jepsen_events_become_operations() -> None:
    history = parse_jepsen(JEPSEN).unwrap()
    summary = [
        (r.client_id, r.call_time, r.return_time, r.operation, r.result, r.definite)
        for r in history.operations
    ]
    assert summary == [
        (0, 2, 4, RegisterRead(), ValueResult(value=None), True),
        # :info: unknown outcome, no return.
        (1, 3, None, RegisterWrite(value=3), None, False),
        # :fail cas: compared unequal, a definite outcome.
        (2, 6, 7, RegisterCas(expected=3, new=4), CasResult(succeeded=False), True),
        # The failed read (lines 8-9) did not happen and is dropped; the cas invoked on
        # line 10 never completed: unknown.
        (4, 10, None, RegisterCas(expected=0, new=1), None, False),
    ]
    assert history.operation_lines == (2, 3, 6, 10)


def test_jepsen_completion_without_invoke_names_the_line() -> None:
    result = parse_jepsen("INFO  jepsen.util - 0\t:ok\t:write\t3\n")
    assert isinstance(result, Failure)
    assert result.failure().line == 1


KV = """\
{:process 0, :type :invoke, :f :append, :key "k", :value "x 0 0 y"}
{:process 1, :type :invoke, :f :get, :key "k", :value nil}
{:process 0, :type :ok, :f :append, :key "k", :value "x 0 0 y"}
{:process 1, :type :ok, :f :get, :key "k", :value "x 0 0 y"}
"""


def test_porcupine_kv_events_become_operations() -> None:
    history = parse_porcupine_kv(KV).unwrap()
    summary = [
        (r.client_id, r.call_time, r.return_time, r.operation, r.result) for r in history.operations
    ]
    assert summary == [
        (0, 1, 3, KvAppend(key="k", value="x 0 0 y"), OkResult()),
        (1, 2, 4, KvGet(key="k"), ValueResult(value="x 0 0 y")),
    ]


def test_porcupine_kv_bad_line_is_named() -> None:
    result = parse_porcupine_kv(KV + "{:process 0, :type :oops}\n")
    assert isinstance(result, Failure)
    assert result.failure().line == 5
