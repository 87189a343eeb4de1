"""``kubeoracle explore WORLD``: many seeds of a world's simulation, against the reference and
every mutant, in parallel on this machine's processes or on a Dask cluster.

Exit 0 when the reference passes every seed and every mutant explored is caught by some seed;
1 when the reference fails a seed; 3 when a run was lost or a mutant escaped every seed; 2 for
bad options or an unreachable scheduler.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from runner.cli.options import bounded_int
from runner.cli.output import add_output_option, emit
from runner.errors import InputError
from runner.exit_codes import ExitCode
from runner.sim.seeds import SEEDS_MAX, SeedRange, parse_seed_range

if TYPE_CHECKING:
    from runner.cli.output import VerbParsers
    from runner.explore.engine import Engine
    from runner.explore.simulation import Explorable

DEFAULT_SEEDS: Final = "1..100"
DEFAULT_LIVENESS_STEPS: Final = 10000
WORKERS_MAX: Final = 1024
DEFAULT_SHRINK_BUDGET: Final = 1000
SHRINK_BUDGET_MAX: Final = 100_000
STEPS_OPTION_MAX: Final = 1_000_000
SEEDS_SHOWN: Final = 12
EXIT_CODES: Final = {
    "pass": ExitCode.PASS,
    "violation": ExitCode.VIOLATION,
    "inconclusive": ExitCode.INCONCLUSIVE,
}


def register(verbs: VerbParsers) -> None:
    """Add the ``explore`` verb."""
    parser = verbs.add_parser(
        "explore",
        help="run many simulation seeds of a world in parallel, against the reference and "
        "every mutant (local processes or Dask)",
        description=(
            "Run seeds FIRST..LAST of WORLD's simulation against the reference and each "
            "mutant, in parallel, and report each mutant's catching seeds grouped by the first "
            "property broken. The report is the same whatever the engine and worker count."
        ),
    )
    parser.add_argument("world", metavar="WORLD", help="the world to explore (raft, apiserver)")
    parser.add_argument(
        "--seeds",
        default=DEFAULT_SEEDS,
        metavar="COUNT|FIRST..LAST",
        help=f"seeds 1..COUNT, or the range FIRST..LAST (default {DEFAULT_SEEDS})",
    )
    parser.add_argument(
        "--mutant",
        default="all",
        help="all: the reference and every mutant (default); none: the reference only; or "
        "comma-separated mutant names",
    )
    add_engine_options(parser)
    parser.add_argument(
        "--steps",
        type=bounded_int(0, STEPS_OPTION_MAX),
        default=None,
        help="steps of each run's safety phase (default: the world's; raft 1000, apiserver 300)",
    )
    parser.add_argument(
        "--liveness-steps",
        type=bounded_int(1, STEPS_OPTION_MAX),
        default=DEFAULT_LIVENESS_STEPS,
        help=f"the liveness bound of each run (default {DEFAULT_LIVENESS_STEPS})",
    )
    parser.add_argument(
        "--faults",
        default="swarm",
        help="comma-separated fault kinds of the world, 'all', 'none', or 'swarm': each seed "
        "picks the mix (default)",
    )
    parser.add_argument(
        "--shrink-budget",
        type=bounded_int(0, SHRINK_BUDGET_MAX),
        default=DEFAULT_SHRINK_BUDGET,
        help="re-runs allowed to shrink the shortest run of each violation group, 0 to skip "
        f"shrinking (default {DEFAULT_SHRINK_BUDGET})",
    )
    parser.add_argument(
        "--traces",
        type=Path,
        default=None,
        metavar="DIR",
        help="write each group's shrunk trace into this existing folder",
    )
    parser.add_argument(
        "--merge",
        nargs="+",
        type=Path,
        default=None,
        metavar="REPORT",
        help="run nothing: merge the JSON reports of explorations of consecutive seed ranges "
        "(same world and options) into the report of their union",
    )
    add_output_option(parser)
    parser.set_defaults(handler=run_explore)


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """``--engine``, ``--workers`` and ``--scheduler`` (read by :func:`make_engine`)."""
    parser.add_argument(
        "--engine",
        choices=("local", "dask"),
        default="local",
        help="local: worker processes on this machine (in this process with --workers 1); "
        "dask: a Dask LocalCluster, or the scheduler given by --scheduler (default local)",
    )
    parser.add_argument(
        "--workers",
        type=bounded_int(1, WORKERS_MAX),
        default=None,
        help="worker processes for local and the Dask LocalCluster (default: the CPU count)",
    )
    parser.add_argument(
        "--scheduler", default=None, metavar="ADDRESS", help="a Dask scheduler (tcp://HOST:PORT)"
    )


def parse_seeds(text: str) -> SeedRange:
    """``--seeds``: a count from 1, or a range."""
    if text.isdigit():
        count = int(text)
        if not 1 <= count <= SEEDS_MAX:
            raise InputError(f"expected 1 to {SEEDS_MAX} seeds", field="--seeds")
        return SeedRange(1, count)
    parsed = parse_seed_range(text)
    if isinstance(parsed, str):
        raise InputError(parsed, field="--seeds")
    return parsed


def parse_mutants(text: str, known: Mapping[str, str]) -> tuple[str, ...]:
    """``--mutant``: the targets explored, the reference (``none``) first when included."""
    from runner.explore.simulation import CORRECT

    if text == "all":
        return (CORRECT, *sorted(known))
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name != CORRECT and name not in known]
    if not names or unknown:
        listed = ", ".join(sorted(known))
        reason = f"unknown mutant {', '.join(unknown)!r}" if unknown else "no mutant named"
        raise InputError(f"{reason} (known: all, none, {listed})", field="--mutant")
    return tuple(dict.fromkeys(sorted(names, key=lambda name: (name != CORRECT, name))))


def parse_faults(text: str, known: tuple[str, ...]) -> tuple[str, ...] | None:
    """``--faults``: ``None`` for swarm, else the chosen kinds."""
    if text == "swarm":
        return None
    if text == "all":
        return known
    if text == "none":
        return ()
    kinds = tuple(sorted({kind.strip() for kind in text.split(",") if kind.strip()}))
    unknown = [kind for kind in kinds if kind not in known]
    if unknown or not kinds:
        listed = ", ".join(known)
        reason = f"unknown fault kind {', '.join(unknown)}" if unknown else "no fault kind named"
        raise InputError(f"{reason} (known: {listed}, all, none, swarm)", field="--faults")
    return kinds


def make_engine(args: argparse.Namespace) -> Engine:
    """The engine the options ask for."""
    from runner.explore.engine import DaskEngine, InProcessEngine, LocalEngine

    workers = args.workers or os.cpu_count() or 1
    if args.scheduler is not None:
        if args.engine != "dask":
            raise InputError("a scheduler address needs --engine dask", field="--scheduler")
        if args.workers is not None:
            raise InputError("a scheduler's cluster has its own workers", field="--workers")
        return DaskEngine(workers, args.scheduler)
    if args.engine == "dask":
        return DaskEngine(workers)
    return LocalEngine(workers) if workers > 1 else InProcessEngine()


def run_explore(args: argparse.Namespace) -> ExitCode:
    """The ``explore`` handler."""
    from models.trace import STEPS_MAX
    from runner.cli.worlds import EXPLORABLE
    from runner.explore.exploration import Exploration, explore, shrink_groups
    from runner.explore.simulation import RunChoices
    from runner.input_files import write_output
    from runner.sim.trace import code_version

    target: Explorable[Any] | None = EXPLORABLE.get(args.world)
    if target is None:
        known = ", ".join(sorted(EXPLORABLE))
        raise InputError(f"unknown world {args.world!r} (known: {known})", field="WORLD")
    if args.merge is not None:
        return merge_command(args)
    steps: int = target.safety_steps if args.steps is None else args.steps
    if steps + args.liveness_steps > STEPS_MAX:
        reason = f"--steps plus --liveness-steps exceed the limit of {STEPS_MAX} steps per run"
        raise InputError(reason, field="--steps")
    if args.traces is not None and not args.traces.is_dir():
        raise InputError("not an existing folder", field="--traces", source=str(args.traces))
    exploration = Exploration(
        world=args.world,
        target=target,
        mutants=parse_mutants(args.mutant, target.mutants),
        seeds=parse_seeds(args.seeds),
        choices=RunChoices(
            safety_steps=steps,
            liveness_steps=args.liveness_steps,
            faults=parse_faults(args.faults, target.kind.fault_kinds),
            code_version=code_version(),
        ),
    )
    engine = make_engine(args)
    try:
        report = explore(exploration, engine, progress_bar)
        traces = {}
        if args.shrink_budget > 0:
            traces = shrink_groups(exploration, engine, report, args.shrink_budget)
    finally:
        engine.close()
        clear_progress()
    if args.traces is not None:
        for name, content in sorted(traces.items()):
            write_output(args.traces / name, content, "trace")
    emit(report, args.output, render_text)
    return EXIT_CODES[report["verdict"]]


def merge_command(args: argparse.Namespace) -> ExitCode:
    """``--merge``: the union of the reports, printed like an exploration's."""
    from runner.explore.merge import merge_reports

    report = merge_reports(args.merge)
    if report["world"] != args.world:
        reason = f"the reports explore {report['world']}, not {args.world}"
        raise InputError(reason, field="--merge")
    emit(report, args.output, render_text)
    return EXIT_CODES[report["verdict"]]


def progress_bar(finished: int, total: int) -> None:
    """A progress bar on stderr when it is a terminal."""
    if sys.stderr.isatty():
        width = 30
        filled = width * finished // total
        bar = "#" * filled + "." * (width - filled)
        sys.stderr.write(f"\r\x1b[K[{bar}] {finished}/{total} runs")
        sys.stderr.flush()


def clear_progress() -> None:
    """Erase the progress bar."""
    if sys.stderr.isatty():
        sys.stderr.write("\r\x1b[K")
        sys.stderr.flush()


def render_text(report: Mapping[str, Any]) -> str:
    """The human summary: one block per target, its catching seeds and failure groups."""
    from runner.explore.exploration import seed_ranges

    run = report["run"]
    rate = run["runs_per_second"]
    lines = [
        f"kubeoracle explore {report['world']}: seeds {report['seeds']}, {report['runs']} runs"
        f" on {run['engine']} ({run['workers']} workers) in {run['seconds']:.1f} s"
        f" ({rate} runs/s)",
    ]
    for target in report["targets"]:
        caught, runs = target["caught"], target["runs"]
        lines.append(f"  {target['mutant']:<34} caught by {caught} of {runs} seeds")
        seeds = target["catching_seeds"]
        if seeds:
            shown = seed_ranges(seeds[:SEEDS_SHOWN]) + (", ..." if len(seeds) > SEEDS_SHOWN else "")
            lines.append(f"    catching seeds: {shown}")
        for group in target["groups"]:
            lines.append(
                f"    {group['group']}: {group['runs']} seeds, first {group['first_seed']},"
                f" shortest seed {group['shortest_seed']} ({group['shortest_steps']} steps)"
                + _shrunk_text(group.get("shrunk"))
            )
        if target["lost"]:
            lines.append(f"    lost: {len(target['lost'])} runs ({target['lost'][0]['reason']})")
    lines.append(f"verdict: {report['verdict']}" + "".join(f"; {r}" for r in report["reasons"]))
    return "\n".join(lines)


def _shrunk_text(shrunk: Mapping[str, Any] | None) -> str:
    if shrunk is None:
        return ""
    if "lost" in shrunk:
        return f", not shrunk ({shrunk['lost']})"
    minimal = "1-minimal" if shrunk["minimal"] else "budget reached"
    return f", shrunk to {shrunk['steps']} steps ({minimal}, {shrunk['runs']} re-runs)"
