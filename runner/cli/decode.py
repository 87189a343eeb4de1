"""``kubeoracle decode manifest FILE...``: decode Kubernetes manifests with the object model.

Every YAML or JSON document of every file is decoded (``v1 List`` items one by one). The text
report names each object's kind, namespace and name; ``-o json`` adds each object re-encoded
canonically (keys sorted, quantities as Kubernetes prints them: ``1000m`` becomes ``1``). The
first invalid document ends the command with exit code 2, naming the file, the document, the
line and the field path.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.cli.output import add_output_option, emit
from runner.errors import InputError
from runner.exit_codes import ExitCode

if TYPE_CHECKING:
    from runner.cli.output import VerbParsers


def register(verbs: VerbParsers) -> None:
    """Add ``decode`` and its ``manifest`` target."""
    parser = verbs.add_parser(
        "decode",
        help="decode Kubernetes objects with kubeoracle's object model",
        description="Decode Kubernetes objects with kubeoracle's object model.",
    )
    targets = parser.add_subparsers(dest="target", metavar="<target>", required=True)
    manifest = targets.add_parser(
        "manifest",
        help="decode every document of YAML/JSON manifests (kubectl get -o yaml output too)",
        description=(
            "Decode every document of the given YAML or JSON files (a v1 List item by item). "
            "Unknown fields, bad quantities and wrong types are refused with the file, "
            "document, line and field path."
        ),
    )
    manifest.add_argument("files", nargs="+", type=Path, metavar="FILE", help="manifest files")
    add_output_option(manifest)
    manifest.set_defaults(handler=decode_manifest)


def _entries(value: object, source: str, document: int) -> list[dict[str, Any]]:
    """One report entry per object; a List contributes itself and then its items."""
    from models.k8s.codec import to_builtins

    plain = to_builtins(value, canonical_quantities=True)
    assert isinstance(plain, dict), "every decoded object encodes to a JSON object"
    metadata = plain.get("metadata") or {}
    entry = {
        "file": source,
        "document": document,
        "apiVersion": plain.get("apiVersion", ""),
        "kind": plain.get("kind", ""),
        "namespace": metadata.get("namespace", ""),
        "name": metadata.get("name", ""),
        "object": plain,
    }
    entries = [entry]
    if plain.get("kind") == "List":
        items: tuple[object, ...] = getattr(value, "items", None) or ()
        for item in items:
            entries.extend(_entries(item, source, document))
    return entries


def decode_manifest(args: argparse.Namespace) -> ExitCode:
    """Decode every file; print the objects; exit 2 on the first invalid document."""
    from returns.pipeline import is_successful

    from models.k8s.codec import decode_numbered
    from runner.input_files import read_text

    files: list[Path] = args.files
    entries: list[dict[str, Any]] = []
    for path in files:
        decoded = decode_numbered(read_text(path))
        if not is_successful(decoded):
            failure = decoded.failure()
            raise InputError(
                failure.reason,
                source=str(path),
                line=failure.line,
                field=failure.field,
                document=failure.document,
                limit=failure.limit,
            )
        for document, value in decoded.unwrap():
            entries.extend(_entries(value, str(path), document))
    report = {
        "verdict": "pass",
        "files": [str(path) for path in files],
        "count": len(entries),
        "objects": entries,
    }
    emit(report, args.output, render_text)
    return ExitCode.PASS


def render_text(report: Mapping[str, Any]) -> str:
    """One line per object: ``FILE#DOCUMENT kind namespace/name``."""
    lines = []
    for entry in report["objects"]:
        place = f"{entry['namespace']}/{entry['name']}" if entry["namespace"] else entry["name"]
        api = entry["apiVersion"]
        lines.append(
            f"{entry['file']}#{entry['document']}  {api} {entry['kind']}  {place}".rstrip()
        )
    lines.append(f"{report['count']} objects decoded from {len(report['files'])} file(s)")
    return "\n".join(lines)
