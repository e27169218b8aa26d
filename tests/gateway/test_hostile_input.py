"""Hostile input gets a clear 4xx (or a sessionError), never a 500 (reliability.md rows 26-27).

Run on SQLite and, in CI's second leg, on PostgreSQL, whose INTEGER ids stop at 2**31 - 1.
"""

from __future__ import annotations

import json

import pytest
from yarl import URL

from tests.gateway.conftest import Gateway
from tests.gateway.ws_helpers import connect, receive, receive_until

DEEP = "[" * 10_000 + "]" * 10_000  # 20 KB of nesting: the standard parser's stack overflowed


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/assistants/%C2%B2",  # a Unicode superscript two: isdigit() but not an id
        "/api/v1/assistants/2147483648",  # one past PostgreSQL's INTEGER
        "/api/v1/assistants/99999999999999999999",
        "/api/v1/assistants/0",
        "/api/v1/admin/numbers/%D9%A3",  # an Arabic-Indic three
        "/api/v1/admin/contacts/2147483648",
        "/api/v1/admin/keys/2147483648",
    ],
)
async def test_path_ids_no_row_can_have_are_404(gateway: Gateway, path: str) -> None:
    response = await gateway.http.get(
        URL(gateway.url + path, encoded=True), headers=gateway.headers()
    )
    assert response.status == 404, await response.text()
    assert (await response.json())["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "query",
    ["offset=99999999999999999999", "offset=2147483648", "assistant_id=2147483648"],
)
async def test_out_of_range_query_numbers_are_422(gateway: Gateway, query: str) -> None:
    response = await gateway.request("GET", f"/api/v1/sessions?{query}")
    assert response.status == 422, await response.text()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/sessions", {"assistant_id": 2**31, "mode": "chat"}),
        ("/api/v1/sessions", {"assistant_id": 2**70, "mode": "chat"}),
        ("/api/v1/assistants", {"name": "a", "provider": "local", "max_turns": 2**40}),
        ("/api/v1/admin/numbers", {"number": "+15550007777", "assistant_id": 2**31}),
    ],
)
async def test_out_of_range_body_numbers_are_4xx(
    gateway: Gateway, path: str, body: dict[str, object]
) -> None:
    response = await gateway.request("POST", path, data=json.dumps(body))
    assert response.status in (400, 422), await response.text()


async def test_deeply_nested_rest_body_is_400(gateway: Gateway) -> None:
    response = await gateway.request("POST", "/api/v1/sessions", data=DEEP)
    assert response.status == 400, await response.text()
    assert (await response.json())["error"]["code"] == "bad_request"


async def test_deeply_nested_socket_message_is_a_session_error(gateway: Gateway) -> None:
    ws = await connect(gateway, await gateway.create_session(mode="chat"))
    await receive(ws)  # sessionOpen
    await receive_until(ws, "turnComplete")  # the greeting
    await ws.send_str(DEEP)
    error = await receive(ws)
    assert error["type"] == "sessionError"
    assert "malformed JSON" in error["error"]
    await ws.send_str(json.dumps({"type": "textMessage", "text": "still here?"}))
    turn, _ = await receive_until(ws, "turnComplete")
    assert turn["fullInput"] == "still here?"
    await ws.close()
