"""``kubeoracle simulate apiserver``: the seeded API server world (clients, the reference API
server machine, the reference etcd) with faults, every API property judged after every step.

Exit 0 when every run passes, 1 on a violation or a liveness failure (the report names the
property and the step; the trace is written only to ``--trace``), 2 for bad options.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from runner.cli.options import bounded_int, fault_kinds
from runner.cli.output import add_output_option, emit
from runner.errors import InputError
from runner.exit_codes import ExitCode
from runner.progress import track

if TYPE_CHECKING:
    from runner.apiserver.world import ApiSetup
    from runner.sim.simulate import RunOptions, SimulationResult

DEFAULT_STEPS: Final = 400
DEFAULT_LIVENESS_STEPS: Final = 400
STEPS_LIMIT: Final = 20_000
"""Every step re-judges the whole history so far, so a run's cost grows with its square."""
MUTANT_SEEDS: Final = 10
"""Seeds a mutant run tries by default. Measured with ``--seeds 1..40`` and default options:
``stale-list`` and ``ignore-resource-version`` are caught by every seed, ``skip-watch-event``
by 30 of 40 (``docs/apiserver.md``)."""
FAULTS: Final = ("etcd-leader-loss", "apiserver-restart", "slow-watcher")
MUTANTS: Final = ("stale-list", "skip-watch-event", "ignore-resource-version")


def add_target(targets: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``simulate apiserver``."""
    parser = targets.add_parser(
        "apiserver",
        help="clients, the API server and etcd with etcd leader loss, API server restarts and "
        "slow watchers",
        description=(
            "Simulate clients calling the reference API server on the reference etcd: a safety "
            "phase with the seed's faults, every spec/apiserver property (and per-object "
            "linearizability) judged after every step, then a liveness phase (faults stop) in "
            "which a call must be answered."
        ),
    )
    parser.add_argument("--seed", type=bounded_int(0, 2**63 - 1), default=1, help="default 1")
    parser.add_argument(
        "--seeds",
        default=None,
        metavar="COUNT|FIRST..LAST",
        help="COUNT: this many consecutive seeds from --seed, stopping at the first failure "
        f"(default 1; with --mutant {MUTANT_SEEDS}); FIRST..LAST: every seed of the range",
    )
    parser.add_argument("--steps", type=bounded_int(0, STEPS_LIMIT), default=DEFAULT_STEPS)
    parser.add_argument(
        "--liveness-steps", type=bounded_int(1, STEPS_LIMIT), default=DEFAULT_LIVENESS_STEPS
    )
    parser.add_argument("--clients", type=bounded_int(1, 8), default=None, help="default: drawn")
    parser.add_argument("--objects", type=bounded_int(1, 8), default=None, help="default: drawn")
    parser.add_argument(
        "--faults",
        default="swarm",
        help=f"comma-separated fault kinds ({', '.join(FAULTS)}), 'all', 'none', or 'swarm': "
        "the seed picks the mix (default)",
    )
    parser.add_argument("--mutant", choices=("none", *MUTANTS), default="none")
    parser.add_argument("--trace", type=Path, default=None, help="write the trace to FILE")
    add_output_option(parser)
    parser.set_defaults(handler=run_simulate_apiserver)


def _seeds(args: argparse.Namespace) -> list[int]:
    from runner.sim.seeds import SEEDS_MAX, parse_seed_range

    text = args.seeds
    if text is not None and not text.isdigit():
        parsed = parse_seed_range(text)
        if isinstance(parsed, str):
            raise InputError(parsed, field="--seeds")
        return list(parsed.seeds())
    count = int(text) if text is not None else (MUTANT_SEEDS if args.mutant != "none" else 1)
    if not 1 <= count <= SEEDS_MAX:
        raise InputError(f"expected 1 to {SEEDS_MAX} seeds", field="--seeds")
    return list(range(args.seed, args.seed + count))


def run_simulate_apiserver(args: argparse.Namespace) -> ExitCode:
    """The ``simulate apiserver`` handler."""
    import dataclasses

    import msgspec

    from runner.apiserver.world import APISERVER, draw_setup
    from runner.input_files import check_output_path, write_output
    from runner.sim.simulate import RunOptions, simulate
    from runner.sim.trace import code_version

    if args.steps + args.liveness_steps > STEPS_LIMIT:
        raise InputError(f"--steps plus --liveness-steps exceed {STEPS_LIMIT}", field="--steps")
    seeds = _seeds(args)
    if args.trace is not None:
        check_output_path(args.trace, "trace")
    options = RunOptions(
        seed=seeds[0],
        safety_steps=args.steps,
        liveness_steps=args.liveness_steps,
        faults=fault_kinds(args.faults, FAULTS),
    )

    def setup(prng: Any, swarm: Any) -> ApiSetup:
        drawn = draw_setup(prng, swarm)
        chosen = {"clients": args.clients, "objects": args.objects}
        return msgspec.structs.replace(
            drawn,
            mutant="" if args.mutant == "none" else args.mutant,
            **{name: value for name, value in chosen.items() if value is not None},
        )

    version = code_version()
    failed: list[int] = []
    kept: SimulationResult[ApiSetup] | None = None
    number = 0
    for seed in track(seeds, "simulate apiserver: seeds", args.output):
        number += 1
        result = simulate(APISERVER, dataclasses.replace(options, seed=seed), setup, version)
        if result.result.status != "pass":
            failed.append(seed)
        if kept is None or kept.result.status == "pass":
            kept = result
        if failed and (args.seeds is None or args.seeds.isdigit()):
            break
    assert kept is not None
    if args.trace is not None:
        write_output(args.trace, kept.trace.content(), "trace")
    emit(build_report(kept, args, number, failed, options), args.output, render_text)
    return ExitCode.VIOLATION if failed else ExitCode.PASS


def build_report(
    result: SimulationResult[ApiSetup],
    args: argparse.Namespace,
    seeds_run: int,
    failed: list[int],
    options: RunOptions,
) -> dict[str, Any]:
    """The machine-readable report (``-o json``): the first failing run, else the last run."""
    from runner.sim.fingerprint import to_builtins

    header = result.header
    return {
        "target": "apiserver",
        "seed": header.seed,
        "seeds_run": seeds_run,
        "failing_seeds": failed,
        "mutant": args.mutant,
        "setup": to_builtins(header.setup),
        "swarm": to_builtins(header.swarm),
        "safety_steps": options.safety_steps,
        "liveness_steps": options.liveness_steps,
        "code_version": header.code_version,
        "steps": result.result.steps,
        "statistics": result.statistics,
        "coverage": result.coverage,
        "liveness_steps_used": result.liveness_steps_used,
        "result": to_builtins(result.result),
        "trace": str(args.trace) if args.trace is not None else None,
    }


def render_text(report: Mapping[str, Any]) -> str:
    """The human summary."""
    setup, result = report["setup"], report["result"]
    faults = ", ".join(report["swarm"]["faults"]) or "none"
    actions = ", ".join(f"{name} {count}" for name, count in report["statistics"].items())
    covered = [name for name, step in report["coverage"].items() if step is not None]
    lines = [
        f"kubeoracle simulate apiserver: seed {report['seed']}, {setup['clients']} clients,"
        f" {setup['objects']} objects, mutant {report['mutant']}",
        f"  faults: {faults}",
        f"  steps: {report['steps']} ({report['safety_steps']} safety + liveness bound"
        f" {report['liveness_steps']}); actions: {actions}",
        f"  sometimes-properties reached: {len(covered)} of {len(report['coverage'])}",
    ]
    failing = report["failing_seeds"]
    if len(failing) > 1 or report["seeds_run"] > 1:
        shown = ", ".join(map(str, failing[:20])) + (", ..." if len(failing) > 20 else "")
        lines.append(
            f"  seeds run: {report['seeds_run']}; failing: {len(failing)} ({shown or 'none'})"
        )
    if result["status"] == "pass":
        lines.append(
            f"PASS: every API property held after every step ({report['seeds_run']} seed(s))"
        )
    else:
        lines.append(
            f"FAIL: {result['status']} of {result['property']} after step {result['index']}:"
            f" {result['message']}"
        )
        hint = report["trace"] or "FILE (rerun with --seeds 1 --trace FILE)"
        lines.append(f"  seed {report['seed']}; reproduce: kubeoracle replay {hint}")
    return "\n".join(lines)
