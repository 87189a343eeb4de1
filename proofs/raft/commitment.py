"""Placeholder."""

from proofs.catalog import ProofCase

PROOFS: tuple[ProofCase, ...] = ()
