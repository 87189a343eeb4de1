"""Hostile command lines to every verb, in process: an exit code (2 for a bad option, naming
it), never a traceback.

Each verb gets a base command line that keeps a valid run short (a few simulator steps, a
small seed file), then up to five options drawn from the verb's own options with values drawn
from a hostile pool: negative, zero, huge, non-finite and non-numeric numbers, unknown names,
directories, missing files and folders, non-UTF-8 files. ``serve etcd`` and ``conform etcd``
start servers and real etcd members; their options are fuzzed by engineer etcd's HTTP tier.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.run import run_cli

SEEDS = Path(__file__).parent / "seeds"

HOSTILE_WORDS = [
    "",
    " ",
    "-1",
    "0",
    "1",
    "2",
    "nan",
    "inf",
    "-inf",
    "1e309",
    "18446744073709551616",
    "1000001",
    "0x10",
    "abc",
    "ü",
    "a" * 300,
    "all",
    "none",
    "swarm",
    "crash,drop",
    "crash,,bogus",
    "vote_twice",
    "json",
    "table",
    "etcd",
    "kv",
    "register",
    "jepsen",
    "kubeoracle",
    "etcd-raft",
    "porcupine-kv",
    "--",
]


@dataclass(frozen=True)
class Verb:
    """A verb's short valid base command and the options the fuzzer may add."""

    name: str
    base: tuple[str, ...]
    options: tuple[str, ...]
    flags: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"Verb({self.name!r})"


def verbs(files: dict[str, str]) -> list[Verb]:
    trace, history, pod = files["trace"], files["history"], files["pod"]
    return [
        Verb(
            "simulate raft",
            ("simulate", "raft", "--steps", "20", "--liveness-steps", "300"),
            ("--nodes", "--seed", "--seeds", "--steps", "--liveness-steps", "--faults"),
            ("--list-mutants",),
        ),
        Verb(
            "simulate raft --mutant/--trace",
            ("simulate", "raft", "--steps", "20", "--liveness-steps", "300", "--seeds", "1"),
            ("--mutant", "--trace", "-o"),
        ),
        Verb("replay", ("replay", trace), ("-o",)),
        Verb("replay FILE", ("replay",), ("",)),
        Verb(
            "view",
            ("view", trace, "-o", files["out"]),
            ("-o", "--format", "--model", "--timeout"),
        ),
        Verb("export raft", ("export", "raft", trace, "--to", files["out"]), ("--to", "--format")),
        Verb("validate raft", ("validate", "raft", files["events"]), ("--format", "-o")),
        Verb(
            "check history",
            ("check", "history", history),
            ("--model", "--format", "--html", "--timeout", "-o"),
        ),
        Verb("decode manifest", ("decode", "manifest", pod), ("", "-o")),
        Verb(
            "schedule",
            ("schedule", "--cluster", files["cluster"], "--pod", pod),
            ("--cluster", "--pod", "--config", "--seed", "-o"),
        ),
        Verb(
            "schedule --pods",
            ("schedule", "--cluster", files["cluster"], "--pods", files["pods"]),
            ("--pods", "--seed", "-o"),
        ),
        Verb("schema", ("schema",), ("",)),
        Verb("prove", ("prove", "nosuchproof"), ("", "-o", "--export-counterexamples"), ("-v",)),
    ]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Copies of the seeds in a scratch folder, which is also the working directory: a fuzzed
    output option may overwrite any of them, or write a file named like a hostile word."""
    work = tmp_path_factory.mktemp("options")
    for name in ("history-etcd.jsonl", "pod.yaml", "pods.yaml", "cluster.yaml"):
        shutil.copyfile(SEEDS / name, work / name)
    trace = work / "trace.jsonl"
    base = ["simulate", "raft", "--steps", "20", "--liveness-steps", "300"]
    assert run_cli([*base, "--trace", str(trace)]).code == 0
    events = work / "events.jsonl"
    assert run_cli(["export", "raft", str(trace), "--to", str(events)]).code == 0
    latin1 = work / "latin1.yaml"
    latin1.write_bytes(b"apiVersion: v1\nkind: Pod\nmetadata: {name: caf\xe9}\n")
    previous = Path.cwd()
    os.chdir(work)
    yield {
        "trace": str(trace),
        "events": str(events),
        "history": str(work / "history-etcd.jsonl"),
        "pod": str(work / "pod.yaml"),
        "pods": str(work / "pods.yaml"),
        "cluster": str(work / "cluster.yaml"),
        "out": str(work / "out.jsonl"),
        "directory": str(work),
        "missing": str(work / "missing.jsonl"),
        "no folder": str(work / "no" / "folder.jsonl"),
        "latin1": str(latin1),
    }
    os.chdir(previous)


def hostile_values(files: dict[str, str]) -> st.SearchStrategy[str]:
    return st.sampled_from([*HOSTILE_WORDS, *files.values()])


@st.composite
def command_lines(draw: st.DrawFn, verb: Verb, files: dict[str, str]) -> list[str]:
    args = list(verb.base)
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        if len(verb.flags) > 0 and draw(st.booleans()):
            args.append(draw(st.sampled_from(verb.flags)))
            continue
        option = draw(st.sampled_from(verb.options))
        value = draw(hostile_values(files))
        args.extend([option, value] if option else [value])
    return args


VERB_NAMES = [verb.name for verb in verbs({name: name for name in (
    "trace", "events", "history", "pod", "pods", "cluster", "out")})]  # fmt: skip


@pytest.mark.parametrize("name", VERB_NAMES)
@given(data=st.data())
def test_hostile_options_exit_cleanly(
    name: str, files: dict[str, str], data: st.DataObject
) -> None:
    """Exit 0-3; a usage error names the option or file; no traceback."""
    (verb,) = [verb for verb in verbs(files) if verb.name == name]
    args = data.draw(command_lines(verb, files))
    outcome = run_cli(args)
    assert "Traceback" not in outcome.err, outcome.err
    assert outcome.code in (0, 1, 2, 3), outcome
    if outcome.code == 2:
        assert outcome.err.startswith(("kubeoracle: ", "usage: ")), outcome.err
