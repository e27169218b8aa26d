"""The session REST API over a real loopback server: shapes, codes and ownership."""

from __future__ import annotations

from typing import Any

from tests.gateway.conftest import Gateway


async def error_of(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = await response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message"} <= set(body["error"])
    return body["error"]


async def test_health_needs_no_key(gateway: Gateway) -> None:
    response = await gateway.request("GET", "/api/v1/health", key=None)
    assert response.status == 200
    assert (await response.json())["status"] == "ok"


async def test_create_session_returns_the_kura_shape(gateway: Gateway) -> None:
    response = await gateway.request(
        "POST", "/api/v1/sessions", json={"assistant_id": 1, "mode": "voice"}
    )
    assert response.status == 201
    body = await response.json()
    assert set(body) == {"session_id", "mode", "websocket_url", "expires_at", "assistant"}
    assert body["mode"] == "voice"
    assert body["assistant"] == {"id": 1, "name": "Local demo"}
    host = gateway.url.removeprefix("http://").rstrip("/")
    prefix = f"ws://{host}/api/v1/sessions/{body['session_id']}/connect?api_key=kura_st_"
    assert body["websocket_url"].startswith(prefix)
    assert body["expires_at"].endswith("Z")
    for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert response.headers[header].isdigit()


async def test_defaults_and_session_view(gateway: Gateway) -> None:
    created = await gateway.create_session(metadata={"crm_id": "A-1"})
    response = await gateway.request("GET", f"/api/v1/sessions/{created['session_id']}")
    assert response.status == 200
    view = await response.json()
    assert view["status"] == "pending"
    assert view["mode"] == "voice"
    assert view["channel"] == "api"
    assert view["language_code"] == "en-US"
    assert view["metadata"] == {"crm_id": "A-1"}
    assert view["total_turns"] == 0
    assert view["end_reason"] is None


async def test_text_plain_body_is_accepted_like_the_node_example(gateway: Gateway) -> None:
    response = await gateway.request(
        "POST",
        "/api/v1/sessions",
        data=b'{"assistant_id": 1, "mode": "chat"}',
        headers={"Content-Type": "text/plain;charset=UTF-8"},
    )
    assert response.status == 201
    assert (await response.json())["mode"] == "chat"


async def test_bad_bodies_name_the_field(gateway: Gateway) -> None:
    cases = [
        ({}, "assistant_id"),
        ({"assistant_id": "1"}, "assistant_id"),
        ({"assistant_id": 1, "mode": "video"}, "mode"),
        ({"assistant_id": 1, "language_code": "english please"}, "language_code"),
        ({"assistant_id": 1, "metadata": [1]}, "metadata"),
        ({"assistant_id": 1, "status": "active"}, "status"),
        ({"assistant_id": 999}, "assistant_id"),
        ({"assistant_id": 1, "phone_number": "call me maybe"}, "phone_number"),
    ]
    for body, field in cases:
        response = await gateway.request("POST", "/api/v1/sessions", json=body)
        assert response.status == 422, body
        error = await error_of(response)
        assert error["code"] == "validation_error"
        assert field in [d["field"] for d in error["details"]], (body, error)


async def test_malformed_json_is_400_and_oversized_body_is_413(gateway: Gateway) -> None:
    response = await gateway.request("POST", "/api/v1/sessions", data=b"{not json")
    assert response.status == 400
    assert (await error_of(response))["code"] == "bad_request"
    response = await gateway.request("POST", "/api/v1/sessions", data=b"x" * (2 * 1024 * 1024))
    assert response.status == 413
    assert (await error_of(response))["code"] == "payload_too_large"


async def test_phone_number_is_normalised_and_tracked_as_a_contact(gateway: Gateway) -> None:
    first = await gateway.create_session(phone_number="(555) 000-1111")
    second = await gateway.create_session(phone_number="+1 555 000 1111")
    views = []
    for created in (first, second):
        response = await gateway.request("GET", f"/api/v1/sessions/{created['session_id']}")
        views.append(await response.json())
    assert {v["phone_number"] for v in views} == {"+15550001111"}
    assert views[0]["contact_id"] == views[1]["contact_id"] is not None
    contact = await gateway.ctx.store.contacts.get_by_number("+15550001111")
    assert contact is not None
    assert contact.session_count == 2


async def test_unknown_session_is_404(gateway: Gateway) -> None:
    for session_id in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        response = await gateway.request("GET", f"/api/v1/sessions/{session_id}")
        assert response.status == 404
        assert (await error_of(response))["code"] == "not_found"


async def test_delete_ends_a_pending_session_once(gateway: Gateway) -> None:
    created = await gateway.create_session()
    path = f"/api/v1/sessions/{created['session_id']}"
    response = await gateway.request("DELETE", path)
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "ended"
    assert body["end_reason"] == "api_delete"
    again = await gateway.request("DELETE", path)
    assert again.status == 200
    assert (await again.json())["ended_at"] == body["ended_at"]


async def test_other_keys_sessions_are_invisible(gateway: Gateway) -> None:
    creator = await gateway.create_key(["sessions:create"])
    other = await gateway.create_key(["sessions:create"])
    created = await gateway.create_session(key=creator)
    path = f"/api/v1/sessions/{created['session_id']}"
    assert (await gateway.request("GET", path, key=creator)).status == 200
    assert (await gateway.request("GET", path, key=other)).status == 404
    assert (await gateway.request("DELETE", path, key=other)).status == 404
    assert (await gateway.request("GET", path)).status == 200  # admin has sessions:read


async def test_list_sessions_filters_and_pages(gateway: Gateway) -> None:
    for _ in range(3):
        await gateway.create_session()
    await gateway.create_session(phone_number="+15550002222")
    response = await gateway.request("GET", "/api/v1/sessions?limit=2&offset=0")
    assert response.status == 200
    page = await response.json()
    assert page["total"] == 4
    assert len(page["data"]) == 2
    assert (page["limit"], page["offset"]) == (2, 0)
    response = await gateway.request("GET", "/api/v1/sessions?phone_number=%2B15550002222")
    assert [s["phone_number"] for s in (await response.json())["data"]] == ["+15550002222"]
    response = await gateway.request("GET", "/api/v1/sessions?status=ended")
    assert (await response.json())["total"] == 0
    response = await gateway.request("GET", "/api/v1/sessions?limit=1000")
    assert response.status == 422
    assert (await error_of(response))["details"][0]["field"] == "query.limit"


async def test_transcript_of_a_session_without_turns_is_empty(gateway: Gateway) -> None:
    created = await gateway.create_session()
    response = await gateway.request("GET", f"/api/v1/sessions/{created['session_id']}/transcript")
    assert response.status == 200
    assert await response.json() == {"session_id": created["session_id"], "turns": []}


async def test_unknown_route_and_method_use_the_error_shape(gateway: Gateway) -> None:
    response = await gateway.request("GET", "/api/v1/nothing-here")
    assert response.status == 404
    assert (await error_of(response))["code"] == "not_found"
    response = await gateway.request("PUT", "/api/v1/sessions")
    assert response.status == 405
    assert (await error_of(response))["code"] == "method_not_allowed"
