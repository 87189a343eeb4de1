"""``kubeoracle decode manifest``: objects listed, canonical JSON, exit 2 naming the place."""

import json
from pathlib import Path

import pytest

from runner.cli.main import main
from runner.exit_codes import ExitCode

FIXTURES = Path(__file__).parent.parent / "models" / "fixtures"


def test_lists_every_object(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["decode", "manifest", str(FIXTURES / "services.yaml"), str(FIXTURES / "node.yaml")]
    )
    assert code == ExitCode.PASS
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("services.yaml#1  v1 Service  default/kubernetes")
    assert lines[3].endswith("node.yaml#1  v1 Node  kind-control-plane")
    assert lines[-1] == "4 objects decoded from 2 file(s)"


def test_json_report_holds_canonical_objects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: ns\nspec:\n"
        "  containers:\n  - name: c\n    resources:\n      requests:\n"
        "        cpu: 1000m\n        memory: 1.5Gi\n        pods: 2\n"
    )
    assert main(["decode", "manifest", str(manifest), "-o", "json"]) == ExitCode.PASS
    report = json.loads(capsys.readouterr().out)
    (entry,) = report["objects"]
    assert (entry["kind"], entry["namespace"], entry["name"], entry["document"]) == (
        "Pod",
        "ns",
        "p",
        1,
    )
    requests = entry["object"]["spec"]["containers"][0]["resources"]["requests"]
    assert requests == {"cpu": "1", "memory": "1536Mi", "pods": "2"}


def test_invalid_document_exits_2_naming_file_document_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "two.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\n"
        "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: c\n    imagee: x\n"
    )
    assert main(["decode", "manifest", str(manifest)]) == ExitCode.USAGE
    error = capsys.readouterr().err
    assert f"{manifest}:11:" in error
    assert "field spec.containers[0].imagee" in error
    assert "document 2" in error


def test_unreadable_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "manifest", str(tmp_path / "missing.yaml")]) == ExitCode.USAGE
    assert "missing.yaml: cannot read" in capsys.readouterr().err
