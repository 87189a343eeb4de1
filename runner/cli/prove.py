"""``kubeoracle prove [NAME...]``: run the z3 proof catalog and the mutants of each proof.

Exit 0 when every selected proof holds and z3 refutes every mutant; 1 when a proof fails (its
counterexample is printed) or a mutant survives (the proof is vacuous); 3 when z3 answers
unknown or times out. Progress goes to standard error when it is a terminal.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.cli.output import add_output_option, emit
from runner.errors import InputError
from runner.exit_codes import ExitCode

if TYPE_CHECKING:
    from proofs.catalog import Mutant, ProofCase
    from proofs.z3adapter import Verdict
    from runner.cli.output import VerbParsers


def register(verbs: VerbParsers) -> None:
    """Add the ``prove`` verb."""
    parser = verbs.add_parser(
        "prove",
        help="prove the Raft (and scheduling) safety properties with z3, and refute their mutants",
        description=(
            "Run the proof catalog. Each proof is an inductive invariant, a bounded model check "
            "to a stated depth, or an exhaustive check over a stated bound; each has mutants "
            "(broken variants) that z3 must refute."
        ),
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="run only the proofs whose name equals or starts with NAME (default: all)",
    )
    parser.add_argument("--list", action="store_true", help="list the proof names and exit")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also print the counterexample z3 found for each mutant",
    )
    parser.add_argument(
        "--export-counterexamples",
        type=Path,
        metavar="DIR",
        default=None,
        help=(
            "write each protocol mutant's counterexample as a simulator trace DIR/<mutant>.jsonl "
            "(impl.raft with the same mutant; check it with 'kubeoracle replay')"
        ),
    )
    add_output_option(parser)
    parser.set_defaults(handler=run_prove)


def _verdict_fields(verdict: Verdict) -> dict[str, Any]:
    from proofs.z3adapter import Counterexample, Proved

    if isinstance(verdict, Proved):
        return {"result": "proved"}
    if isinstance(verdict, Counterexample):
        return {
            "result": "counterexample",
            "counterexample": [[name, value] for name, value in verdict.assignment],
        }
    return {"result": "unknown", "reason": verdict.reason}


def _timed(check: Callable[[], Verdict]) -> tuple[Verdict, float]:
    started = time.perf_counter()
    verdict = check()
    return verdict, round(time.perf_counter() - started, 3)


def _progress(message: str) -> None:
    if sys.stderr.isatty():
        sys.stderr.write(f"\r\x1b[K{message}")
        sys.stderr.flush()


def _export(mutant: Mutant, verdict: Verdict, directory: Path, version: str) -> dict[str, Any]:
    """Write a protocol mutant's counterexample as a trace; the report fields about it."""
    from proofs.z3adapter import Counterexample
    from runner.raft.counterexample_export import ExportFailure, export_counterexample

    if not isinstance(verdict, Counterexample) or verdict.execution is None:
        return {"export_error": "z3 gave no execution to export"}
    exported = export_counterexample(verdict.execution, mutant.impl_mutant, version)
    if isinstance(exported, ExportFailure):
        return {"export_error": exported.reason}
    path = directory / f"{mutant.name}.jsonl"
    try:
        path.write_bytes(exported.content)
    except OSError as error:
        raise InputError(
            f"cannot write: {error.strerror}", source=str(path), field="--export-counterexamples"
        ) from None
    result = exported.result
    if result.property not in mutant.spec_properties:
        expected = ", ".join(mutant.spec_properties)
        return {
            "trace": str(path),
            "export_error": f"the trace breaks {result.property}, not the proof's ({expected})",
        }
    return {
        "trace": str(path),
        "trace_steps": result.steps,
        "trace_property": result.property,
        "trace_spans": [
            {
                "step": span.number,
                "text": span.text,
                "first": span.first,
                "last": span.last,
                "actions": span.actions,
            }
            for span in exported.spans
        ],
    }


def _run_case(case: ProofCase, export_to: Path | None, version: str) -> dict[str, Any]:
    _progress(f"proving {case.name} ...")
    verdict, seconds = _timed(case.check)
    mutants = []
    for mutant in case.mutants:
        _progress(f"proving {case.name}: mutant {mutant.name} ...")
        mutant_verdict, mutant_seconds = _timed(mutant.check)
        fields = _verdict_fields(mutant_verdict)
        if export_to is not None and mutant.impl_mutant:
            fields.update(_export(mutant, mutant_verdict, export_to, version))
        mutants.append(
            {
                "name": mutant.name,
                "description": mutant.description,
                "refuted": fields["result"] == "counterexample",
                "seconds": mutant_seconds,
                **fields,
            }
        )
    return {
        "name": case.name,
        "property": case.property_text,
        "method": case.method,
        "bound": case.bound,
        "seconds": seconds,
        "mutants": mutants,
        **_verdict_fields(verdict),
    }


def _overall(proofs: list[dict[str, Any]]) -> str:
    results = [proof["result"] for proof in proofs]
    mutant_results = [m["result"] for proof in proofs for m in proof["mutants"]]
    exports_failed = any("export_error" in m for proof in proofs for m in proof["mutants"])
    if "counterexample" in results or "proved" in mutant_results or exports_failed:
        return "violation"
    if "unknown" in results or "unknown" in mutant_results:
        return "inconclusive"
    return "pass"


def run_prove(args: argparse.Namespace) -> ExitCode:
    """Handler of ``kubeoracle prove``."""
    from proofs.catalog import all_proofs, select
    from proofs.z3adapter import solver_version

    cases = all_proofs()
    names: tuple[str, ...] = tuple(args.names)
    chosen = select(cases, names)
    for name in names:
        if not select(cases, (name,)):
            raise InputError(
                f"no proof is named {name!r} or starts with it; "
                "`kubeoracle prove --list` shows the names",
                field="NAME",
            )
    if args.list:
        for case in chosen:
            sys.stdout.write(f"{case.name}\t{case.method}\t{case.property_text}\n")
        return ExitCode.PASS
    export_to: Path | None = args.export_counterexamples
    version = ""
    if export_to is not None:
        from runner.sim.trace import code_version

        version = code_version()
        try:
            export_to.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputError(
                f"cannot create the directory: {error.strerror}",
                source=str(export_to),
                field="--export-counterexamples",
            ) from None
    started = time.perf_counter()
    proofs = [_run_case(case, export_to, version) for case in chosen]
    _progress("")
    verdict = _overall(proofs)
    report = {
        "verdict": verdict,
        "solver": f"z3 {solver_version()}",
        "seconds": round(time.perf_counter() - started, 3),
        "proofs": proofs,
    }
    verbose: bool = args.verbose
    emit(report, args.output, lambda r: render_text(r, show_mutant_counterexamples=verbose))
    return {
        "pass": ExitCode.PASS,
        "violation": ExitCode.VIOLATION,
        "inconclusive": ExitCode.INCONCLUSIVE,
    }[verdict]


def _indented_counterexample(pairs: list[list[str]], indent: str) -> list[str]:
    width = max((len(name) for name, _ in pairs), default=0)
    return [f"{indent}{name.ljust(width)}  {value}" for name, value in pairs]


def render_text(report: Mapping[str, Any], *, show_mutant_counterexamples: bool = False) -> str:
    """The table of proofs and, under each, its mutants; counterexamples as readable steps."""
    proofs: list[dict[str, Any]] = report["proofs"]
    header = ("property", "method", "bound", "result", "seconds")
    rows = [
        (p["name"], p["method"], p["bound"], p["result"], f"{p['seconds']:.2f}") for p in proofs
    ]
    widths = [max(len(row[col]) for row in (header, *rows)) for col in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * width for width in widths))
    for proof, row in zip(proofs, rows, strict=True):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if proof["result"] == "counterexample":
            lines.append(f"    COUNTEREXAMPLE to: {proof['property']}")
            lines.extend(_indented_counterexample(proof["counterexample"], "      "))
        elif proof["result"] == "unknown":
            lines.append(f"    z3 answered unknown: {proof['reason']}")
        for mutant in proof["mutants"]:
            status = {
                "counterexample": "refuted",
                "proved": "SURVIVED (the proof is vacuous)",
                "unknown": f"unknown ({mutant.get('reason', '')})",
            }[mutant["result"]]
            lines.append(
                f"    mutant {mutant['name']}: {status} in {mutant['seconds']:.2f} s"
                f" ({mutant['description']})"
            )
            if "trace" in mutant and "export_error" not in mutant:
                lines.append(
                    f"      trace {mutant['trace']}: {mutant['trace_steps']} actions on impl.raft, "
                    f"{mutant['trace_property']} broken after step {mutant['trace_steps']}"
                )
            elif "export_error" in mutant:
                lines.append(f"      trace NOT exported: {mutant['export_error']}")
            if show_mutant_counterexamples and mutant["result"] == "counterexample":
                lines.extend(_indented_counterexample(mutant["counterexample"], "      "))
                if mutant.get("trace_spans"):
                    lines.append(f"      as actions of {mutant['trace']}:")
                for span in mutant.get("trace_spans", ()):
                    lines.append(
                        f"      step {span['step']} = trace steps {span['first']}..{span['last']}: "
                        f"{span['actions']}"
                    )
    lines.append("")
    total_mutants = sum(len(p["mutants"]) for p in proofs)
    refuted = sum(1 for p in proofs for m in p["mutants"] if m["refuted"])
    proved = sum(1 for p in proofs if p["result"] == "proved")
    lines.append(
        f"{report['verdict']}: {proved}/{len(proofs)} proved, {refuted}/{total_mutants} mutants "
        f"refuted, {report['seconds']:.2f} s ({report['solver']})"
    )
    return "\n".join(lines)
