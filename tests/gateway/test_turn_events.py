"""Turn events over a real app socket: seq, turnStarted, turnComplete timing, and the same
turns in the session's history and list."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.gateway.conftest import Gateway
from tests.gateway.ws_helpers import closed, receive, receive_numbered, receive_until


async def _chat(gw: Gateway, url: str, texts: list[str]) -> list[dict[str, Any]]:
    """Every message of a chat session (greeting, then one turn per text), seq included."""
    ws = await gw.http.ws_connect(url)
    seen: list[dict[str, Any]] = []
    seen.append(await receive_numbered(ws))
    for text in [None, *texts]:
        if text is not None:
            await ws.send_str(json.dumps({"type": "textMessage", "text": text}))
        while True:
            seen.append(await receive_numbered(ws))
            if seen[-1]["type"] == "turnComplete":
                break
    await ws.send_str(json.dumps({"type": "stopSession"}))
    assert await closed(ws) == 1000
    return seen


async def test_every_message_is_numbered_and_turn_started_is_opt_in(gateway: Gateway) -> None:
    plain = await gateway.create_session(mode="chat")
    seen = await _chat(gateway, plain["websocket_url"], ["Hello"])
    assert [m["seq"] for m in seen] == list(range(1, len(seen) + 1))
    assert "turnStarted" not in {m["type"] for m in seen}

    asked = await gateway.create_session(mode="chat")
    seen = await _chat(gateway, asked["websocket_url"] + "&events=turns", ["Hello"])
    assert [m["seq"] for m in seen] == list(range(1, len(seen) + 1))
    started = [(m["role"], m["turnId"]) for m in seen if m["type"] == "turnStarted"]
    assert started == [("assistant", 1), ("user", 2), ("assistant", 2)]
    first_reply = next(i for i, m in enumerate(seen) if m["type"] == "turnStarted" and
                       m["turnId"] == 2 and m["role"] == "assistant")  # fmt: skip
    assert seen[first_reply + 1]["type"] == "transcriptionUpdate"


async def test_turn_events_asked_for_at_creation(gateway: Gateway) -> None:
    created = await gateway.create_session(mode="chat", events=["turns"])
    seen = await _chat(gateway, created["websocket_url"], [])
    assert [m["type"] for m in seen][:2] == ["sessionOpen", "turnStarted"]
    response = await gateway.request(
        "POST", "/api/v1/sessions", json={"assistant_id": 1, "events": ["everything"]}
    )
    assert response.status == 422


async def test_turn_complete_timing_and_the_stored_history(gateway: Gateway) -> None:
    created = await gateway.create_session(mode="chat")
    seen = await _chat(gateway, created["websocket_url"], ["Hello", "Again"])
    turns = [m for m in seen if m["type"] == "turnComplete"]
    assert [t["turnId"] for t in turns] == [1, 2, 3]
    assert turns[0]["latencyMs"] is None  # the greeting answers nobody
    assert all(isinstance(t["latencyMs"], int) and t["latencyMs"] >= 0 for t in turns[1:])
    assert all(t["durationMs"] >= 0 and t["interrupted"] is False for t in turns)
    await gateway.ctx.transcripts.drain()
    path = f"/api/v1/sessions/{created['session_id']}"
    view = await (await gateway.request("GET", path + "?include=history")).json()
    assert view["total_turns"] == 3
    assert view["total_duration_ms"] >= 0 and view["last_activity_at"].endswith("Z")
    history = view["history"]
    assert [(t["role"], t["turn_id"]) for t in history] == [
        ("assistant", 1), ("user", 2), ("assistant", 2), ("user", 3), ("assistant", 3)
    ]  # fmt: skip
    assert [t["latency_ms"] for t in history if t["role"] == "assistant"] == [
        t["latencyMs"] for t in turns
    ]
    assert all(t["timestamp"] == t["started_at"] and t["duration_ms"] >= 0 for t in history)
    expected_mean = round((turns[1]["latencyMs"] + turns[2]["latencyMs"]) / 2)
    assert abs(view["mean_latency_ms"] - expected_mean) <= 1
    plain = await (await gateway.request("GET", path)).json()
    assert "history" not in plain
    transcript = await (await gateway.request("GET", path + "/transcript")).json()
    assert transcript["turns"] == history
    assert (await gateway.request("GET", path + "?include=everything")).status == 422


async def test_session_list_filters_by_channel_and_time_and_shows_latency(
    gateway: Gateway,
) -> None:
    created = await gateway.create_session(mode="chat")
    await _chat(gateway, created["websocket_url"], ["Hello"])
    await gateway.ctx.transcripts.drain()
    before = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    after = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    query = {"channel": "api", "created_after": before, "created_before": after}
    page = await (await gateway.request("GET", "/api/v1/sessions", params=query)).json()
    row = next(s for s in page["data"] if s["session_id"] == created["session_id"])
    assert row["total_turns"] == 2 and row["total_duration_ms"] >= 0
    assert isinstance(row["mean_latency_ms"], int)
    query["channel"] = "phone"
    page = await (await gateway.request("GET", "/api/v1/sessions", params=query)).json()
    assert page["total"] == 0
    query = {"created_after": after}
    page = await (await gateway.request("GET", "/api/v1/sessions", params=query)).json()
    assert page["total"] == 0


async def test_a_creating_key_reads_its_own_transcripts_only(gateway: Gateway) -> None:
    key = await gateway.create_key(["sessions:create", "sessions:connect"])
    mine = await gateway.create_session(key=key, mode="chat")
    theirs = await gateway.create_session(mode="chat")
    ws = await gateway.http.ws_connect(mine["websocket_url"])
    await receive(ws)
    await receive_until(ws, "turnComplete")
    await ws.close()
    await gateway.ctx.transcripts.drain()
    own = await gateway.request("GET", f"/api/v1/sessions/{mine['session_id']}/transcript", key=key)
    assert own.status == 200
    assert (await own.json())["turns"][0]["role"] == "assistant"
    other = await gateway.request(
        "GET", f"/api/v1/sessions/{theirs['session_id']}/transcript", key=key
    )
    assert other.status == 404
    history = await gateway.request(
        "GET", f"/api/v1/sessions/{mine['session_id']}?include=history", key=key
    )
    assert history.status == 200 and (await history.json())["history"]
    nobody = await gateway.create_key(["assistants:read"])
    denied = await gateway.request(
        "GET", f"/api/v1/sessions/{mine['session_id']}/transcript", key=nobody
    )
    assert denied.status == 403
