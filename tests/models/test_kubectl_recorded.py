"""The model against outputs recorded from the real kubectl (Go's apimachinery), offline.

``fixtures/kubectl/regenerate.py`` records them: the string Go's ``resource.Quantity`` prints
for 1566 spellings (``kubectl create quota --hard``), and Go's typed decode and re-encode of
the pod-bearing fixtures (``kubectl set env --local``). The model must agree exactly.
"""

import json
from pathlib import Path
from typing import Any

import pytest

from models.k8s.codec import decode_text, decode_yaml, to_builtins
from models.quantity import parse_quantity_or_raise

RECORDED = Path(__file__).parent / "fixtures" / "kubectl"
PRINTED: dict[str, str] = json.loads((RECORDED / "quantities.json").read_text())["printed"]


def test_every_recorded_quantity_prints_as_go_prints_it() -> None:
    assert len(PRINTED) > 1500
    mismatches = {
        spelling: (parse_quantity_or_raise(spelling).string(), printed)
        for spelling, printed in PRINTED.items()
        if parse_quantity_or_raise(spelling).string() != printed
    }
    assert mismatches == {}


def without_oracle_variable(node: Any) -> Any:
    """Go's output with the ``ZZ_ORACLE`` variable the recording added taken out again."""
    if isinstance(node, dict):
        cleaned = {key: without_oracle_variable(value) for key, value in node.items()}
        if isinstance(cleaned.get("env"), list):
            kept = [entry for entry in cleaned["env"] if entry.get("name") != "ZZ_ORACLE"]
            if kept:
                cleaned["env"] = kept
            else:
                del cleaned["env"]
        return cleaned
    if isinstance(node, list):
        return [without_oracle_variable(item) for item in node]
    return node


@pytest.mark.parametrize("name", ["pod_pending", "pod_running", "deployment", "replicaset"])
def test_canonical_encoding_equals_gos_typed_round_trip(name: str) -> None:
    (value,) = decode_yaml((RECORDED.parent / f"{name}.yaml").read_text()).unwrap()
    expected = without_oracle_variable(json.loads((RECORDED / f"{name}.json").read_text()))
    assert to_builtins(value, canonical_quantities=True) == expected


def without_empty_values(node: Any) -> Any:
    """Drop ``null``, ``{}`` and ``[]`` everywhere: Go's marshalling adds (``status: {}``,
    ``creationTimestamp: null``) or drops (omitempty on ``annotations: {}``) these by field
    and by Kubernetes version, while the model keeps what was written."""
    if isinstance(node, dict):
        cleaned = {key: without_empty_values(value) for key, value in node.items()}
        return {key: value for key, value in cleaned.items() if value not in (None, {}, [])}
    if isinstance(node, list):
        return [without_empty_values(item) for item in node]
    return node


def test_hand_written_manifest_reads_as_go_reads_it() -> None:
    # Non-canonical quantities, YAML floats such as 1e6 and 1e-3 (go-yaml reads them as
    # numbers, so Go's Quantity sees "1000000" and "0.001"), integers, empty collections.
    (value,) = decode_yaml((RECORDED.parent / "pod_manifest.yaml").read_text()).unwrap()
    expected = without_oracle_variable(json.loads((RECORDED / "pod_manifest.json").read_text()))
    ours: Any = to_builtins(value, canonical_quantities=True)
    assert without_empty_values(ours) == without_empty_values(expected)
    containers = expected["spec"]["containers"]
    assert containers[1]["resources"]["requests"] == {"cpu": "1m", "memory": "1M"}
    assert ours["spec"]["containers"][1]["resources"]["requests"] == {"cpu": "1m", "memory": "1M"}


def test_json_numbers_reach_quantity_as_their_text() -> None:
    # In JSON, Go's Quantity parses the number's own text: 1e3 stays DecimalExponent "1e3",
    # and 1e23 prints as a bare "100" (no decimal suffix beyond E), exactly as kubectl did.
    (value,) = decode_text((RECORDED.parent / "pod_numbers.json").read_text()).unwrap()
    expected = without_oracle_variable(json.loads((RECORDED / "pod_numbers.go.json").read_text()))
    ours: Any = to_builtins(value, canonical_quantities=True)
    assert without_empty_values(ours) == without_empty_values(expected)
    requests = ours["spec"]["containers"][0]["resources"]["requests"]
    assert requests == {"cpu": "1e3", "memory": "1e-3", "x": "500m", "y": "100"}
