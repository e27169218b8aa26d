"""Assistant admin over REST: read for apps, write for admins, validation on every field."""

from __future__ import annotations

from tests.gateway.conftest import Gateway


async def test_list_and_get_the_demo_assistant(gateway: Gateway) -> None:
    response = await gateway.request("GET", "/api/v1/assistants")
    assert response.status == 200
    data = (await response.json())["data"]
    assert [(a["id"], a["name"], a["provider"]) for a in data] == [(1, "Local demo", "local")]
    one = await (await gateway.request("GET", "/api/v1/assistants/1")).json()
    assert one["greeting"]
    assert one["idle_timeout_s"] == 120
    for missing in ("999", "abc", "99999999999999999999999"):
        assert (await gateway.request("GET", f"/api/v1/assistants/{missing}")).status == 404


async def test_create_update_delete(gateway: Gateway) -> None:
    body = {
        "name": "Support",
        "provider": "local",
        "instructions": "Be brief.",
        "tools": [
            {
                "name": "book",
                "description": "Book a slot",
                "parameters": {"type": "object", "properties": {"day": {"type": "string"}}},
                "webhook_url": "https://example.invalid/hook",
            }
        ],
        "turn_detection": {"silence_ms": 700},
        "max_turns": 10,
        "transfer_number": "+1 555 000 3333",
    }
    response = await gateway.request("POST", "/api/v1/assistants", json=body)
    assert response.status == 201, await response.text()
    created = await response.json()
    assert created["transfer_number"] == "+15550003333"
    assert created["turn_detection"]["silence_ms"] == 700
    assert created["turn_detection"]["server_vad"] is True
    path = f"/api/v1/assistants/{created['id']}"
    response = await gateway.request("PATCH", path, json={"greeting": "Hi!", "max_turns": None})
    assert response.status == 200
    patched = await response.json()
    assert (patched["greeting"], patched["max_turns"], patched["name"]) == ("Hi!", None, "Support")
    session = await gateway.create_session(assistant_id=created["id"])
    assert (await gateway.request("DELETE", path)).status == 204
    assert (await gateway.request("GET", path)).status == 404
    assert (await gateway.request("DELETE", path)).status == 404
    # Sessions made before the delete still show their assistant.
    view = await gateway.request("GET", f"/api/v1/sessions/{session['session_id']}")
    assert (await view.json())["assistant"]["name"] == "Support"
    response = await gateway.request(
        "POST", "/api/v1/sessions", json={"assistant_id": created["id"]}
    )
    assert response.status == 422


async def test_invalid_assistant_fields_are_422(gateway: Gateway) -> None:
    cases = [
        ({}, "name"),
        ({"name": "x", "provider": "skynet"}, "provider"),
        ({"name": "x", "temperature": 9}, "temperature"),
        ({"name": "x", "idle_timeout_s": 1}, "idle_timeout_s"),
        ({"name": "x", "tools": [{"name": "bad name!"}]}, "tools.0.name"),
        ({"name": "x", "transfer_number": "nope"}, "transfer_number"),
        ({"name": "x", "owner": "me"}, "owner"),
    ]
    for body, field in cases:
        response = await gateway.request("POST", "/api/v1/assistants", json=body)
        assert response.status == 422, body
        fields = [d["field"] for d in (await response.json())["error"]["details"]]
        assert field in fields, (body, fields)
    response = await gateway.request("PATCH", "/api/v1/assistants/1", json={"name": None})
    assert response.status == 422


async def test_writing_needs_assistants_write(gateway: Gateway) -> None:
    reader = await gateway.create_key(["assistants:read"])
    response = await gateway.request("POST", "/api/v1/assistants", key=reader, json={"name": "x"})
    assert response.status == 403
    assert "assistants:write" in (await response.json())["error"]["message"]


async def test_interruption_policy_is_stored_defaulted_and_checked(gateway: Gateway) -> None:
    response = await gateway.request("POST", "/api/v1/assistants", json={"name": "Calm"})
    created = await response.json()
    assert created["interruption"] == {
        "min_speech_ms": 620,
        "min_words": None,
        "backchannel_filter": "on",
        "resume_after_false_ms": 500,
    }
    path = f"/api/v1/assistants/{created['id']}"
    policy = {"min_speech_ms": 700, "min_words": 2, "backchannel_filter": "off"}
    response = await gateway.request("PATCH", path, json={"interruption": policy})
    assert response.status == 200
    stored = (await response.json())["interruption"]
    assert stored == {**stored, **policy}
    for bad in ({"min_speech_ms": 50}, {"backchannel_filter": "maybe"}, {"resume": 1}):
        response = await gateway.request("PATCH", path, json={"interruption": bad})
        assert response.status == 422, bad
    response = await gateway.request("PATCH", path, json={"interruption": None})
    assert (await response.json())["interruption"]["min_speech_ms"] == 620  # back to defaults
