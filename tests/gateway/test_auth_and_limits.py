"""Keys, permissions and rate limits, with an injected clock (no sleeping)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import text

from tests.gateway.conftest import Gateway
from tests.virtual_clock import VirtualClock


async def test_missing_unknown_and_revoked_keys_are_401(gateway: Gateway) -> None:
    path = "/api/v1/assistants"
    assert (await gateway.request("GET", path, key=None)).status == 401
    unknown = "kura_live_" + "x" * 38
    assert (await gateway.request("GET", path, key=unknown)).status == 401
    response = await gateway.request("GET", path, headers={"Authorization": "Basic abc"}, key=None)
    assert response.status == 401
    key = await gateway.create_key(["assistants:read"])
    assert (await gateway.request("GET", path, key=key)).status == 200
    row = await gateway.ctx.store.keys.find_by_secret(key)
    assert row is not None
    await gateway.ctx.store.keys.revoke(row.id, gateway.clock.now())
    response = await gateway.request("GET", path, key=key)
    assert response.status == 401
    body = await response.json()
    assert body["error"]["code"] == "unauthorized"


async def test_missing_permission_is_403_and_named(gateway: Gateway) -> None:
    key = await gateway.create_key(["assistants:read"])
    response = await gateway.request("POST", "/api/v1/sessions", key=key, json={"assistant_id": 1})
    assert response.status == 403
    body = await response.json()
    assert body["error"]["code"] == "forbidden"
    assert "sessions:create" in body["error"]["message"]


def _database_bytes(path: str) -> bytes:
    files = [Path(path), Path(path + "-wal")]
    return b"".join(f.read_bytes() for f in files if f.exists())


async def test_only_hashes_are_stored(gateway: Gateway) -> None:
    key = await gateway.create_key(["sessions:create"])
    created = await gateway.create_session(key=key)
    token = created["websocket_url"].split("api_key=")[1]
    await gateway.ctx.transcripts.drain()
    async with gateway.ctx.store.engine.connect() as conn:
        rows = [
            row
            for table in ("api_keys", "sessions")
            for row in (await conn.execute(text(f"SELECT * FROM {table}"))).all()  # noqa: S608
        ]
    content = repr(rows).encode()
    url = gateway.ctx.settings.database_url
    if url.startswith("sqlite"):  # on SQLite, also the file's bytes, WAL included
        content += await asyncio.to_thread(_database_bytes, url.split("///", 1)[1])
    assert b"sessions:create" in content  # the rows really are in what we read
    for secret in (key, token):
        assert secret.encode() not in content


async def test_rate_limit_headers_count_down_and_429_after_the_limit(
    virtual_gateway: Gateway,
) -> None:
    gw = virtual_gateway
    clock = gw.clock
    assert isinstance(clock, VirtualClock)
    key = await gw.create_key(["assistants:read"], rate_limit=60)
    # Start at the beginning of a window so the test does not straddle a boundary.
    now = clock.now().timestamp()
    await clock.advance(60 - now % 60 + 0.5)
    remaining = []
    for _ in range(60):
        response = await gw.request("GET", "/api/v1/assistants", key=key)
        assert response.status == 200
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
        assert response.headers["X-RateLimit-Limit"] == "60"
    assert remaining == list(range(59, -1, -1))
    reset = int(response.headers["X-RateLimit-Reset"])
    assert reset == int(clock.now().timestamp() // 60 * 60 + 60)
    await clock.advance(20)
    response = await gw.request("GET", "/api/v1/assistants", key=key)
    assert response.status == 429
    assert response.headers["Retry-After"] == "40"
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert (await response.json())["error"]["code"] == "rate_limited"
    await clock.advance(40)
    response = await gw.request("GET", "/api/v1/assistants", key=key)
    assert response.status == 200
    assert response.headers["X-RateLimit-Remaining"] == "59"


async def test_limits_are_per_key(virtual_gateway: Gateway) -> None:
    gw = virtual_gateway
    first = await gw.create_key(["assistants:read"], rate_limit=2)
    second = await gw.create_key(["assistants:read"], rate_limit=2)
    statuses = [(await gw.request("GET", "/api/v1/assistants", key=first)).status for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert (await gw.request("GET", "/api/v1/assistants", key=second)).status == 200


async def test_unauthenticated_requests_are_limited_per_address(virtual_gateway: Gateway) -> None:
    gw = virtual_gateway
    bad = "kura_live_" + "y" * 38
    statuses = [(await gw.request("GET", "/api/v1/assistants", key=bad)).status for _ in range(61)]
    assert statuses[:60] == [401] * 60
    assert statuses[60] == 429


async def test_session_expires_exactly_at_five_minutes(virtual_gateway: Gateway) -> None:
    gw = virtual_gateway
    clock = gw.clock
    assert isinstance(clock, VirtualClock)
    created = await gw.create_session()
    path = f"/api/v1/sessions/{created['session_id']}"
    expires = gw.ctx.settings.session_connect_timeout_s
    await clock.advance(expires - 0.1)
    assert (await gw.request("GET", path)).status == 200
    await clock.advance(0.1)
    response = await gw.request("GET", path)
    assert response.status == 404
    assert "expired" in (await response.json())["error"]["message"]
    listing = await gw.request("GET", "/api/v1/sessions?status=expired")
    assert (await listing.json())["total"] == 1


async def test_connect_after_expiry_is_refused_with_404(virtual_gateway: Gateway) -> None:
    gw = virtual_gateway
    clock = gw.clock
    assert isinstance(clock, VirtualClock)
    created = await gw.create_session()
    await clock.advance(gw.ctx.settings.session_connect_timeout_s + 1)
    url = created["websocket_url"].replace("ws://", "http://")
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await gw.http.ws_connect(url)
    assert refused.value.status == 404
