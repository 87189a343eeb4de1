"""Protocol mutants' z3 counterexamples exported as simulator traces of ``impl.raft``.

For each protocol mutant: the exported trace breaks the ``spec.raft`` property that
corresponds to the proof's property, ``kubeoracle replay`` reproduces it, the same actions
without the mutant break nothing (so the trace exercises the mutant), and the translation
follows z3's choice of nodes (renaming the nodes of the execution renames the trace).
"""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from models.environment import Deliver
from models.raft import Message, RaftMutant
from models.trace import TraceResult
from proofs.catalog import all_proofs
from proofs.execution import AbstractStep, Execution, NodeValues
from runner.cli.main import main
from runner.cli.worlds import WORLDS
from runner.exit_codes import ExitCode
from runner.raft.cluster import NotEnabled
from runner.raft.counterexample_export import ExportedTrace, ExportFailure, export_counterexample
from runner.raft.world import RAFT
from runner.sim.run import Run, StepOutcome
from runner.sim.trace import parse_trace
from tests.proofs import mutant_runs

EXPECTED = {
    # mutant: (impl.raft mutant, spec.raft properties that correspond to the proof's property)
    "double-voting": (RaftMutant.VOTE_TWICE, {"one_vote_per_term", "election_safety"}),
    "no-consistency-check": (RaftMutant.SKIP_CONSISTENCY_CHECK, {"log_matching"}),
    "figure-8-commit-by-counting": (
        RaftMutant.COMMIT_PREVIOUS_TERM_BY_COUNTING,
        {"leader_completeness", "state_machine_safety"},
    ),
    "vote-without-up-to-date-check": (
        RaftMutant.SKIP_UP_TO_DATE_CHECK,
        {"leader_completeness", "state_machine_safety"},
    ),
    "truncate-committed-entry": (
        RaftMutant.TRUNCATE_WITHOUT_CONFLICT,
        {"leader_completeness", "state_machine_safety", "committed_entries_durable"},
    ),
}


_mutant = mutant_runs.mutant
_execution = mutant_runs.execution
_exported = mutant_runs.exported


def test_the_protocol_mutants_are_the_ones_with_impl_switches() -> None:
    protocol = {m.name: m for case in all_proofs() for m in case.mutants if m.impl_mutant}
    assert set(protocol) == set(EXPECTED)
    for name, (impl_mutant, properties) in EXPECTED.items():
        assert protocol[name].impl_mutant == impl_mutant.value
        assert set(protocol[name].spec_properties) == properties


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_trace_breaks_the_property_of_the_proof(name: str) -> None:
    exported = _exported(name)
    parsed = parse_trace(exported.content, name, WORLDS)
    assert parsed.header.setup.mutant == EXPECTED[name][0].value
    assert parsed.result.status == "violation"
    assert parsed.result.property in EXPECTED[name][1]
    assert parsed.result.index == parsed.result.steps == len(parsed.steps)
    # Every abstract step up to the violating one was carried out, in order.
    spans = exported.spans
    assert [span.number for span in spans] == list(range(1, len(spans) + 1))
    assert spans[-1].last == parsed.result.steps
    assert len(spans) <= len(_execution(name).steps)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_replay_reproduces_the_violation(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.jsonl"
    path.write_bytes(_exported(name).content)
    assert main(["replay", str(path)]) == ExitCode.PASS


def _run(content: bytes, mutant: str) -> tuple[list[Message], list[str]]:
    """Apply the trace's actions with ``mutant``: the messages delivered, the violations."""
    parsed = parse_trace(content, "trace", WORLDS)
    setup = msgspec.structs.replace(parsed.header.setup, mutant=mutant)
    run = Run(RAFT.build(setup, parsed.header.swarm))
    delivered: list[Message] = []
    broken: list[str] = []
    for _, step in parsed.steps:
        if isinstance(step.action, Deliver):
            delivered.append(run.state.in_flight[step.action.message].message)
        outcome = run.step(step.action)
        assert not isinstance(outcome, NotEnabled), (step.index, outcome.reason)
        assert isinstance(outcome, StepOutcome)
        broken += [violation.property_name for violation in outcome.violations]
    return delivered, broken


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_without_the_mutant_the_same_actions_break_nothing(name: str) -> None:
    content = _exported(name).content
    with_mutant, broken_with = _run(content, EXPECTED[name][0].value)
    without, broken_without = _run(content, "none")
    assert broken_with
    assert broken_without == []
    # The same messages (kind, sender, addressee, term) arrive in both runs: only the
    # mutant's decision differs.
    shape = [(type(m).__name__, m.from_id, m.to_id, m.term) for m in with_mutant]
    assert [(type(m).__name__, m.from_id, m.to_id, m.term) for m in without] == shape


def _rename(execution: Execution, mapping: dict[int, int]) -> Execution:
    def node(values: NodeValues) -> NodeValues:
        return msgspec.structs.replace(
            values,
            node=mapping[values.node],
            vote=mapping.get(values.vote, 0),
            lead=mapping.get(values.lead, 0),
        )

    def step(abstract: AbstractStep) -> AbstractStep:
        after = sorted((node(v) for v in abstract.after), key=lambda v: v.node)
        return msgspec.structs.replace(
            abstract, nodes=tuple(mapping[n] for n in abstract.nodes), after=tuple(after)
        )

    return msgspec.structs.replace(execution, steps=tuple(step(s) for s in execution.steps))


def test_the_trace_follows_the_nodes_z3_chose() -> None:
    execution = _execution("double-voting")
    original = _exported("double-voting").result
    # A rotation of the node ids: the trace's actions and the violation follow it.
    rotation = {1: 2, 2: 3, 3: 1}
    renamed = export_counterexample(_rename(execution, rotation), "vote_twice", "test")
    assert isinstance(renamed, ExportedTrace), renamed
    assert isinstance(renamed.result, TraceResult)
    assert renamed.result.property == original.property
    assert renamed.result.nodes == tuple(sorted(rotation[n] for n in original.nodes))
    parsed = parse_trace(renamed.content, "renamed", WORLDS)
    first = parsed.steps[0][1].action
    assert getattr(first, "node", None) == rotation[execution.steps[0].nodes[0]]


def test_an_execution_impl_raft_cannot_follow_is_reported() -> None:
    execution = _execution("double-voting")
    first = execution.steps[0]
    # z3 "says" the campaign reached term 2: impl.raft's campaign reaches term 1.
    wrong = tuple(msgspec.structs.replace(v, term=v.term + 1) for v in first.after)
    tampered = msgspec.structs.replace(
        execution, steps=(msgspec.structs.replace(first, after=wrong), *execution.steps[1:])
    )
    failure = export_counterexample(tampered, "vote_twice", "test")
    assert isinstance(failure, ExportFailure)
    assert "after step 1" in failure.reason


def test_prove_writes_one_trace_per_protocol_mutant(tmp_path: Path) -> None:
    target = tmp_path / "traces"
    code = main(["prove", "raft.election", "--export-counterexamples", str(target)])
    assert code == ExitCode.PASS
    assert sorted(p.name for p in target.iterdir()) == ["double-voting.jsonl"]
    assert main(["replay", str(target / "double-voting.jsonl")]) == ExitCode.PASS


def test_an_export_directory_that_is_a_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    occupied = tmp_path / "file"
    occupied.write_text("not a directory")
    code = main(["prove", "raft.quorum", "--export-counterexamples", str(occupied)])
    assert code == ExitCode.USAGE
    assert str(occupied) in capsys.readouterr().err


def test_the_json_report_names_each_trace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["prove", "raft.election", "--export-counterexamples", str(tmp_path), "-o", "json"])
    assert code == ExitCode.PASS
    report = json.loads(capsys.readouterr().out)
    (mutant,) = report["proofs"][0]["mutants"]
    assert mutant["trace"] == str(tmp_path / "double-voting.jsonl")
    assert mutant["trace_property"] in EXPECTED["double-voting"][1]
    spans = mutant["trace_spans"]
    assert spans[0]["first"] == 1
    assert spans[-1]["last"] == mutant["trace_steps"]
