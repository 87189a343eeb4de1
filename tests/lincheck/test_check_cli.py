"""``kubeoracle check history``: exit codes 0/1/2/3, JSON output, the HTML page."""

import json
from pathlib import Path

import pytest

from models.history import History, HistoryHeader, WatchRecord, encode_history
from runner.cli.main import main
from tests.lincheck.builders import read, write
from tests.lincheck.corpus import porcupine_corpus

CORPUS = porcupine_corpus()


def write_history(path: Path, *records: object, model: str = "register") -> Path:
    history = History(header=HistoryHeader(model=model), operations=records)  # type: ignore[arg-type]
    path.write_text(encode_history(history))
    return path


def test_linearizable_history_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_history(tmp_path / "h.jsonl", write(1, 0, 2, 1), read(2, 3, 4, 1))
    assert main(["check", "history", str(path)]) == 0
    assert "linearizable" in capsys.readouterr().out


def test_violation_exits_1_and_explains(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_history(tmp_path / "h.jsonl", write(1, 0, 2, 1), read(2, 3, 4, None))
    assert main(["check", "history", str(path), "-o", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "not_linearizable"
    assert report["violation"]["culprit"] == 1
    assert "client 2's read() returned nil during [3, 4]" in report["violation"]["explanation"]


def test_bad_line_exits_2_naming_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_history(tmp_path / "h.jsonl", write(1, 0, 2, 1))
    path.write_text(path.read_text() + '{"kind":"operation","client_id":1}\n')
    assert main(["check", "history", str(path)]) == 2
    assert f"{path}:3" in capsys.readouterr().err


def test_operation_of_another_model_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_history(tmp_path / "h.jsonl", write(1, 0, 2, 1))
    assert main(["check", "history", str(path), "--model", "kv"]) == 2
    assert "not a kv operation" in capsys.readouterr().err


def test_wrong_format_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    path = CORPUS / "kv" / "c01-ok.txt"
    assert main(["check", "history", str(path), "--format", "jepsen"]) == 2
    assert "no operations found" in capsys.readouterr().err


def test_timeout_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 14 concurrent writes, then reads of 0 and 1 in turn: refuting this needs many steps.
    records = [write(client, 0, 100, client) for client in range(14)]
    records += [read(99, 101, 102, 0), read(98, 103, 104, 1)]
    path = write_history(tmp_path / "h.jsonl", *records)
    assert main(["check", "history", str(path), "--timeout", "0"]) == 3
    assert "ran out of time" in capsys.readouterr().out


def test_jepsen_corpus_file_with_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "out.html"
    path = CORPUS / "jepsen" / "etcd_000.log"
    code = main(["check", "history", str(path), "--format", "jepsen", "--html", str(page)])
    assert code == 1
    text = page.read_text()
    # The view page (tests/view/test_view_browser.py opens it in Chromium): its data marks
    # the culprit and the end of the longest linearizable prefix.
    assert "the longest linearizable prefix ends just before time 86" in text
    assert '"property":"not linearizable"' in text
    assert '"culprit"' in text
    assert "longest linearizable prefix ends just before time 86" in capsys.readouterr().out


def test_porcupine_kv_ok_exits_0() -> None:
    path = CORPUS / "kv" / "c10-ok.txt"
    assert main(["check", "history", str(path), "--format", "porcupine-kv"]) == 0


def test_etcd_history_with_a_broken_watch_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.lincheck.test_watch import EVERYTHING, GOOD, WRITES

    good = WatchRecord(client_id=9, request=EVERYTHING, messages=GOOD)
    gap = WatchRecord(client_id=9, request=EVERYTHING, messages=(GOOD[0], GOOD[1], *GOOD[3:]))
    path = tmp_path / "etcd.jsonl"
    header = HistoryHeader(model="etcd")
    path.write_text(
        encode_history(History(header=header, operations=tuple(WRITES), watches=(good,)))
    )
    assert main(["check", "history", str(path)]) == 0
    path.write_text(
        encode_history(History(header=header, operations=tuple(WRITES), watches=(gap,)))
    )
    assert main(["check", "history", str(path)]) == 1
    assert "watch of client 9: broke Reliable" in capsys.readouterr().out
