"""The fuzz tier (marker ``fuzz``): every test here is marked, and runs under an address-space
limit so that an input that makes a reader allocate without bound fails the test with a
``MemoryError`` instead of exhausting the machine."""

from __future__ import annotations

import resource
from collections.abc import Iterator
from pathlib import Path

import pytest

MEMORY_HEADROOM_BYTES = 3 * 2**30
"""How far beyond the test process's current size a fuzzed command may grow."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.fuzz)


def _current_size_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        pages = int(statm.read().split()[0])
    return pages * resource.getpagesize()


@pytest.fixture(autouse=True)
def bounded_memory() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _current_size_bytes() + MEMORY_HEADROOM_BYTES
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
