"""Every verdict of porcupine's corpus (Jepsen etcd logs as a cas-register, kv c01/c10/c50),
reproduced; and the explanation of a violation names the operation and its wrong result."""

import json

import pytest

from models.history import History
from models.history_formats import parse_jepsen, parse_porcupine_kv
from spec.etcd.registers import KvModel, RegisterModel
from spec.linearizability import Budget, SequentialModel, prepare
from spec.linearizability_report import check_history
from spec.linearizability_search import run_searches
from tests.lincheck.corpus import porcupine_corpus

CORPUS = porcupine_corpus()
VERDICTS: dict[str, bool] = json.loads((CORPUS / "verdicts.json").read_text())["linearizable"]


def load(name: str) -> tuple[History, SequentialModel[object]]:
    text = (CORPUS / name).read_text()
    if name.startswith("jepsen/"):
        return parse_jepsen(text).unwrap(), RegisterModel(with_cas=True)  # type: ignore[return-value]
    return parse_porcupine_kv(text).unwrap(), KvModel()  # type: ignore[return-value]


def test_corpus_has_every_history_with_a_verdict() -> None:
    jepsen = [name for name in VERDICTS if name.startswith("jepsen/")]
    assert len(jepsen) == 102
    assert sorted(name for name in VERDICTS if name.startswith("kv/")) == [
        f"kv/c{clients}-{kind}.txt" for clients in ("01", "10", "50") for kind in ("bad", "ok")
    ]


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_verdict_matches_porcupine(name: str) -> None:
    history, model = load(name)
    partitions = list(prepare(model, history.operations).values())
    results = run_searches(partitions, Budget(max_steps=20_000_000), stop_at_violation=True)
    verdicts = {result.verdict for result in results}
    if VERDICTS[name]:
        assert verdicts == {"linearizable"}
    else:
        assert "not_linearizable" in verdicts


def test_jepsen_violation_is_explained_with_the_culprit_read() -> None:
    history, model = load("jepsen/etcd_000.log")
    report = check_history(model, history.operations, Budget(max_steps=5_000_000))
    assert report.verdict == "not_linearizable"
    violation = report.violation
    assert violation is not None
    culprit = history.operations[violation.culprit]
    # etcd_000.log line 86: "11 :ok :read 2", invoked on line 85.
    assert (culprit.client_id, culprit.call_time, culprit.return_time) == (11, 85, 86)
    assert "client 11's read() returned 2 during [85, 86]" in violation.explanation
    assert "2" not in violation.possible_results
    assert violation.culprit in violation.minimal


def test_kv_c01_bad_needs_only_an_append_and_a_get() -> None:
    history, model = load("kv/c01-bad.txt")
    report = check_history(model, history.operations, Budget(max_steps=5_000_000))
    violation = report.violation
    assert violation is not None
    # One client, so the history is sequential: key "7" got appends "x 0 0 y" (lines 37-38)
    # and "x 0 3 y" (lines 55-56) before the get on lines 59-60, which returned "x 0 0 y".
    # Only the second append's result and the get are needed; with the first append free to
    # take effect at any time after its call, or never, the get could return three strings.
    described = [
        (history.operations[index].call_time, history.operations[index].return_time)
        for index in violation.minimal
    ]
    assert described == [(55, 56), (59, 60)]
    assert violation.minimal_is_one_minimal
    assert [history.operations[index].call_time for index in violation.relaxed] == [37]
    assert set(violation.possible_results) == {
        "'x 0 3 y'",
        "'x 0 0 yx 0 3 y'",
        "'x 0 3 yx 0 0 y'",
    }
