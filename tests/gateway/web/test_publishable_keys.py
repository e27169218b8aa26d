"""Publishable keys (kura_pk_…): chat sessions for listed assistants, from listed origins, and
nothing else — every other route of the app answers 403."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from gateway.context import CONTEXT
from tests.gateway.conftest import Gateway

SITE = "https://site.example"
CREATE = ("POST", "/api/v1/sessions")


async def _pk(gw: Gateway, **fields: Any) -> str:
    fields.setdefault("allowed_origins", [SITE])
    fields.setdefault("assistant_ids", [1])
    fields.setdefault("session_modes", ["chat"])
    return await gw.create_key(["sessions:create"], kind="publishable", **fields)


async def _create(gw: Gateway, key: str, origin: str | None = SITE, **body: Any) -> Any:
    body.setdefault("assistant_id", 1)
    body.setdefault("mode", "chat")
    headers = {"Origin": origin} if origin else {}
    return await gw.request("POST", "/api/v1/sessions", key=key, json=body, headers=headers)


async def test_a_publishable_key_creates_chat_sessions_from_its_origin(gateway: Gateway) -> None:
    key = await _pk(gateway)
    assert key.startswith("kura_pk_")
    response = await _create(gateway, key)
    assert response.status == 201, await response.text()
    assert response.headers["Access-Control-Allow-Origin"] == SITE
    created = await response.json()
    async with gateway.http.ws_connect(created["websocket_url"], origin=SITE) as ws:
        assert (await ws.receive_json())["type"] == "sessionOpen"


async def test_its_scope_is_enforced(gateway: Gateway) -> None:
    key = await _pk(gateway)
    other = await gateway.use_scripted_assistant()
    refusals = [
        await _create(gateway, key, origin=None),  # not from a browser page
        await _create(gateway, key, origin="https://elsewhere.example"),
        await _create(gateway, key, assistant_id=other),
        await _create(gateway, key, mode="voice"),
        await _create(gateway, key, phone_number="+15550001111"),
    ]
    for response in refusals:
        assert response.status == 403, await response.text()
        assert (await response.json())["error"]["code"] == "forbidden"
    voice = await _pk(gateway, session_modes=["chat", "voice"])
    assert (await _create(gateway, voice, mode="voice")).status == 201


async def test_its_sessions_open_only_from_its_origins(gateway: Gateway) -> None:
    key = await _pk(gateway)
    created = await (await _create(gateway, key)).json()
    refused = await gateway.http.get(
        created["websocket_url"].replace("ws://", "http://"),
        headers={"Origin": "https://elsewhere.example", "Upgrade": "websocket",
                 "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                 "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="},
    )  # fmt: skip
    assert refused.status == 403


async def test_it_has_its_own_rate_limit_per_visitor(virtual_gateway: Gateway) -> None:
    # The limit is per wall-clock minute: on the real clock a burst that straddles a minute
    # boundary starts a fresh count. On the virtual clock the burst stays in one window.
    gateway = virtual_gateway
    key = await _pk(gateway, rate_limit=1000)
    limit = gateway.ctx.settings.publishable_rate_limit_per_address
    statuses = [(await _create(gateway, key)).status for _ in range(limit + 1)]
    assert statuses[:limit] == [201] * limit
    assert statuses[-1] == 429


def _example_path(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


async def test_every_other_route_is_forbidden(gateway: Gateway) -> None:
    """Walks the real router, so a route added later is covered without editing this test."""
    key = await _pk(gateway)
    app: web.Application = gateway.server.app  # type: ignore[assignment]
    assert app[CONTEXT] is gateway.ctx
    checked = 0
    for route in app.router.routes():
        method, path = route.method, route.resource.canonical if route.resource else ""
        if method == "HEAD" or (method, path) == CREATE:
            continue
        for where in ("header", "query"):
            url = _example_path(path)
            kwargs: dict[str, Any] = {"headers": {"Origin": SITE}}
            if where == "header":
                kwargs["key"] = key
            else:
                kwargs.update(key=None, params={"api_key": key})
            if method in {"POST", "PATCH", "PUT"}:
                kwargs["json"] = {}
            response = await gateway.request(method if method != "*" else "GET", url, **kwargs)
            assert response.status == 403, (method, path, where, await response.text())
            checked += 1
    assert checked > 40
