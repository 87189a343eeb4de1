"""Partitions searched in several processes (``check history --workers``): the same verdicts
and reports as one process, on porcupine's corpus, and bad worker counts refused."""

from pathlib import Path

import pytest

from models.history_formats import parse_porcupine_kv
from runner.cli.main import main
from runner.history.parallel import parallel_searcher, shares
from spec.etcd.registers import KvModel
from spec.linearizability import Budget, prepare
from spec.linearizability_report import check_history
from tests.lincheck.corpus import porcupine_corpus

CORPUS = porcupine_corpus()


def kv_history(name: str) -> tuple[KvModel, list[object]]:
    history = parse_porcupine_kv((CORPUS / "kv" / name).read_text()).unwrap()
    return KvModel(), list(history.operations)


def test_shares_give_each_worker_the_least_load_largest_first() -> None:
    model, records = kv_history("c50-ok.txt")
    partitions = list(prepare(model, records).values())  # type: ignore[arg-type]
    assigned = shares(partitions, 3)
    assert sorted(number for share in assigned for number in share) == list(range(10))
    loads = [sum(len(partitions[n].operations) for n in share) for share in assigned]
    # Longest-processing-time first: no worker carries more than the lightest plus one
    # partition (the largest has 194 operations).
    assert max(loads) - min(loads) <= max(len(p.operations) for p in partitions)


@pytest.mark.parametrize("name", ["c10-ok.txt", "c10-bad.txt", "c50-ok.txt", "c50-bad.txt"])
def test_parallel_report_equals_the_single_process_one(name: str) -> None:
    model, records = kv_history(name)
    alone = check_history(model, records, Budget(max_steps=20_000_000))  # type: ignore[arg-type]
    shared = check_history(
        model,
        records,  # type: ignore[arg-type]
        Budget(max_steps=20_000_000),
        parallel_searcher(2, min_operations=0),  # fork even for these small histories
    )
    assert (
        shared.verdict == alone.verdict == ("linearizable" if "ok" in name else "not_linearizable")
    )
    if shared.verdict == "linearizable":
        assert shared.orders == alone.orders
    else:
        assert shared.violation is not None
        assert alone.violation is not None
        # The first violation found may sit in another partition, but each is explained.
        assert shared.violation.culprit in shared.violation.minimal


def test_workers_out_of_range_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    path = CORPUS / "kv" / "c01-ok.txt"
    args = ["check", "history", str(path), "--format", "porcupine-kv", "--workers", "0"]
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    assert "argument --workers: expected 1 to 256, got 0" in capsys.readouterr().err


def test_command_with_two_workers_passes_c50_ok(tmp_path: Path) -> None:
    path = CORPUS / "kv" / "c50-ok.txt"
    args = ["check", "history", str(path), "--format", "porcupine-kv", "--workers", "2"]
    assert main(args) == 0
