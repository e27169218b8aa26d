"""Helpers for a supervisor's side of live monitoring."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.gateway.conftest import Gateway
from tests.gateway.ws_helpers import receive

PCM_40MS = b"\x10\x00\x20\x00" * 480  # 40 ms of PCM16 24 kHz


async def start_monitor(gw: Gateway, session_id: str, key: str | None = None) -> str:
    kwargs: dict[str, Any] = {} if key is None else {"key": key}
    response = await gw.request("POST", f"/api/v1/sessions/{session_id}/monitor", **kwargs)
    assert response.status == 201, await response.text()
    url: str = (await response.json())["websocket_url"]
    assert "/monitor/connect?api_key=kura_mt_" in url
    return url


async def open_monitor(gw: Gateway, url: str) -> aiohttp.ClientWebSocketResponse:
    ws = await gw.http.ws_connect(gw.url + "/api/" + url.split("/api/", 1)[1])
    opened = await receive(ws)
    assert opened["type"] == "monitorOpen"
    return ws
