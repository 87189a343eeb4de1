"""A ``simulate`` target for a world whose setup is its seed and a mutant (``controllers``,
``scheduler``): ``--seed S`` runs one seed (``--trace FILE`` records it for ``kubeoracle
replay``); ``--seeds A..B`` runs a range and reports which seeds fail, which for ``--mutant`` is
the distribution of catching seeds; ``--list-mutants`` lists the mutants.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.cli.options import bounded_int
from runner.cli.output import add_output_option, emit
from runner.errors import InputError
from runner.exit_codes import ExitCode
from runner.progress import track
from runner.sim.seeds import SeedRange, parse_seed_range

Simulate = Callable[[int, str, int, int, str], Any]
"""``(seed, mutant, safety steps, liveness steps, code version)`` to a simulation result."""


@dataclass(frozen=True)
class WorldTarget:
    """What ``simulate NAME`` needs to know about its world."""

    name: str
    help: str
    description: str
    mutants: Mapping[str, str]
    mutants_title: str
    safety_steps: int
    liveness_steps: int
    simulate: Simulate


def add_world_target(
    targets: argparse._SubParsersAction[argparse.ArgumentParser], target: WorldTarget
) -> argparse.ArgumentParser:
    """Add ``simulate NAME`` with the shared options; the parser, for a target's own."""
    parser = targets.add_parser(target.name, help=target.help, description=target.description)
    parser.add_argument("--seed", type=bounded_int(0, 2**63 - 1), default=1, help="default 1")
    parser.add_argument("--seeds", help="run every seed of FIRST..LAST and report the failing ones")
    parser.add_argument("--mutant", default="none", help="run a deliberately broken component")
    parser.add_argument(
        "--steps",
        type=bounded_int(1, 100_000),
        default=target.safety_steps,
        help=f"safety steps (default {target.safety_steps})",
    )
    parser.add_argument(
        "--liveness-steps", type=bounded_int(1, 1_000_000), default=target.liveness_steps
    )
    parser.add_argument("--trace", type=Path, help="write the run's trace here (one seed)")
    parser.add_argument("--list-mutants", action="store_true", help="list the mutants and exit")
    add_output_option(parser)
    parser.set_defaults(handler=lambda args: run_world_target(target, args))
    return parser


def _one(target: WorldTarget, seed: int, args: argparse.Namespace, version: str) -> Any:
    mutant = "" if args.mutant == "none" else args.mutant
    return target.simulate(seed, mutant, args.steps, args.liveness_steps, version)


def _summary(result: Any) -> dict[str, Any]:
    outcome = result.result
    return {
        "seed": result.header.seed,
        "status": outcome.status,
        "property": outcome.property,
        "step": outcome.index,
        "message": outcome.message,
        "faults": list(result.header.swarm.faults),
        "coverage": dict(result.coverage),
        "statistics": result.statistics,
    }


def run_world_target(target: WorldTarget, args: argparse.Namespace) -> ExitCode:
    from runner.input_files import check_output_path, write_output
    from runner.sim.trace import code_version

    if args.list_mutants:
        title = target.mutants_title
        emit({"mutants": dict(target.mutants)}, args.output, lambda r: _render_mutants(title, r))
        return ExitCode.PASS
    if args.mutant != "none" and args.mutant not in target.mutants:
        raise InputError(
            f"unknown mutant {args.mutant!r} (known: {', '.join(target.mutants)})",
            field="--mutant",
        )
    version = code_version()
    if args.seeds:
        seeds = parse_seed_range(args.seeds)
        if isinstance(seeds, str):
            raise InputError(seeds, field="--seeds")
        return _run_range(target, args, seeds, version)
    if args.trace is not None:
        check_output_path(args.trace, "trace")
    result = _one(target, args.seed, args, version)
    if args.trace is not None:
        write_output(args.trace, result.trace.content(), "trace")
    report = {"mutant": args.mutant, **_summary(result)}
    emit(report, args.output, lambda r: _render_one(target.name, r))
    return ExitCode.PASS if result.result.status == "pass" else ExitCode.VIOLATION


def _run_range(
    target: WorldTarget, args: argparse.Namespace, seeds: SeedRange, version: str
) -> ExitCode:
    bar = track(seeds.seeds(), f"simulate {target.name}: seeds", args.output, total=len(seeds))
    runs = [_summary(_one(target, seed, args, version)) for seed in bar]
    failing = [run["seed"] for run in runs if run["status"] != "pass"]
    report = {
        "mutant": args.mutant,
        "seeds": f"{seeds.first}..{seeds.last}",
        "failing_seeds": failing,
        "first_failing_seed": failing[0] if failing else None,
        "properties": sorted({str(run["property"]) for run in runs if run["status"] != "pass"}),
        "runs": runs,
    }
    emit(report, args.output, lambda r: _render_range(target.name, r))
    return ExitCode.VIOLATION if failing else ExitCode.PASS


def _render_one(name: str, report: Mapping[str, Any]) -> str:
    head = f"kubeoracle simulate {name}: seed {report['seed']}, mutant {report['mutant']}"
    faults = ", ".join(report["faults"]) or "none"
    if report["status"] == "pass":
        return f"{head}: pass (faults: {faults})"
    return (
        f"{head}: {report['status']} of {report['property']} at step {report['step']} "
        f"(faults: {faults})\n  {report['message']}"
    )


def _render_range(name: str, report: Mapping[str, Any]) -> str:
    runs = report["runs"]
    failing = report["failing_seeds"]
    return (
        f"kubeoracle simulate {name}: seeds {report['seeds']}, mutant {report['mutant']}: "
        f"{len(failing)} of {len(runs)} failed"
        + (
            f" (first {failing[0]}; {', '.join(report['properties'])}): {failing}"
            if failing
            else ""
        )
    )


def _render_mutants(title: str, report: Mapping[str, Any]) -> str:
    lines = [f"{title} (each must be caught):"]
    lines.extend(f"  {name:<42} {text}" for name, text in report["mutants"].items())
    return "\n".join(lines)
