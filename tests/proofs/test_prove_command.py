"""``kubeoracle prove``: the table, the JSON report and the exit codes."""

import json

import pytest

import proofs.catalog
from proofs.catalog import Mutant, ProofCase
from proofs.z3adapter import Int, Unknown, check_valid
from runner.cli.main import main


def _install(monkeypatch: pytest.MonkeyPatch, *cases: ProofCase) -> None:
    monkeypatch.setattr(proofs.catalog, "all_proofs", lambda: cases)


def _false_claim() -> ProofCase:
    x = Int("x")
    return ProofCase(
        name="toy.square",
        property_text="x * x > 0",
        method="exhaustive",
        bound="all integers",
        check=lambda: check_valid(x * x > 0),
        mutants=(),
    )


def _vacuous() -> ProofCase:
    x = Int("x")
    return ProofCase(
        name="toy.vacuous",
        property_text="x + 1 > x",
        method="exhaustive",
        bound="all integers",
        check=lambda: check_valid(x + 1 > x),
        mutants=(
            Mutant(name="same", description="not broken at all", check=lambda: check_valid(x >= x)),
        ),
    )


def test_the_quorum_proofs_pass_and_print_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prove", "raft.quorum"]) == 0
    out = capsys.readouterr().out
    [row] = [line for line in out.splitlines() if line.startswith("raft.quorum.majority ")]
    assert row.split()[1] == "exhaustive"
    assert row.split()[-2] == "proved"
    assert "mutant minority-quorum: refuted" in out
    assert out.splitlines()[-1].startswith("pass: 3/3 proved, 3/3 mutants refuted")


def test_json_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prove", "raft.quorum.majority", "-o", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "pass"
    [proof] = report["proofs"]
    assert proof["result"] == "proved"
    assert [m["refuted"] for m in proof["mutants"]] == [True]


def test_a_failing_proof_exits_1_and_prints_the_counterexample(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _install(monkeypatch, _false_claim())
    assert main(["prove"]) == 1
    out = capsys.readouterr().out
    assert "COUNTEREXAMPLE to: x * x > 0" in out
    assert "x  0" in out


def test_a_surviving_mutant_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _install(monkeypatch, _vacuous())
    assert main(["prove"]) == 1
    assert "SURVIVED" in capsys.readouterr().out


def test_unknown_exits_3(monkeypatch: pytest.MonkeyPatch) -> None:
    case = ProofCase(
        name="toy.unknown",
        property_text="undecided",
        method="exhaustive",
        bound="none",
        check=lambda: Unknown(reason="timeout"),
        mutants=(),
    )
    _install(monkeypatch, case)
    assert main(["prove"]) == 3


def test_an_unknown_name_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prove", "raft.nonexistent"]) == 2
    assert "raft.nonexistent" in capsys.readouterr().err


def test_the_whole_catalog_proves_and_refutes_every_mutant(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["prove", "-o", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    names = {proof["name"] for proof in report["proofs"]}
    assert {
        "raft.quorum.majority",
        "raft.quorum.joint",
        "raft.election.safety",
        "raft.log.matching",
        "raft.leader.completeness",
        "raft.state_machine.safety",
    } <= names
    unbounded = {"raft.log.matching", "raft.leader.completeness", "raft.state_machine.safety"}
    for proof in report["proofs"]:
        if proof["name"] in unbounded:
            assert proof["method"] == "inductive invariant"
            assert proof["bound"].startswith("no size bound")
        assert proof["result"] == "proved", proof["name"]
        assert proof["mutants"]
        assert all(m["refuted"] for m in proof["mutants"]), proof["name"]
