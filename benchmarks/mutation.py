"""Mutation testing (not part of CI): how many deliberately broken variants of the code do the
tests catch? ``python -m benchmarks.mutation [TARGET ...] [--only FILE] [--keep DIR]``
(``scripts/mutation`` installs mutmut and runs this, niced).

Targets (default: all): ``scheduler`` (impl/scheduler, tests/scheduler), ``raft`` (impl/raft,
tests/raft), ``etcd`` (impl/etcd, tests/etcd), ``linearizability`` (spec/linearizability*.py,
tests/lincheck). ``--only FILE`` mutates just those files of the target (a whole target takes
hours on a shared machine; the table then scores that subset, with the target's full tests).
``--ignore-tests GLOB`` leaves test files out (to score a suite before new tests were added).
For each target the repository's tracked files are copied into a scratch folder with a
``[tool.mutmut]`` section naming the target's sources and tests, ``mutmut run`` mutates
every function of the sources (operators, constants, comparisons, arguments, ...) and runs the
tests that reach it, and the result is printed (``linearizability --only
spec/linearizability.py`` before the tests of docs/mutation.md):

    target            mutants  killed  survived  no tests  timeout   score  minutes
    linearizability       216     177        39         0        0   81.9%     15.0

The score is mutmut's: (killed + timeout) / (mutants - skipped). A surviving mutant is a change
no test notices; ``--keep DIR`` keeps the scratch folders so that ``mutmut show NAME`` (run in
``DIR/<target>``) shows each survivor, and ``survivors.txt`` there lists them. ``--recheck DIR``
runs only the survivors kept in ``DIR`` against the current tests (new tests never revive a
killed mutant) and prints the earlier counts with what is now killed: the "after" score of
docs/mutation.md in minutes rather than hours. Hypothesis runs its
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
import tomllib
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_PACKAGES = ("models", "impl", "spec", "proofs", "runner")
MUTMUT = (sys.executable, "-m", "mutmut")


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


def mutmut_section(
    target: Target, mutate: tuple[str, ...], ignore: tuple[str, ...], others: list[str]
) -> str:
    """The ``[tool.mutmut]`` configuration of one run (``mutate``: the file globs mutated;
    ``ignore``: test file globs left out; ``others``: what mutmut copies besides the sources,
    since tests read docs/ and data)."""
    pytest_args = ["-p", "no:cacheprovider", "-q", *(f"--ignore-glob={glob}" for glob in ignore)]
    lines = [
        "",
        "[tool.mutmut]",
        f"source_paths = {json.dumps(list(SOURCE_PACKAGES))}",
        f"only_mutate = {json.dumps(list(mutate))}",
        f"pytest_add_cli_args_test_selection = {json.dumps(list(target.tests))}",
        f"pytest_add_cli_args = {json.dumps(pytest_args)}",
        f"also_copy = {json.dumps(others)}",
        "use_git_change_detection = false",
        "",
    ]
    return "\n".join(lines)


def prepare(target: Target, folder: Path, mutate: tuple[str, ...], ignore: tuple[str, ...]) -> None:
    """A copy of the repository in ``folder``, configured for ``target``."""
    names = tracked_files()
    for name in names:
        destination = folder / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, destination)
    others = sorted({name.split("/")[0] for name in names} - set(SOURCE_PACKAGES))
    with (folder / "pyproject.toml").open("a", encoding="utf-8") as pyproject:
        pyproject.write(mutmut_section(target, mutate, ignore, others))


def run_target(
    target: Target,
    folder: Path,
    max_children: int,
    mutate: tuple[str, ...],
    ignore: tuple[str, ...],
    mutants: tuple[str, ...] = (),
) -> dict[str, int]:
    """Run mutmut for ``target`` in ``folder``, mutating the files ``mutate`` matches (only the
    mutants named in ``mutants``, if any); its summary counts. ``survivors.txt`` lists every
    mutant that is not killed."""
    prepare(target, folder, mutate, ignore)
    environment = {**os.environ, "HYPOTHESIS_PROFILE": "mutation"}
    with (folder / "mutmut.log").open("w", encoding="utf-8") as log:
        subprocess.run(
            [*MUTMUT, "run", "--max-children", str(max_children), *mutants],
            cwd=folder,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
        subprocess.run(
            [*MUTMUT, "export-cicd-stats"], cwd=folder, stdout=log, stderr=log, check=True
        )
    survivors = subprocess.run(
        [*MUTMUT, "results"], cwd=folder, capture_output=True, text=True, check=True
    ).stdout
    (folder / "survivors.txt").write_text(survivors, encoding="utf-8")
    stats: dict[str, int] = json.loads((folder / "mutants" / "mutmut-cicd-stats.json").read_text())
    return stats


def not_killed(listing: str) -> dict[str, str]:
    """The mutants ``mutmut results`` (``survivors.txt``) lists as survived or without tests,
    with that status."""
    lines = (line.strip().rpartition(": ") for line in listing.splitlines())
    return {name: status for name, _, status in lines if status in ("survived", "no tests")}


def recheck(
    target: Target, earlier: Path, folder: Path, max_children: int, ignore: tuple[str, ...]
) -> dict[str, int]:
    """The counts of the run kept in ``earlier``, with its survivors (and mutants no test
    reached) run again against the current tests in ``folder``. Tests only added since then
    kill no fewer mutants, so only those need running; the sources must be unchanged (mutant
    names count mutations)."""
    section = tomllib.loads((earlier / "pyproject.toml").read_text(encoding="utf-8"))
    mutate = tuple(section["tool"]["mutmut"]["only_mutate"])
    counts: dict[str, int] = json.loads(
        (earlier / "mutants" / "mutmut-cicd-stats.json").read_text()
    )
    earlier_status = not_killed((earlier / "survivors.txt").read_text(encoding="utf-8"))
    if not earlier_status:
        return counts
    run_target(target, folder, max_children, mutate, ignore, tuple(earlier_status))
    listing = subprocess.run(
        [*MUTMUT, "results", "--all", "true"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    status = {
        name: state
        for name, _, state in (line.strip().rpartition(": ") for line in listing.splitlines())
    }
    still: list[str] = []
    for name, was in earlier_status.items():
        now = status.get(name, was)
        counts[was.replace(" ", "_")] -= 1
        counts[now.replace(" ", "_")] = counts.get(now.replace(" ", "_"), 0) + 1
        if now in ("survived", "no tests"):
            still.append(f"    {name}: {now}\n")
    (folder / "survivors.txt").write_text("".join(still), encoding="utf-8")
    # The combined counts, where a later --recheck of this folder reads them.
    (folder / "mutants" / "mutmut-cicd-stats.json").write_text(json.dumps(counts, indent=4))
    return counts


def files_to_mutate(target: Target, only: list[str]) -> tuple[str, ...]:
    """The globs mutated for ``target``: its own, or the files of ``only`` that belong to it."""
    if not only:
        return target.mutate
    return tuple(name for name in only if any(fnmatch(name, glob) for glob in target.mutate))


def score(stats: dict[str, int]) -> float:
    """mutmut's mutation score in percent: (killed + timeout) / (total - skipped)."""
    tested = stats["total"] - stats.get("skipped", 0)
    return 100.0 * (stats["killed"] + stats.get("timeout", 0)) / tested if tested else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", metavar="TARGET", help=", ".join(TARGETS))
    parser.add_argument(
        "--max-children", type=int, default=1, help="parallel test processes (default 1)"
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="FILE",
        help="mutate only FILE (repeatable; e.g. impl/raft/replication.py); the target's tests run",
    )
    parser.add_argument("--keep", type=Path, help="keep the scratch folders under DIR")
    parser.add_argument(
        "--recheck",
        type=Path,
        metavar="DIR",
        help="run only the survivors of an earlier --keep DIR run (same files) against the "
        "current tests; the table gives that run's counts with what the tests now kill",
    )
    parser.add_argument(
        "--ignore-tests",
        action="append",
        default=[],
        metavar="GLOB",
        help="leave out test files matching GLOB (e.g. to score the suite before new tests)",
    )
    args = parser.parse_args()
    if args.recheck is not None and args.keep is not None and args.recheck == args.keep:
        parser.error("--recheck DIR and --keep DIR must differ (the earlier run is read)")
    names: list[str] = args.targets or list(TARGETS)
    unknown = sorted(set(names) - set(TARGETS))
    if unknown:
        parser.error(f"unknown target {', '.join(unknown)} (known: {', '.join(TARGETS)})")
    for name in args.only:
        if not (ROOT / name).is_file() or not any(
            files_to_mutate(TARGETS[target], [name]) for target in names
        ):
            parser.error(f"--only {name}: not a file of the targets {', '.join(names)}")
    print(f"{'target':<16} {'mutants':>8} {'killed':>7} {'survived':>9} {'no tests':>9} "
          f"{'timeout':>8} {'score':>7} {'minutes':>8}")  # fmt: skip
    for name in names:
        mutate = files_to_mutate(TARGETS[name], args.only)
        if not mutate or (args.recheck is not None and not (args.recheck / name).is_dir()):
            continue
        base = args.keep if args.keep is not None else Path(tempfile.mkdtemp(prefix="mutation-"))
        folder = base / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        started = time.monotonic()
        ignore = tuple(args.ignore_tests)
        if args.recheck is not None:
            earlier = args.recheck / name
            stats = recheck(TARGETS[name], earlier, folder, args.max_children, ignore)
        else:
            stats = run_target(TARGETS[name], folder, args.max_children, mutate, ignore)
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
