"""``kubeoracle simulate raft``: the seeded Raft simulation with every invariant at every step.

Exit 0 when every run passes (no invariant broken, liveness reached within its bound); 1 on
a violation or a liveness failure (the report names the invariant, the step and the nodes; the
trace, with a snapshot, is written only to the ``--trace`` file); 2 for bad options.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from runner.cli import simulate_apiserver, simulate_etcd
from runner.cli.output import add_output_option, emit
from runner.cli.simulate_cluster import register_cluster
from runner.cli.simulate_controllers import register_controllers
from runner.cli.simulate_kubelet import register_kubelet
from runner.cli.simulate_scheduler import register_scheduler
from runner.errors import InputError
from runner.exit_codes import ExitCode
from runner.progress import track
from runner.sim.seeds import SEEDS_MAX, SeedRange, parse_seed_range

if TYPE_CHECKING:
    from models.raft_world import RaftSetup
    from runner.cli.output import VerbParsers
    from runner.raft.simulator import SimulationResult

DEFAULT_STEPS: Final = 2500
DEFAULT_LIVENESS_STEPS: Final = 10000
MUTANT_SEEDS: Final[dict[str, int | None]] = {
    "vote_twice": 10,
    "skip_consistency_check": 25,
    "vote_not_persisted": 60,
    "joint_counts_new_only": 80,
    "commit_previous_term_by_counting": 150,
    "skip_up_to_date_check": 10,
    "truncate_without_conflict": 50,
}
"""Within how many consecutive seeds (default options, any start) the simulator catches each
mutant, with no tuning by mutant name. Measured with ``--seeds 1..200`` (seeds needed from any
start: the worst case seen, median in brackets): vote_twice 4 (1), skip_consistency_check 10
(1), vote_not_persisted 26 (4), joint_counts_new_only 37 (6), commit_previous_term_by_counting
56 (18), skip_up_to_date_check 5 (1), truncate_without_conflict 24 (5); each bound is about
twice the worst case seen or more (``docs/cli.md``)."""
MUTANT_SEARCHED_SEEDS: Final = 30
"""How many seeds were searched for the mutants the simulator does not catch."""


def register(verbs: VerbParsers) -> None:
    """Add the ``simulate`` verb and its ``raft`` target."""
    parser = verbs.add_parser(
        "simulate",
        help="run a seeded simulation with faults, checking every invariant at every step",
        description="Deterministic simulation: one seed decides the faults and every step.",
    )
    targets = parser.add_subparsers(dest="target", metavar="<target>", required=True)
    raft = targets.add_parser(
        "raft",
        help="a Raft cluster with message loss, duplication, reordering, partitions, crashes "
        "and membership changes",
        description=(
            "Simulate a Raft cluster: a safety phase with the seed's faults, every spec/raft "
            "invariant checked after every step, then a liveness phase (faults healed) in which "
            "a leader must be elected and a value committed within a stated bound."
        ),
    )
    raft.add_argument("--nodes", type=int, default=5, help="initial voters, 1-9 (default 5)")
    raft.add_argument(
        "--seed",
        default="1",
        help="an integer, or a 40-hex-digit git commit hash (default 1)",
    )
    raft.add_argument(
        "--seeds",
        default=None,
        metavar="COUNT|FIRST..LAST",
        help="COUNT: run this many consecutive seeds from --seed, stopping at the first "
        "failure (default 1; with --mutant, the mutant's stated bound); FIRST..LAST: run every "
        "seed of the range and report which fail (with --mutant: the distribution of the first "
        "catching seed)",
    )
    raft.add_argument(
        "--steps",
        type=int,
        default=DEFAULT_STEPS,
        help=f"steps of the safety phase (default {DEFAULT_STEPS})",
    )
    raft.add_argument(
        "--liveness-steps",
        type=int,
        default=DEFAULT_LIVENESS_STEPS,
        help="the liveness bound: steps after faults stop within which a value must commit "
        f"(default {DEFAULT_LIVENESS_STEPS})",
    )
    raft.add_argument(
        "--faults",
        default="swarm",
        help="comma-separated fault kinds (crash, drop, duplicate, membership, partition), "
        "'all', 'none', or 'swarm': the seed picks the mix (default)",
    )
    raft.add_argument("--mutant", default="none", help="run a deliberately broken Raft variant")
    raft.add_argument("--list-mutants", action="store_true", help="list the mutants and exit")
    raft.add_argument("--trace", type=Path, default=None, help="write the trace to FILE")
    add_output_option(raft)
    raft.set_defaults(handler=run_simulate_raft)
    simulate_apiserver.add_target(targets)
    simulate_etcd.add_target(targets)
    register_cluster(targets)
    register_controllers(targets)
    register_kubelet(targets)
    register_scheduler(targets)


def parse_seed(text: str) -> int:
    """An integer seed, or a git commit hash read as a hexadecimal number."""
    if re.fullmatch(r"[0-9]+", text):
        return int(text)
    if re.fullmatch(r"[0-9a-fA-F]{40}", text):
        return int(text, 16)
    raise InputError("expected an integer or a 40-hex-digit commit hash", field="--seed")


def _options_from(args: argparse.Namespace) -> tuple[list[int] | SeedRange, Any]:
    from models.trace import STEPS_MAX
    from runner.raft.faults import MUTANT_DESCRIPTIONS, parse_faults
    from runner.raft.simulator import SimulationOptions

    if not 1 <= args.nodes <= 9:
        raise InputError("a cluster has 1 to 9 nodes", field="--nodes")
    if args.steps < 0 or args.liveness_steps < 1:
        raise InputError("steps must be >= 0 and liveness steps >= 1", field="--steps")
    if args.steps + args.liveness_steps > STEPS_MAX:
        reason = (
            f"--steps {args.steps} + --liveness-steps {args.liveness_steps} exceeds the limit"
            f" of {STEPS_MAX} steps per run"
        )
        raise InputError(reason, field="--steps")
    if args.mutant != "none" and args.mutant not in MUTANT_DESCRIPTIONS:
        known = ", ".join(sorted(MUTANT_DESCRIPTIONS))
        raise InputError(f"unknown mutant {args.mutant!r} (known: {known})", field="--mutant")
    faults: tuple[str, ...] | None = None
    if args.faults != "swarm":
        parsed = parse_faults(args.faults)
        if isinstance(parsed, str):
            raise InputError(parsed, field="--faults")
        faults = parsed
    seed = parse_seed(args.seed)
    seeds = _seeds_from(args.seeds, seed, MUTANT_SEEDS.get(args.mutant, 1))
    options = SimulationOptions(
        seed=seed,
        nodes=args.nodes,
        safety_steps=args.steps,
        liveness_steps=args.liveness_steps,
        faults=faults,
        mutant=args.mutant,
    )
    return seeds, options


def _seeds_from(text: str | None, seed: int, bound: int | None) -> list[int] | SeedRange:
    """``--seeds``: a count of seeds from ``seed`` (default: the mutant's bound, or 1), or a
    range to run whole."""
    if text is not None and not text.isdigit():
        parsed = parse_seed_range(text)
        if isinstance(parsed, str):
            raise InputError(parsed, field="--seeds")
        return parsed
    count = int(text) if text is not None else bound or MUTANT_SEARCHED_SEEDS
    if not 1 <= count <= SEEDS_MAX:
        raise InputError(f"expected 1 to {SEEDS_MAX} seeds", field="--seeds")
    return list(range(seed, seed + count))


def run_simulate_raft(args: argparse.Namespace) -> ExitCode:
    """The ``simulate raft`` handler."""
    import dataclasses

    from runner.input_files import check_output_path
    from runner.raft.faults import MUTANT_DESCRIPTIONS
    from runner.raft.simulator import simulate
    from runner.sim.trace import code_version

    if args.list_mutants:
        report = {
            "mutants": [
                {"name": name, "description": text, "caught_within_seeds": MUTANT_SEEDS[name]}
                for name, text in sorted(MUTANT_DESCRIPTIONS.items())
            ]
        }
        emit(report, args.output, _render_mutants)
        return ExitCode.PASS
    seeds, options = _options_from(args)
    if args.trace is not None:
        check_output_path(args.trace, "trace")
    if isinstance(seeds, SeedRange):
        return _run_range(args, seeds, options)
    version = code_version()
    result: SimulationResult[RaftSetup] | None = None
    for seed in track(seeds, "simulate raft: seeds", args.output):
        result = simulate(dataclasses.replace(options, seed=seed), version)
        if result.result.status != "pass":
            break
    assert result is not None
    _write_trace(args.trace, result)
    report = build_report(result, args.trace, len(seeds))
    emit(report, args.output, render_text)
    return ExitCode.PASS if result.result.status == "pass" else ExitCode.VIOLATION


def _write_trace(path: Path | None, result: SimulationResult[RaftSetup]) -> None:
    from runner.input_files import write_output

    if path is not None:
        write_output(path, result.trace.content(), "trace")


def _run_range(args: argparse.Namespace, seeds: SeedRange, options: Any) -> ExitCode:
    """Every seed of the range; the report gives the failing seeds and, for a mutant, the
    distribution of the first catching seed. The trace (``--trace``) is the first failing
    seed's, or the last seed's when none fails."""
    import dataclasses

    from runner.raft.simulator import simulate
    from runner.sim.seeds import CatchDistribution
    from runner.sim.trace import code_version

    version = code_version()
    caught: list[int] = []
    properties: dict[str, int] = {}
    kept: SimulationResult[RaftSetup] | None = None
    bar = track(seeds.seeds(), "simulate raft: seeds", args.output, total=len(seeds))
    for seed in bar:
        result = simulate(dataclasses.replace(options, seed=seed), version)
        if result.result.status != "pass":
            caught.append(seed)
            name = result.result.property or result.result.status
            properties[name] = properties.get(name, 0) + 1
        if kept is None or kept.result.status == "pass":
            kept = result
    assert kept is not None
    _write_trace(args.trace, kept)
    report = CatchDistribution(seeds, tuple(caught)).report()
    report.update(
        target="raft",
        mutant=args.mutant,
        stated_bound=MUTANT_SEEDS.get(args.mutant),
        properties=dict(sorted(properties.items())),
        trace=str(args.trace) if args.trace is not None else None,
    )
    emit(report, args.output, render_distribution)
    return ExitCode.VIOLATION if caught else ExitCode.PASS


def render_distribution(report: Mapping[str, Any]) -> str:
    """The human summary of a seed range."""
    lines = [
        f"kubeoracle simulate raft: seeds {report['seeds']}, mutant {report['mutant']}:"
        f" {report['caught']} of {report['runs']} runs failed"
        f" (rate {report['catch_rate']:.2%})",
    ]
    if report["properties"]:
        broken = ", ".join(f"{name} x{count}" for name, count in report["properties"].items())
        lines.append(f"  broken: {broken}")
    needed = report.get("seeds_needed")
    if needed is not None:
        lines.append(
            f"  first failing seed {report['first_catching_seed']}; seeds needed from any start:"
            f" median {needed['median']}, p90 {needed['p90']}, p99 {needed['p99']},"
            f" max {needed['max']} ({report['starts_without_catch']} starts at the end of the"
            " range saw no failure)"
        )
    if report["stated_bound"] is not None and report["mutant"] != "none":
        lines.append(f"  stated bound: caught within {report['stated_bound']} seeds")
    if report["trace"]:
        lines.append(f"  trace: {report['trace']}")
    return "\n".join(lines)


def build_report(
    result: SimulationResult[RaftSetup], trace_path: Path | None, seeds_tried: int
) -> dict[str, Any]:
    """The machine-readable report of a run (``-o json``)."""
    from runner.sim.fingerprint import to_builtins

    header = result.header
    outcome = result.result
    return {
        "target": "raft",
        "seed": header.seed,
        "seeds_tried": seeds_tried,
        "setup": to_builtins(header.setup),
        "swarm": to_builtins(header.swarm),
        "safety_steps": header.safety_steps,
        "liveness_steps": header.liveness_steps,
        "code_version": header.code_version,
        "steps": outcome.steps,
        "statistics": result.statistics,
        "coverage": result.coverage,
        "liveness_steps_used": result.liveness_steps_used,
        "result": to_builtins(outcome),
        "trace": str(trace_path) if trace_path is not None else None,
        "trace_lines": len(result.trace.lines),
    }


def _render_mutants(report: Mapping[str, Any]) -> str:
    lines = ["Raft mutants (deliberately broken variants; each must be caught):"]
    for mutant in report["mutants"]:
        seeds = mutant["caught_within_seeds"]
        bound = (
            f"caught within {seeds} seeds"
            if seeds is not None
            else f"not caught by random simulation in {MUTANT_SEARCHED_SEEDS} seeds"
        )
        lines.append(f"  {mutant['name']:<34} {mutant['description']} ({bound})")
    return "\n".join(lines)


def render_text(report: Mapping[str, Any]) -> str:
    """The human summary of a run."""
    setup, swarm, stats = report["setup"], report["swarm"], report["statistics"]
    result = report["result"]
    faults = ", ".join(swarm["faults"]) or "none"
    lines = [
        f"kubeoracle simulate raft: seed {report['seed']}, {setup['nodes']} nodes"
        f" (+{setup['spare_nodes']} spare), mutant {setup['mutant']}",
        f"  faults: {faults}; pre_vote {setup['pre_vote']}, check_quorum {setup['check_quorum']},"
        f" up to {setup['max_crashed']} down at once",
        f"  steps: {report['steps']} ({report['safety_steps']} safety"
        f" + liveness bound {report['liveness_steps']})",
        f"  elections: {stats['elections']}, values committed: {stats['values_committed']},"
        f" snapshots: {stats['snapshots_persisted']} persisted /"
        f" {stats['snapshots_installed']} installed,"
        f" conf changes: {stats['conf_changes_applied']}"
        f" ({stats['joint_configurations_entered']} joint)",
    ]
    covered = [name for name, step in report["coverage"].items() if step is not None]
    missed = [name for name, step in report["coverage"].items() if step is None]
    lines.append(f"  sometimes-properties reached: {len(covered)} of {len(report['coverage'])}")
    if missed:
        lines.append(f"    not reached: {', '.join(missed)}")
    if report["liveness_steps_used"] is not None:
        lines.append(
            f"  liveness: a value committed {report['liveness_steps_used']} steps after faults"
            f" stopped (bound {report['liveness_steps']})"
        )
    if result["status"] == "pass":
        lines.append(f"PASS: every invariant held at every step ({report['seeds_tried']} seed(s))")
    else:
        nodes = ", ".join(str(node) for node in result["nodes"]) or "-"
        lines.append(
            f"FAIL: {result['status']} of {result['property']} after step {result['index']}"
            f" (nodes {nodes}): {result['message']}"
        )
        if report["trace"]:
            lines.append(f"  reproduce: kubeoracle replay {report['trace']}")
        else:
            lines.append(
                f"  record it: rerun with --seed {report['seed']} --seeds 1 --trace FILE,"
                " then kubeoracle replay FILE"
            )
    if report["trace"]:
        lines.append(f"  trace: {report['trace']} ({report['trace_lines']} lines)")
    return "\n".join(lines)
