"""``kubeoracle simulate kubelet``: kubelets on the simulated runtime against a stand-in API
server (``runner.kubelet.world``), with the API server unreachable, node reboots, clock jumps
and memory pressure; every ``spec.kubelet`` property after every step, then a liveness phase in
which every Lease must be fresh and every pod's API status current.

``--seed S`` runs one seed (``--trace FILE`` records it for ``kubeoracle replay``); ``--seeds
A..B`` runs a range and reports the failing ones (for ``--mutant``: the catching seeds).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from runner.cli.options import bounded_int
from runner.cli.output import add_output_option, emit
from runner.cli.simulate_controllers import _summary
from runner.errors import InputError
from runner.exit_codes import ExitCode
from runner.sim.seeds import parse_seed_range

MUTANTS: Final = {
    "probe-threshold-off-by-one": "a probe result flips one consecutive answer late",
    "backoff-not-reset": "the crash-loop backoff never expires, however long a container ran",
    "eviction-ignores-priority": "node-pressure eviction ranks by usage alone",
}


def register_kubelet(targets: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = targets.add_parser(
        "kubelet",
        help="kubelets on the simulated runtime with an unreachable API server, reboots, clock "
        "jumps and memory pressure",
        description=(
            "Simulate kubelets: a safety phase with the seed's faults and pods, spec/kubelet "
            "properties after every step, then a liveness phase in which every node's Lease "
            "must be fresh and every pod's API status must reach its kubelet's phase."
        ),
    )
    parser.add_argument("--seed", type=bounded_int(0, 2**63 - 1), default=1, help="default 1")
    parser.add_argument("--seeds", help="run every seed of FIRST..LAST and report the failing ones")
    parser.add_argument("--mutant", default="none", help="run a deliberately broken kubelet")
    parser.add_argument("--nodes", type=bounded_int(1, 5), default=2, help="default 2")
    parser.add_argument("--steps", type=bounded_int(1, 100_000), default=400, help="safety steps")
    parser.add_argument("--liveness-steps", type=bounded_int(1, 1_000_000), default=200)
    parser.add_argument("--trace", type=Path, help="write the run's trace here (one seed)")
    parser.add_argument("--list-mutants", action="store_true", help="list the mutants and exit")
    add_output_option(parser)
    parser.set_defaults(handler=run_simulate_kubelet)


def _one(seed: int, args: argparse.Namespace, version: str) -> Any:
    from models.kubelet.world import KubeletSetup
    from runner.kubelet.world_kind import KUBELET
    from runner.sim.simulate import RunOptions, simulate

    mutant = "" if args.mutant == "none" else args.mutant
    options = RunOptions(seed=seed, safety_steps=args.steps, liveness_steps=args.liveness_steps)
    setup = KubeletSetup(seed=seed, nodes=args.nodes, mutant=mutant)
    return simulate(KUBELET, options, lambda _prng, _swarm: setup, version)


def run_simulate_kubelet(args: argparse.Namespace) -> ExitCode:
    from runner.input_files import check_output_path, write_output
    from runner.sim.trace import code_version

    if args.list_mutants:
        emit({"mutants": MUTANTS}, args.output, _render_mutants)
        return ExitCode.PASS
    if args.mutant != "none" and args.mutant not in MUTANTS:
        known = ", ".join(MUTANTS)
        raise InputError(f"unknown mutant {args.mutant!r} (known: {known})", field="--mutant")
    version = code_version()
    if args.seeds:
        seeds = parse_seed_range(args.seeds)
        if isinstance(seeds, str):
            raise InputError(seeds, field="--seeds")
        runs = [_summary(_one(seed, args, version)) for seed in seeds.seeds()]
        failing = [run["seed"] for run in runs if run["status"] != "pass"]
        report = {
            "mutant": args.mutant,
            "seeds": f"{seeds.first}..{seeds.last}",
            "failing_seeds": failing,
            "properties": sorted({str(r["property"]) for r in runs if r["status"] != "pass"}),
            "runs": runs,
        }
        emit(report, args.output, _render_range)
        return ExitCode.VIOLATION if failing else ExitCode.PASS
    if args.trace is not None:
        check_output_path(args.trace, "trace")
    result = _one(args.seed, args, version)
    if args.trace is not None:
        write_output(args.trace, result.trace.content(), "trace")
    one = {"mutant": args.mutant, **_summary(result)}
    emit(one, args.output, _render_one)
    return ExitCode.PASS if result.result.status == "pass" else ExitCode.VIOLATION


def _render_one(report: Mapping[str, Any]) -> str:
    head = f"kubeoracle simulate kubelet: seed {report['seed']}, mutant {report['mutant']}"
    faults = ", ".join(report["faults"]) or "none"
    if report["status"] == "pass":
        return f"{head}: pass (faults: {faults}; {report['statistics']})"
    return (
        f"{head}: {report['status']} of {report['property']} at step {report['step']} "
        f"(faults: {faults})\n  {report['message']}"
    )


def _render_range(report: Mapping[str, Any]) -> str:
    failing = report["failing_seeds"]
    head = f"kubeoracle simulate kubelet: seeds {report['seeds']}, mutant {report['mutant']}"
    found = f" ({', '.join(report['properties'])}): {failing}" if failing else ""
    return f"{head}: {len(failing)} of {len(report['runs'])} failed{found}"


def _render_mutants(report: Mapping[str, Any]) -> str:
    lines = ["kubelet mutants (each must be caught):"]
    lines.extend(f"  {name:<30} {text}" for name, text in report["mutants"].items())
    return "\n".join(lines)
