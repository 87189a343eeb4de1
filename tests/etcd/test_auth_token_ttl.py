"""Simple tokens expire after ``--auth-token-ttl`` seconds without use, and each use starts the
TTL again (etcd 3.4's simpleTokenTTLKeeper: ``resetSimpleToken`` on every lookup, deletion
once ``now`` is past the deadline). The serving member's clock is injected, so the test does
not wait."""

from __future__ import annotations

import asyncio

from models.etcd import EtcdError, RangeRequest, RangeResponse
from models.etcd_auth import (
    ERROR_INVALID_AUTH_TOKEN,
    AuthEnableRequest,
    AuthenticateRequest,
    AuthResponse,
    UserAddRequest,
    UserGrantRoleRequest,
)
from runner.etcd.backend import SingleMemberBackend
from runner.etcd.service import REQUEST_TOKEN, EtcdService


def test_a_token_unused_for_the_ttl_is_forgotten_and_each_use_renews_it() -> None:
    now = [0.0]

    async def scenario() -> list[str]:
        service = EtcdService(
            SingleMemberBackend(), auth_token_ttl_seconds=300, clock=lambda: now[0]
        )
        await service.auth(UserAddRequest(name="root", password="pw"))
        await service.auth(UserGrantRoleRequest(user="root", role="root"))
        await service.auth(AuthEnableRequest())
        issued = await service.auth(AuthenticateRequest(name="root", password="pw"))
        assert isinstance(issued, AuthResponse)
        REQUEST_TOKEN.set(issued.token)
        seen = []
        for at in (200.0, 450.0, 750.0, 1051.0, 1052.0):
            now[0] = at
            answer = await service.unary(RangeRequest(key=b"k"))
            if isinstance(answer, EtcdError):
                seen.append(f"{at:g}: {answer.message}")
            else:
                assert isinstance(answer, RangeResponse)
                seen.append(f"{at:g}: ok")
        REQUEST_TOKEN.set(None)  # etcd's client authenticates without its old token
        again = await service.auth(AuthenticateRequest(name="root", password="pw"))
        assert isinstance(again, AuthResponse)
        REQUEST_TOKEN.set(again.token)
        answer = await service.unary(RangeRequest(key=b"k"))
        seen.append("new token: ok" if isinstance(answer, RangeResponse) else str(answer))
        return seen

    assert asyncio.run(scenario()) == [
        "200: ok",  # 200 s after it was issued
        "450: ok",  # 250 s after its last use
        "750: ok",  # exactly 300 s: not past the deadline
        f"1051: {ERROR_INVALID_AUTH_TOKEN.message}",  # 301 s idle
        f"1052: {ERROR_INVALID_AUTH_TOKEN.message}",  # forgotten for good
        "new token: ok",
    ]
