"""Where the porcupine corpus lives inside the repository: ``tests/lincheck/data/porcupine``."""

from pathlib import Path

PORCUPINE = Path(__file__).resolve().parent / "data" / "porcupine"


def porcupine_corpus() -> Path:
    """The porcupine corpus directory; fails loudly (never skips) when it is missing."""
    verdicts = PORCUPINE / "verdicts.json"
    assert verdicts.is_file(), f"the porcupine corpus is missing: expected {verdicts}"
    return PORCUPINE
