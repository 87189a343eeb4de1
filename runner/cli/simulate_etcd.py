"""``kubeoracle simulate etcd``: etcd members (``impl.etcd.member``) on the simulated network
with clients, watchers and faults; the clients' history and the watch streams are judged with
the checkers ``conform etcd`` uses on a real etcd (``runner.etcd.world_checks``).

Exit 0 when every run passes; 1 on a violation (a non-linearizable history, a broken watch
guarantee) or a liveness failure, the report naming the property and the operations; 3 when the
history check ran out of its search budget; 2 for bad options. With ``--workload lock`` the
verdict is the lock's real guarantee (``runner.etcd.sim_lock_check``): two clients believing
they hold the lock after a pause longer than the TTL is an explained finding, not a failure
(``--strict-lock``: a failure, exit 1).
``--seeds FIRST..LAST`` runs every seed of the range and, with ``--mutant``, reports the
distribution of the first catching seed (``runner.sim.seeds``).
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from runner.cli.options import bounded_int, fault_kinds
from runner.cli.output import add_output_option, emit
from runner.errors import InputError
from runner.exit_codes import ExitCode
from runner.progress import track

if TYPE_CHECKING:
    from models.etcd_world import EtcdSetup
    from runner.sim.simulate import SimulationResult

DEFAULT_STEPS: Final = 2000
DEFAULT_LIVENESS_STEPS: Final = 3000
STEPS_LIMIT: Final = 100_000
FAULTS: Final = ("crash", "drop", "duplicate", "partition", "pause")
STRICT_PROPERTY: Final = "lock_mutual_exclusion_unconditional"
"""What ``--strict-lock`` fails a run on (``spec.etcd.recipes.UNCONDITIONAL_MUTUAL_EXCLUSION``)."""


def add_target(targets: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``simulate etcd``."""
    parser = targets.add_parser(
        "etcd",
        help="etcd members on Raft with clients, watches, leases and compaction, under "
        "partitions, crashes, pauses and message loss",
        description=(
            "Simulate an etcd cluster (the reference member machines) with concurrent clients "
            "and watchers: a safety phase with the seed's faults, a liveness phase (faults "
            "stop) in which a write must be acknowledged, then the recorded history is judged "
            "for linearizability and the watch streams for etcd's watch guarantees."
        ),
    )
    parser.add_argument("--seed", type=bounded_int(0, 2**63 - 1), default=1, help="default 1")
    parser.add_argument(
        "--seeds",
        default=None,
        metavar="COUNT|FIRST..LAST",
        help="COUNT: this many consecutive seeds from --seed, stopping at the first failure; "
        "FIRST..LAST: every seed of the range (with --mutant: the catching-seed distribution)",
    )
    parser.add_argument(
        "--steps", type=bounded_int(0, STEPS_LIMIT), default=DEFAULT_STEPS,
        help=f"steps of the safety phase (default {DEFAULT_STEPS})",
    )  # fmt: skip
    parser.add_argument(
        "--liveness-steps", type=bounded_int(1, STEPS_LIMIT), default=DEFAULT_LIVENESS_STEPS,
        help=f"the liveness bound (default {DEFAULT_LIVENESS_STEPS})",
    )  # fmt: skip
    parser.add_argument("--members", type=bounded_int(1, 7), default=3, help="default 3")
    parser.add_argument("--clients", type=bounded_int(1, 16), default=3, help="default 3")
    parser.add_argument(
        "--faults",
        default="swarm",
        help=f"comma-separated fault kinds ({', '.join(FAULTS)}), 'all', 'none', or 'swarm': "
        "the seed picks the mix (default)",
    )
    parser.add_argument(
        "--workload",
        default="swarm",
        help="the clients' mix: kv, leases, lock (etcd's lock recipe, checked for mutual "
        "exclusion while the holder's lease is live and for fencing; two holders after a pause "
        "longer than the TTL are reported, explained), or 'swarm': the seed picks kv or leases "
        "(default)",
    )
    parser.add_argument(
        "--strict-lock",
        action="store_true",
        help="with --workload lock: exit 1 when two clients believed they held the lock at once "
        "(etcd does not promise otherwise; by default an explained finding)",
    )
    parser.add_argument("--mutant", default="none", help="run a deliberately broken member")
    parser.add_argument("--list-mutants", action="store_true", help="list the mutants and exit")
    parser.add_argument("--trace", type=Path, default=None, help="write the trace to FILE")
    add_output_option(parser)
    parser.set_defaults(handler=run_simulate_etcd)


def _seeds(args: argparse.Namespace) -> tuple[list[int], bool]:
    """The seeds to run, and whether every one runs (a range) or the first failure stops."""
    from runner.sim.seeds import SEEDS_MAX, parse_seed_range

    text = args.seeds
    if text is not None and not text.isdigit():
        parsed = parse_seed_range(text)
        if isinstance(parsed, str):
            raise InputError(parsed, field="--seeds")
        return list(parsed.seeds()), True
    count = int(text) if text is not None else 1
    if not 1 <= count <= SEEDS_MAX:
        raise InputError(f"expected 1 to {SEEDS_MAX} seeds", field="--seeds")
    return list(range(args.seed, args.seed + count)), False


def _two_holders(result: SimulationResult[Any]) -> bool:
    """The lock workload found two clients believing they held the lock at once."""
    findings = result.statistics.get("lock_findings")
    return isinstance(findings, dict) and "two_believed_holders" in findings


def _exit_code(result: SimulationResult[Any]) -> ExitCode:
    from runner.etcd.world_checks import INCONCLUSIVE

    if result.result.status == "pass":
        return ExitCode.PASS
    if result.result.property == INCONCLUSIVE:
        return ExitCode.INCONCLUSIVE
    return ExitCode.VIOLATION


def run_simulate_etcd(args: argparse.Namespace) -> ExitCode:
    """The ``simulate etcd`` handler."""
    from runner.etcd.exploration import MUTANT_DESCRIPTIONS as MUTANTS
    from runner.etcd.world_kind import ETCD, draw_setup
    from runner.input_files import check_output_path, write_output
    from runner.sim.seeds import CatchDistribution, SeedRange
    from runner.sim.simulate import RunOptions, simulate
    from runner.sim.trace import code_version

    if args.list_mutants:
        emit({"mutants": dict(MUTANTS)}, args.output, _render_mutants)
        return ExitCode.PASS
    if args.mutant != "none" and args.mutant not in MUTANTS:
        raise InputError(
            f"unknown mutant {args.mutant!r} (known: {', '.join(MUTANTS)})", field="--mutant"
        )
    from runner.etcd.sim_workload import WORKLOADS

    if args.workload != "swarm" and args.workload not in WORKLOADS:
        known = ", ".join(sorted(WORKLOADS))
        raise InputError(f"unknown workload {args.workload!r} (known: {known}, swarm)",
                         field="--workload")  # fmt: skip
    workload = None if args.workload == "swarm" else args.workload
    if args.strict_lock and workload != "lock":
        raise InputError("--strict-lock needs --workload lock", field="--strict-lock")
    if args.steps + args.liveness_steps > STEPS_LIMIT:
        raise InputError(f"--steps plus --liveness-steps exceed {STEPS_LIMIT}", field="--steps")
    faults = fault_kinds(args.faults, FAULTS)
    seeds, every = _seeds(args)
    if args.trace is not None:
        check_output_path(args.trace, "trace")
    options = RunOptions(
        seed=seeds[0], safety_steps=args.steps, liveness_steps=args.liveness_steps, faults=faults
    )

    def setup(prng: Any, swarm: Any) -> EtcdSetup:
        return draw_setup(prng, swarm, members=args.members, clients=args.clients,
                          mutant=args.mutant, workload=workload)  # fmt: skip

    version = code_version()
    failed: list[int] = []
    broken: dict[int, str] = {}
    codes: list[ExitCode] = []
    kept: SimulationResult[EtcdSetup] | None = None
    for seed in track(seeds, "simulate etcd: seeds", args.output):
        result = simulate(ETCD, dataclasses.replace(options, seed=seed), setup, version)
        strict = args.strict_lock and _two_holders(result)
        codes.append(ExitCode.VIOLATION if strict else _exit_code(result))
        if result.result.status != "pass" or strict:
            failed.append(seed)
            broken[seed] = STRICT_PROPERTY if strict else str(result.result.property)
        if kept is None or kept.header.seed not in failed:
            kept = result
        if failed and not every:
            break
    assert kept is not None
    if args.trace is not None:
        write_output(args.trace, kept.trace.content(), "trace")
    report = build_report(kept, args, len(codes), failed)
    report["strict_lock"] = args.strict_lock
    report["failures"] = {str(seed): name for seed, name in broken.items()}
    if every and len(seeds) > 1 and args.mutant != "none":
        report["distribution"] = CatchDistribution(
            SeedRange(seeds[0], seeds[-1]), tuple(failed)
        ).report()
    emit(report, args.output, render_text)
    return max(codes, key=lambda code: (code is ExitCode.VIOLATION, code.value))


def build_report(
    result: SimulationResult[EtcdSetup], args: argparse.Namespace, seeds_run: int, failed: list[int]
) -> dict[str, Any]:
    """The machine-readable report (``-o json``): the first failing run, else the last run."""
    from runner.sim.fingerprint import to_builtins

    header = result.header
    return {
        "target": "etcd",
        "seed": header.seed,
        "seeds_run": seeds_run,
        "failing_seeds": failed,
        "mutant": args.mutant,
        "setup": to_builtins(header.setup),
        "swarm": to_builtins(header.swarm),
        "safety_steps": header.safety_steps,
        "liveness_steps": header.liveness_steps,
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
    actions = ", ".join(
        f"{name} {count}" for name, count in report["statistics"].items() if isinstance(count, int)
    )
    covered = [name for name, step in report["coverage"].items() if step is not None]
    lines = [
        f"kubeoracle simulate etcd: seed {report['seed']}, {setup['members']} members,"
        f" {setup['clients']} clients, {setup['watches']} watchers, workload"
        f" {setup['workload']}, mutant {report['mutant']}",
        f"  faults: {faults}",
        f"  steps: {report['steps']} ({report['safety_steps']} safety + liveness bound"
        f" {report['liveness_steps']}); {actions}",
        f"  situations reached: {len(covered)} of {len(report['coverage'])}"
        f" ({', '.join(covered) or 'none'})",
    ]
    failing = report["failing_seeds"]
    if report["seeds_run"] > 1:
        shown = ", ".join(map(str, failing[:20])) + (", ..." if len(failing) > 20 else "")
        lines.append(
            f"  seeds run: {report['seeds_run']}; failing: {len(failing)} ({shown or 'none'})"
        )
    kinds = sorted(set(report.get("failures", {}).values()))
    if len(failing) > 1 and kinds:
        lines.append(f"  properties broken: {', '.join(kinds)}")
    distribution = report.get("distribution")
    if distribution is not None and distribution.get("seeds_needed"):
        needed = distribution["seeds_needed"]
        lines.append(
            f"  first failing seed {distribution['first_catching_seed']}; seeds needed from any"
            f" start: median {needed['median']}, p90 {needed['p90']}, max {needed['max']}"
        )
    findings = report["statistics"].get("lock_findings")
    if findings is not None:
        lines.extend(_lock_lines(findings))
    if (
        result["status"] == "pass"
        and report.get("strict_lock")
        and "two_believed_holders" in (findings or {})
    ):
        lines.append(
            f"FAIL (--strict-lock): {STRICT_PROPERTY}: two clients believed they held the lock at"
            f" once (above; etcd does not promise otherwise) (seed {report['seed']})"
        )
        hint = report["trace"] or f"FILE (rerun with --seed {report['seed']} --trace FILE)"
        lines.append(f"  reproduce: kubeoracle replay {hint}")
    elif result["status"] == "pass" and findings is not None:
        lines.append(
            "PASS: every Raft invariant held after every step; at most one client whose lease"
            " was alive believed it held the lock, and the fenced resource accepted writes in"
            f" token order ({report['seeds_run']} seed(s))"
        )
    elif result["status"] == "pass":
        lines.append(
            "PASS: every Raft invariant held after every step, the history is linearizable and"
            " every watch stream keeps etcd's guarantees"
            f" ({report['seeds_run']} seed(s))"
        )
    else:
        lines.append(
            f"FAIL: {result['status']} of {result['property']} after step {result['index']}"
            f" (seed {report['seed']}):"
        )
        lines.extend(f"  {line}" for line in str(result["message"]).splitlines())
        hint = report["trace"] or f"FILE (rerun with --seed {report['seed']} --trace FILE)"
        lines.append(f"  reproduce: kubeoracle replay {hint}")
    return "\n".join(lines)


LOCK_FINDINGS: Final = {
    "two_believed_holders": "two holders (etcd does not promise otherwise; found, not a failure)",
    "stale_write_refused": "fencing refused the stale holder's write",
    "unfenced_stale_write_accepted": "the unfenced resource took the stale holder's write",
}


def _lock_lines(findings: Mapping[str, str]) -> list[str]:
    """The lock workload's explained findings."""
    if not findings:
        return ["  lock: no two believed holders in this run"]
    return [f"  lock: {LOCK_FINDINGS.get(name, name)}:\n    {text}" for name, text in
            findings.items()]  # fmt: skip


def _render_mutants(report: Mapping[str, Any]) -> str:
    lines = ["etcd member mutants (each must be caught by the history checkers):"]
    lines.extend(f"  {name:<26} {text}" for name, text in report["mutants"].items())
    return "\n".join(lines)
