"""Fixtures: a fresh in-process API server (the machine on the reference etcd) per test."""

from __future__ import annotations

import pytest

from runner.apiserver.local import LocalApiServer


@pytest.fixture
def server() -> LocalApiServer:
    return LocalApiServer()
