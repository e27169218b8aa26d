"""Filters the console needs: sessions by channel and creation time, contacts by name."""

from __future__ import annotations

from datetime import timedelta

from tests.gateway.conftest import Gateway


async def _total(gw: Gateway, path: str, **params: str) -> int:
    response = await gw.request("GET", path, params=params)
    assert response.status == 200, await response.text()
    return int((await response.json())["total"])


async def test_sessions_by_channel_and_time(gateway: Gateway) -> None:
    await gateway.create_session(mode="chat")
    now = gateway.clock.now()
    hour_ago = (now - timedelta(hours=1)).isoformat()
    in_an_hour = (now + timedelta(hours=1)).isoformat()
    path = "/api/v1/sessions"
    assert await _total(gateway, path, channel="api") == 1
    assert await _total(gateway, path, channel="phone") == 0
    assert await _total(gateway, path, created_after=hour_ago) == 1
    assert await _total(gateway, path, created_after=in_an_hour) == 0
    assert await _total(gateway, path, created_before=hour_ago) == 0
    response = await gateway.request("GET", path, params={"created_after": "2026-01-01T00:00"})
    assert response.status == 422  # a time without a zone is ambiguous


async def test_contacts_by_name(gateway: Gateway) -> None:
    await gateway.create_session(mode="chat", phone_number="+15550001111")
    await gateway.create_session(mode="chat", phone_number="+15550002222")
    listing = await (await gateway.request("GET", "/api/v1/admin/contacts")).json()
    first = listing["data"][0]["id"]
    renamed = await gateway.request(
        "PATCH", f"/api/v1/admin/contacts/{first}", json={"name": "Ada 100% Lovelace"}
    )
    assert renamed.status == 200
    path = "/api/v1/admin/contacts"
    assert await _total(gateway, path, name="lovelace") == 1
    assert await _total(gateway, path, name="100%") == 1
    assert await _total(gateway, path, name="0%") == 1
    assert await _total(gateway, path, name="%") == 1  # a literal percent sign, not a wildcard
    assert await _total(gateway, path, name="Grace") == 0
