"""Where the shared test corpus lives: ``shared/`` beside the repository root."""

from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
SHARED = REPOSITORY_ROOT.parent / "shared"
PORCUPINE = SHARED / "corpus" / "porcupine"


def porcupine_corpus() -> Path:
    """The porcupine corpus directory; fails loudly (never skips) when it is missing."""
    verdicts = PORCUPINE / "verdicts.json"
    assert verdicts.is_file(), (
        f"the shared corpus is missing: expected {verdicts} (shared/ beside the repository)"
    )
    return PORCUPINE
