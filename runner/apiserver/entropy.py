"""Where a request's time and random identities come from: the wall clock and the system's
randomness when serving, a seeded generator and a settable clock in tests and simulations.

kube-apiserver draws UIDs as random (version 4) UUIDs and ``generateName`` suffixes as 5
characters of ``bcdfghjklmnpqrstvwxz2456789`` (apimachinery ``util/rand``: no vowels, no
confusable digits); it tries up to 8 names on a collision
(``maxNameGenerationCreateAttempts``, KEP-4420).
"""

from __future__ import annotations

import random
import secrets
import time
import uuid
from typing import Final, Protocol

from models.apiserver.clock import rfc3339
from models.apiserver.messages import Entropy

NAME_ALPHABET: Final = "bcdfghjklmnpqrstvwxz2456789"
NAME_SUFFIX_LENGTH: Final = 5
NAME_ATTEMPTS: Final = 8


def counted_entropy(seed: int, draw: int, now_seconds: int) -> Entropy:
    """The ``draw``-th draw of ``seed`` at ``now_seconds``: computed from the two numbers
    alone, so a simulation step that keeps them in its state replays without generator
    state."""
    generator = random.Random(f"{seed}:{draw}")
    suffixes = tuple(
        "".join(generator.choice(NAME_ALPHABET) for _ in range(NAME_SUFFIX_LENGTH))
        for _ in range(NAME_ATTEMPTS)
    )
    uid = str(uuid.UUID(int=generator.getrandbits(128), version=4))
    return Entropy(
        now=rfc3339(now_seconds), now_seconds=now_seconds, uid=uid, name_suffixes=suffixes
    )


class EntropySource(Protocol):
    def draw(self) -> Entropy: ...

    def now_seconds(self) -> int: ...


class SystemEntropy:
    """The wall clock and ``secrets``: what ``serve apiserver`` uses."""

    def now_seconds(self) -> int:
        return int(time.time())

    def draw(self) -> Entropy:
        now = self.now_seconds()
        suffixes = tuple(
            "".join(secrets.choice(NAME_ALPHABET) for _ in range(NAME_SUFFIX_LENGTH))
            for _ in range(NAME_ATTEMPTS)
        )
        return Entropy(
            now=rfc3339(now), now_seconds=now, uid=str(uuid.uuid4()), name_suffixes=suffixes
        )


class SeededEntropy:
    """Reproducible draws from ``seed``; the clock moves only when told (``advance``)."""

    def __init__(self, seed: int, start_seconds: int = 1_767_225_600) -> None:
        self._random = random.Random(seed)
        self.seconds = start_seconds

    def now_seconds(self) -> int:
        return self.seconds

    def advance(self, seconds: int) -> None:
        self.seconds += seconds

    def draw(self) -> Entropy:
        suffixes = tuple(
            "".join(self._random.choice(NAME_ALPHABET) for _ in range(NAME_SUFFIX_LENGTH))
            for _ in range(NAME_ATTEMPTS)
        )
        uid = str(uuid.UUID(int=self._random.getrandbits(128), version=4))
        return Entropy(
            now=rfc3339(self.seconds), now_seconds=self.seconds, uid=uid, name_suffixes=suffixes
        )
