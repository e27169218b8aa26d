"""Row 23 (Origin half), on the default settings: every unlisted browser Origin is refused at
the session WebSocket's handshake and on keyed REST calls; the gateway's own origin and
requests with no Origin (servers, apps) go through."""

from __future__ import annotations

import aiohttp
import pytest

from tests.gateway.conftest import Gateway

BAD_ORIGINS = [
    "https://evil.example",
    "null",
    "file://",
    "http://127.0.0.1.evil.example",
    "https://127.0.0.1",  # the gateway's host on another scheme and port
    "http://localhost",
    "http://127.0.0.1:1",  # another port
    "chrome-extension://abcdefghijklmnop",
    "https://*.example",
    "",
]


@pytest.mark.parametrize("origin", BAD_ORIGINS)
async def test_unlisted_origins_are_refused_at_the_handshake(gateway: Gateway, origin: str) -> None:
    created = await gateway.create_session(mode="chat")
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await gateway.http.ws_connect(created["websocket_url"], headers={"Origin": origin})
    assert refused.value.status == 403


@pytest.mark.parametrize("origin", BAD_ORIGINS)
async def test_unlisted_origins_are_refused_on_keyed_rest(gateway: Gateway, origin: str) -> None:
    response = await gateway.request("GET", "/api/v1/assistants", headers={"Origin": origin})
    assert response.status == 403
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_the_own_origin_and_no_origin_are_served(gateway: Gateway) -> None:
    own = gateway.url.rstrip("/")
    for headers in ({"Origin": own}, {}):
        created = await gateway.create_session(mode="chat")
        async with gateway.http.ws_connect(created["websocket_url"], headers=headers) as ws:
            assert (await ws.receive_json())["type"] == "sessionOpen"
        response = await gateway.request("GET", "/api/v1/assistants", headers=headers)
        assert response.status == 200
