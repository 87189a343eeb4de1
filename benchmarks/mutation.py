"""Mutation testing (not part of CI): how many deliberately broken variants of the code do the
tests catch? ``python -m benchmarks.mutation [TARGET ...] [--max-children N] [--keep DIR]``
(``scripts/mutation`` installs mutmut and runs this, niced).

Targets (default: all): ``scheduler`` (impl/scheduler, tests/scheduler), ``raft`` (impl/raft,
tests/raft), ``etcd`` (impl/etcd, tests/etcd), ``linearizability`` (spec/linearizability*.py,
tests/lincheck). ``--ignore-tests GLOB`` leaves test files out (to score a suite before new tests
were added). For each target the repository's tracked files are copied into a scratch folder
with a ``[tool.mutmut]`` section naming the target's sources and tests, ``mutmut run`` mutates
every function of the sources (operators, constants, comparisons, arguments, ...) and runs the
tests that reach it, and the result is printed:

    target            mutants  killed  survived  no tests  timeout  score
    scheduler            2140    1800       300        40        0  84.1%

The score is mutmut's: (killed + timeout) / (mutants - skipped). A surviving mutant is a change
no test notices; ``--keep DIR`` keeps the scratch folders so that ``mutmut show NAME`` (run in
``DIR/<target>``) shows each survivor, and ``survivors.txt`` there lists them. Hypothesis runs its
``mutation`` profile (derandomized, 50 examples) so that a kill is reproducible.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_PACKAGES = ("models", "impl", "spec", "proofs", "runner")


@dataclass(frozen=True)
class Target:
    """What one mutation run mutates and which tests it runs."""

    name: str
    mutate: tuple[str, ...]
    """Glob patterns of the files to mutate (mutmut's ``only_mutate``)."""
    tests: tuple[str, ...]


TARGETS = {
    target.name: target
    for target in (
        Target("scheduler", ("impl/scheduler/*",), ("tests/scheduler",)),
        Target("raft", ("impl/raft/*",), ("tests/raft",)),
        Target("etcd", ("impl/etcd/*",), ("tests/etcd",)),
        Target("linearizability", ("spec/linearizability*.py",), ("tests/lincheck",)),
    )
}


def tracked_files() -> list[str]:
    """The repository's files as git tracks them (the working tree's version of each)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, text=True
    ).stdout
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def mutmut_section(target: Target, ignore: tuple[str, ...], others: list[str]) -> str:
    """The ``[tool.mutmut]`` configuration of one run (``ignore``: test file globs left out;
    ``others``: what mutmut copies besides the sources, since tests read docs/ and data)."""
    pytest_args = ["-p", "no:cacheprovider", "-q", *(f"--ignore-glob={glob}" for glob in ignore)]
    lines = [
        "",
        "[tool.mutmut]",
        f"source_paths = {json.dumps(list(SOURCE_PACKAGES))}",
        f"only_mutate = {json.dumps(list(target.mutate))}",
        f"pytest_add_cli_args_test_selection = {json.dumps(list(target.tests))}",
        f"pytest_add_cli_args = {json.dumps(pytest_args)}",
        f"also_copy = {json.dumps(others)}",
        "use_git_change_detection = false",
        "",
    ]
    return "\n".join(lines)


def prepare(target: Target, folder: Path, ignore: tuple[str, ...]) -> None:
    """A copy of the repository in ``folder``, configured for ``target``."""
    names = tracked_files()
    for name in names:
        destination = folder / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, destination)
    others = sorted({name.split("/")[0] for name in names} - set(SOURCE_PACKAGES))
    with (folder / "pyproject.toml").open("a", encoding="utf-8") as pyproject:
        pyproject.write(mutmut_section(target, ignore, others))


def run_target(
    target: Target, folder: Path, max_children: int, ignore: tuple[str, ...]
) -> dict[str, int]:
    """Run mutmut for ``target`` in ``folder``; its summary counts."""
    prepare(target, folder, ignore)
    environment = {**os.environ, "HYPOTHESIS_PROFILE": "mutation"}
    mutmut = [sys.executable, "-m", "mutmut"]
    with (folder / "mutmut.log").open("w", encoding="utf-8") as log:
        subprocess.run(
            [*mutmut, "run", "--max-children", str(max_children)],
            cwd=folder,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
        subprocess.run(
            [*mutmut, "export-cicd-stats"], cwd=folder, stdout=log, stderr=log, check=True
        )
    survivors = subprocess.run(
        [*mutmut, "results"], cwd=folder, capture_output=True, text=True, check=True
    ).stdout
    (folder / "survivors.txt").write_text(survivors, encoding="utf-8")
    stats: dict[str, int] = json.loads((folder / "mutants" / "mutmut-cicd-stats.json").read_text())
    return stats


def score(stats: dict[str, int]) -> float:
    """mutmut's mutation score in percent: (killed + timeout) / (total - skipped)."""
    tested = stats["total"] - stats.get("skipped", 0)
    return 100.0 * (stats["killed"] + stats.get("timeout", 0)) / tested if tested else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", metavar="TARGET", help=", ".join(TARGETS))
    parser.add_argument("--max-children", type=int, default=2, help="parallel test processes")
    parser.add_argument("--keep", type=Path, help="keep the scratch folders under DIR")
    parser.add_argument(
        "--ignore-tests",
        action="append",
        default=[],
        metavar="GLOB",
        help="leave out test files matching GLOB (e.g. to score the suite before new tests)",
    )
    args = parser.parse_args()
    names: list[str] = args.targets or list(TARGETS)
    unknown = sorted(set(names) - set(TARGETS))
    if unknown:
        parser.error(f"unknown target {', '.join(unknown)} (known: {', '.join(TARGETS)})")
    print(f"{'target':<16} {'mutants':>8} {'killed':>7} {'survived':>9} {'no tests':>9} "
          f"{'timeout':>8} {'score':>7} {'minutes':>8}")  # fmt: skip
    for name in names:
        base = args.keep if args.keep is not None else Path(tempfile.mkdtemp(prefix="mutation-"))
        folder = base / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        started = time.monotonic()
        stats = run_target(TARGETS[name], folder, args.max_children, tuple(args.ignore_tests))
        minutes = (time.monotonic() - started) / 60
        print(
            f"{name:<16} {stats['total']:>8} {stats['killed']:>7} {stats['survived']:>9} "
            f"{stats['no_tests']:>9} {stats['timeout']:>8} {score(stats):>6.1f}% {minutes:>8.1f}",
            flush=True,
        )
        if args.keep is None:
            shutil.rmtree(base)


if __name__ == "__main__":
    main()
