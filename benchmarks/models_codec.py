"""Figures for the object model: decode and encode throughput of the fixtures, and Quantity
parsing. Run: ``python -m benchmarks.models_codec``. Prints figures; asserts nothing."""

import time
from pathlib import Path

from models.k8s.codec import decode_yaml, encode_json, to_builtins
from models.quantity import parse_quantity

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "models" / "fixtures"
QUANTITIES = ("100m", "1.5Gi", "1", "0.1", "1e3", "32567948Ki", "-1.0000000001", "250m")


def measure(label: str, rounds: int, action: object) -> None:
    assert callable(action)
    start = time.perf_counter()
    for _ in range(rounds):
        action()
    elapsed = time.perf_counter() - start
    print(f"{label:<40} {rounds / elapsed:>12,.0f} per second ({elapsed:.2f} s for {rounds})")


def main() -> None:
    text = (FIXTURES / "list_nodes_pods.yaml").read_text()
    objects = decode_yaml(text).unwrap()
    size = len(text.encode())
    measure(f"decode_yaml list of 3 objects ({size} bytes)", 100, lambda: decode_yaml(text))
    measure("encode_json the same list", 2000, lambda: [encode_json(value) for value in objects])
    measure("to_builtins the same list", 1000, lambda: [to_builtins(value) for value in objects])
    measure(
        f"parse_quantity ({len(QUANTITIES)} spellings)",
        20000,
        lambda: [parse_quantity(spelling) for spelling in QUANTITIES],
    )


if __name__ == "__main__":
    main()
