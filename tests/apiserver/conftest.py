"""Fixtures: a fresh in-process API server (the machine on the reference etcd) per test, sharing
one server configuration (building the built-in schemas takes a moment)."""

from __future__ import annotations

import pytest

from impl.apiserver.context import Config, builtin_config
from runner.apiserver.local import LocalApiServer


@pytest.fixture(scope="session")
def config() -> Config:
    return builtin_config()


@pytest.fixture
def server(config: Config) -> LocalApiServer:
    return LocalApiServer(config=config)
