"""``kubeoracle simulate controllers``: the controllers' world (``runner.controllers.world``)
with faults, its safety properties every step and eventually stable reconciliation at the end.

``--seed S`` runs one seed (``--trace FILE`` records it for ``kubeoracle replay``);
``--seeds A..B`` runs a range and reports which seeds fail, which for ``--mutant`` is the
distribution of catching seeds.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any, Final

from runner.cli.options import bounded_int
from runner.cli.output import add_output_option, emit
from runner.errors import InputError
from runner.exit_codes import ExitCode
from runner.sim.seeds import SeedRange, parse_seed_range

MUTANTS: Final = {
    "replicaset-ignores-expectations": "the ReplicaSet controller syncs as if no expectations "
    "were pending",
    "replicaset-counts-terminating-available": "terminating pods count as ready and available "
    "in ReplicaSet status",
    "gc-forgets-orphaning": "the garbage collector deletes dependents of an owner deleted with "
    "propagationPolicy Orphan",
}
SAFETY_STEPS: Final = 300
LIVENESS_STEPS: Final = 3000


def register_controllers(targets: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = targets.add_parser(
        "controllers",
        help="the API server, Deployment/ReplicaSet/garbage-collector controllers and kubelets "
        "with crashes, failovers, broken watches and lost writes",
        description=(
            "Simulate the controllers: a safety phase with the seed's faults and user changes, "
            "spec/controllers safety properties after every step, then a liveness phase in "
            "which every controller must reconcile and stop writing (ESR)."
        ),
    )
    parser.add_argument("--seed", type=bounded_int(0, 2**63 - 1), default=1, help="default 1")
    parser.add_argument("--seeds", help="run every seed of FIRST..LAST and report the failing ones")
    parser.add_argument("--mutant", default="none", help="run a deliberately broken controller")
    parser.add_argument(
        "--steps", type=bounded_int(1, 100_000), default=SAFETY_STEPS, help="safety steps"
    )
    parser.add_argument("--liveness-steps", type=bounded_int(1, 1_000_000), default=LIVENESS_STEPS)
    parser.add_argument("--trace", type=_path, help="write the run's trace here (one seed)")
    parser.add_argument("--list-mutants", action="store_true", help="list the mutants and exit")
    add_output_option(parser)
    parser.set_defaults(handler=run_simulate_controllers)


def _path(text: str) -> Any:
    from pathlib import Path

    return Path(text)


def _one(seed: int, args: argparse.Namespace, version: str) -> Any:
    from models.controllers.world import ControllersSetup
    from runner.controllers.world_kind import CONTROLLERS
    from runner.sim.simulate import RunOptions, simulate

    mutant = "" if args.mutant == "none" else args.mutant
    options = RunOptions(seed=seed, safety_steps=args.steps, liveness_steps=args.liveness_steps)
    return simulate(
        CONTROLLERS,
        options,
        lambda _prng, _swarm: ControllersSetup(seed=seed, mutant=mutant),
        version,
    )


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


def run_simulate_controllers(args: argparse.Namespace) -> ExitCode:
    from runner.input_files import check_output_path, write_output
    from runner.sim.trace import code_version

    if args.list_mutants:
        emit({"mutants": MUTANTS}, args.output, _render_mutants)
        return ExitCode.PASS
    if args.mutant != "none" and args.mutant not in MUTANTS:
        raise InputError(
            f"unknown mutant {args.mutant!r} (known: {', '.join(MUTANTS)})", field="--mutant"
        )
    version = code_version()
    if args.seeds:
        seeds = parse_seed_range(args.seeds)
        if isinstance(seeds, str):
            raise InputError(seeds, field="--seeds")
        return _run_range(args, seeds, version)
    if args.trace is not None:
        check_output_path(args.trace, "trace")
    result = _one(args.seed, args, version)
    if args.trace is not None:
        write_output(args.trace, result.trace.content(), "trace")
    report = {"mutant": args.mutant, **_summary(result)}
    emit(report, args.output, _render_one)
    return ExitCode.PASS if result.result.status == "pass" else ExitCode.VIOLATION


def _run_range(args: argparse.Namespace, seeds: SeedRange, version: str) -> ExitCode:
    runs = [_summary(_one(seed, args, version)) for seed in seeds.seeds()]
    failing = [run["seed"] for run in runs if run["status"] != "pass"]
    report = {
        "mutant": args.mutant,
        "seeds": f"{seeds.first}..{seeds.last}",
        "failing_seeds": failing,
        "first_failing_seed": failing[0] if failing else None,
        "properties": sorted({str(run["property"]) for run in runs if run["status"] != "pass"}),
        "runs": runs,
    }
    emit(report, args.output, _render_range)
    return ExitCode.VIOLATION if failing else ExitCode.PASS


def _render_one(report: Mapping[str, Any]) -> str:
    head = f"kubeoracle simulate controllers: seed {report['seed']}, mutant {report['mutant']}"
    faults = ", ".join(report["faults"]) or "none"
    if report["status"] == "pass":
        return f"{head}: pass (faults: {faults})"
    return (
        f"{head}: {report['status']} of {report['property']} at step {report['step']} "
        f"(faults: {faults})\n  {report['message']}"
    )


def _render_range(report: Mapping[str, Any]) -> str:
    runs = report["runs"]
    failing = report["failing_seeds"]
    return (
        f"kubeoracle simulate controllers: seeds {report['seeds']}, mutant {report['mutant']}: "
        f"{len(failing)} of {len(runs)} failed"
        + (
            f" (first {failing[0]}; {', '.join(report['properties'])}): {failing}"
            if failing
            else ""
        )
    )


def _render_mutants(report: Mapping[str, Any]) -> str:
    lines = ["controller mutants (each must be caught):"]
    lines.extend(f"  {name:<42} {text}" for name, text in report["mutants"].items())
    return "\n".join(lines)
