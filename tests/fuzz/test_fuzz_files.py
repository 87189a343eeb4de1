"""Malformed files to every verb that reads one, in process: the command ends with an exit code
(2 for unusable input, with ``kubeoracle: FILE[:LINE]: reason``), never with a traceback.

Each case starts from a valid seed (a simulator trace, its Raft event exports, histories in the
three formats, manifests, scheduler cluster, pod and configuration files) and mutates it with
:mod:`tests.fuzz.mutations`. A mutated file may still be valid, so exit codes 0, 1 and 3 are
allowed too; what is never allowed is an exception escaping ``main`` or a traceback printed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.cli.main import main
from tests.fuzz.mutations import malformed
from tests.fuzz.run import run_cli

SEEDS = Path(__file__).parent / "seeds"


@dataclass(frozen=True)
class Target:
    """A verb reading one file: how to call it, the seed, how to mutate, whether lines count."""

    name: str
    seed: str
    structured: str
    command: Callable[[str, Path], list[str]]
    line_based: bool

    def __repr__(self) -> str:
        return f"Target({self.name!r})"


def schedule(role: str) -> Callable[[str, Path], list[str]]:
    def command(path: str, _work: Path) -> list[str]:
        files = {
            "--cluster": str(SEEDS / "cluster.yaml"),
            "--pod": str(SEEDS / "pod.yaml"),
            "--config": str(SEEDS / "scheduler-config.yaml"),
        }
        if role == "--pods":
            del files["--pod"]
        files[role] = path
        return ["schedule", *[part for pair in files.items() for part in pair]]

    return command


TARGETS = [
    Target("replay", "trace.jsonl", "json", lambda p, _w: ["replay", p], True),
    Target("view", "trace.jsonl", "json", lambda p, w: ["view", p, "-o", str(w / "t.html")], True),
    Target(
        "export raft",
        "trace.jsonl",
        "json",
        lambda p, w: ["export", "raft", p, "--to", str(w / "events.jsonl")],
        True,
    ),
    Target("validate raft", "events.jsonl", "json", lambda p, _w: ["validate", "raft", p], True),
    Target(
        "validate raft etcd-raft",
        "etcd-events.ndjson",
        "json",
        lambda p, _w: ["validate", "raft", p, "--format", "etcd-raft"],
        True,
    ),
    Target(
        "check history",
        "history-etcd.jsonl",
        "json",
        lambda p, _w: ["check", "history", p, "--timeout", "2"],
        True,
    ),
    Target(
        "check history jepsen",
        "jepsen-etcd.log",
        "text",
        lambda p, _w: ["check", "history", p, "--format", "jepsen", "--timeout", "2"],
        True,
    ),
    Target(
        "check history porcupine-kv",
        "porcupine-kv.txt",
        "text",
        lambda p, _w: ["check", "history", p, "--format", "porcupine-kv", "--timeout", "2"],
        True,
    ),
    Target(
        "decode manifest", "manifests.yaml", "yaml", lambda p, _w: ["decode", "manifest", p], False
    ),
    Target("schedule --cluster", "cluster.yaml", "yaml", schedule("--cluster"), False),
    Target("schedule --pod", "pod.yaml", "yaml", schedule("--pod"), False),
    Target("schedule --pods", "pods.yaml", "yaml", schedule("--pods"), False),
    Target("schedule --config", "scheduler-config.yaml", "yaml", schedule("--config"), False),
]


class Seeds(dict[str, bytes]):
    """Seed file contents by name (shown by name only when hypothesis reports a failure)."""

    def __repr__(self) -> str:
        return f"Seeds({', '.join(sorted(self))})"


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Seeds:
    """The static seeds, and a short simulator trace with its two Raft event exports."""
    work = tmp_path_factory.mktemp("seeds")
    trace = work / "trace.jsonl"
    simulate = ["simulate", "raft", "--steps", "60", "--seed", "7", "--faults", "all"]
    assert main([*simulate, "--liveness-steps", "400", "--trace", str(trace)]) in (0, 1)
    assert main(["export", "raft", str(trace), "--to", str(work / "events.jsonl")]) == 0
    etcd = ["export", "raft", str(trace), "--format", "etcd-raft"]
    assert main([*etcd, "--to", str(work / "etcd-events.ndjson")]) == 0
    found = Seeds({path.name: path.read_bytes() for path in SEEDS.iterdir() if path.is_file()})
    for name in ("trace.jsonl", "events.jsonl", "etcd-events.ndjson"):
        found[name] = (work / name).read_bytes()
    return found


def test_every_seed_is_valid_input(seeds: Seeds, tmp_path: Path) -> None:
    """The fuzzer mutates valid input: each unmutated seed passes its verb."""
    for target in TARGETS:
        path = tmp_path / target.seed
        path.write_bytes(seeds[target.seed])
        outcome = run_cli(target.command(str(path), tmp_path))
        assert outcome.code == 0, (target.name, outcome.err)


def assert_clean(
    outcome_code: int, err: str, path: Path, line_based: bool, inputs: list[str]
) -> None:
    """``inputs``: every file the command read (an error may be about how another file,
    such as the pod beside a scheduler configuration, fits the mutated one)."""
    assert "Traceback" not in err, err
    assert outcome_code in (0, 1, 2, 3), err
    if outcome_code != 2:
        return
    assert err.startswith("kubeoracle: "), err
    assert any(f"kubeoracle: {name}" in err for name in inputs), err
    if line_based and f"kubeoracle: {path}" in err:
        # Every complaint about a line-based file names a line, except about the whole file.
        whole_file = ("cannot read", "no operations", "no events", "empty", "no header", "mix the")
        if not any(reason in err for reason in whole_file):
            assert re.search(rf"{re.escape(str(path))}:\d+: ", err), err


@pytest.mark.parametrize("target", TARGETS, ids=[target.name for target in TARGETS])
@given(data=st.data())
def test_malformed_file_exits_cleanly(
    target: Target, seeds: Seeds, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    """Exit 0-3; on 2 the file (and, for line-based files, the line) is named; no traceback."""
    work = tmp_path_factory.getbasetemp() / "fuzz-work"
    work.mkdir(exist_ok=True)
    content = data.draw(malformed(seeds[target.seed], structured=target.structured))
    path = work / f"input-{target.seed}"
    path.write_bytes(content)
    args = target.command(str(path), work)
    outcome = run_cli(args)
    inputs = [arg for arg in args if arg.startswith(str(SEEDS)) or arg == str(path)]
    assert_clean(outcome.code, outcome.err, path, target.line_based, inputs)
