"""CORS and the session WebSocket's Origin check: one rule, on real sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.api.origins import OriginPolicy, normalise_origin
from gateway.store.models import ApiKey
from gateway.store.sessions import SessionFilter
from kinds.clock import SystemClock
from tests.gateway.conftest import Gateway, start_gateway

SHOP = "https://shop.example"
EVIL = "https://evil.example"


@pytest.fixture
async def listed(tmp_path: Path) -> AsyncIterator[Gateway]:
    """A gateway with KURA_ALLOWED_ORIGINS set to the shop only."""
    async for gw in start_gateway(tmp_path, SystemClock(), allowed_origins=[SHOP]):
        yield gw


def _key(kind: str = "secret", origins: list[str] | None = None) -> ApiKey:
    return ApiKey(kind=kind, allowed_origins=origins or [])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://Shop.Example", "https://shop.example"),
        ("https://shop.example:443/", "https://shop.example"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://[::1]:9000", "http://[::1]:9000"),
        ("https://shop.example/path", None),
        ("https://*.example", None),
        ("ftp://shop.example", None),
        ("null", None),
        ("https://user@shop.example", None),
    ],
)
def test_origins_are_normalised_or_refused(text: str, expected: str | None) -> None:
    assert normalise_origin(text) == expected


def test_the_origin_rule() -> None:
    open_policy = OriginPolicy.create("http://127.0.0.1:8080", [])
    policy = OriginPolicy.create("http://127.0.0.1:8080/", [SHOP])
    own = "http://127.0.0.1:8080"
    # The gateway's own origin, always; "null" and junk, never.
    assert policy.allows(own, None) and policy.allows(own, _key("publishable", [SHOP]))
    assert not open_policy.allows("null", None)
    # No list anywhere: no other origin, for a secret key or no key (the default is deny).
    assert not open_policy.allows(EVIL, None) and not open_policy.allows(EVIL, _key())
    # ["*"] opts secret keys out of the check, never publishable ones.
    star = OriginPolicy.create("http://127.0.0.1:8080", ["*"])
    assert star.allows(EVIL, _key()) and not star.allows(EVIL, _key("publishable", [SHOP]))
    # The global list, or the key's own.
    assert policy.allows(SHOP, _key()) and not policy.allows(EVIL, _key())
    assert policy.allows(EVIL, _key(origins=[EVIL])) and policy.allows(SHOP, _key(origins=[EVIL]))
    assert not open_policy.allows(SHOP, _key(origins=[EVIL]))
    # A publishable key: its own list only, never the global one, never "any".
    assert not policy.allows(SHOP, _key("publishable", [EVIL]))
    assert not open_policy.allows(SHOP, _key("publishable", []))
    assert open_policy.allows(EVIL, _key("publishable", [EVIL]))


async def _preflight(gw: Gateway, path: str, origin: str, method: str = "POST") -> Any:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    return await gw.request("OPTIONS", path, key=None, headers=headers)


def _no_cors(response: aiohttp.ClientResponse) -> bool:
    return not any(name.lower().startswith("access-control-") for name in response.headers)


async def test_preflight_from_a_listed_origin(listed: Gateway) -> None:
    response = await _preflight(listed, "/api/v1/sessions", SHOP)
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == SHOP
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    assert "Origin" in response.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in response.headers


async def test_preflight_from_other_origins_or_for_other_methods_gets_no_cors(
    listed: Gateway,
) -> None:
    response = await _preflight(listed, "/api/v1/sessions", EVIL)
    assert response.status == 403 and _no_cors(response)
    assert (await response.json())["error"]["code"] == "forbidden"
    response = await _preflight(listed, "/api/v1/sessions", SHOP, method="PUT")
    assert response.status == 403 and _no_cors(response)
    response = await _preflight(listed, "/api/v1/nowhere", SHOP)
    assert response.status == 404 and _no_cors(response)


async def test_requests_from_a_listed_origin_get_cors_headers(listed: Gateway) -> None:
    response = await listed.request("GET", "/api/v1/assistants", headers={"Origin": SHOP})
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == SHOP
    assert "X-RateLimit-Remaining" in response.headers["Access-Control-Expose-Headers"]
    # Errors too, so the page can read why.
    response = await listed.request("GET", "/api/v1/assistants/99", headers={"Origin": SHOP})
    assert response.status == 404
    assert response.headers["Access-Control-Allow-Origin"] == SHOP


async def test_a_keyed_request_from_another_origin_is_refused_without_cors(
    listed: Gateway,
) -> None:
    response = await listed.request(
        "POST", "/api/v1/sessions", json={"assistant_id": 1}, headers={"Origin": EVIL}
    )
    assert response.status == 403 and _no_cors(response)
    assert "Origin" in (await response.json())["error"]["message"]
    rows, _ = await listed.ctx.store.sessions.search(SessionFilter(), limit=10, offset=0)
    assert rows == []  # refused before it ran
    # A public route answers, but gives the other origin nothing to read.
    response = await listed.request("GET", "/api/v1/health", key=None, headers={"Origin": EVIL})
    assert response.status == 200 and _no_cors(response)


async def test_the_gateway_own_origin_is_always_allowed(listed: Gateway) -> None:
    own = listed.url.rstrip("/")
    response = await listed.request("GET", "/api/v1/assistants", headers={"Origin": own})
    assert response.headers["Access-Control-Allow-Origin"] == own
    assert (await _preflight(listed, "/api/v1/assistants", own, "GET")).status == 204


async def test_a_key_own_origins_are_allowed_for_that_key_only(listed: Gateway) -> None:
    other = "https://partner.example"
    key = await listed.create_key(["assistants:read"], allowed_origins=[other])
    # The preflight cannot know the key: it answers for any origin some live key lists.
    assert (await _preflight(listed, "/api/v1/assistants", other, "GET")).status == 204
    response = await listed.request("GET", "/api/v1/assistants", key=key, headers={"Origin": other})
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == other
    response = await listed.request("GET", "/api/v1/assistants", headers={"Origin": other})
    assert response.status == 403 and _no_cors(response)


async def test_without_any_list_no_other_origin_may_use_a_secret_key(gateway: Gateway) -> None:
    response = await _preflight(gateway, "/api/v1/sessions", EVIL)
    assert response.status == 403
    response = await gateway.request(
        "POST", "/api/v1/sessions", json={"assistant_id": 1, "mode": "chat"},
        headers={"Origin": EVIL},
    )  # fmt: skip
    assert response.status == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "KURA_ALLOWED_ORIGINS" in (await response.json())["error"]["message"]


async def test_the_websocket_uses_the_same_rule(listed: Gateway) -> None:
    own = listed.url.rstrip("/")
    for origin, allowed in ((own, True), (SHOP, True), (EVIL, False)):
        created = await listed.create_session(mode="chat")
        url = created["websocket_url"]
        if allowed:
            async with listed.http.ws_connect(url, origin=origin) as ws:
                assert (await ws.receive_json())["type"] == "sessionOpen"
        else:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await listed.http.ws_connect(url, origin=origin)
            assert refused.value.status == 403
