"""Resume after a network blip (issue 16): a session whose socket drops lives on for its grace
period, and a socket that resumes with ``lastSeq`` gets every message after it exactly once,
then the live stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.api.app_session import APP_SESSIONS, AppSession
from providers.events import AgentAudio, ResponseDone, TranscriptDelta
from tests.fakes.scripted_provider import ScriptedSession
from tests.gateway.conftest import Gateway, start_gateway
from tests.gateway.ws_helpers import RECEIVE_TIMEOUT_S, closed
from tests.virtual_clock import VirtualClock

AGENT_100MS = b"\x10\x27" * 2400  # 100 ms of PCM16 24 kHz


@pytest.fixture
async def small_buffer_gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    """A gateway that keeps only 64 KiB of agent audio per session (about a second)."""
    async for gw in start_gateway(tmp_path, VirtualClock(), resume_buffer_bytes=64 * 1024):
        yield gw


async def _next(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    frame = await asyncio.wait_for(ws.receive(), RECEIVE_TIMEOUT_S)
    assert frame.type == aiohttp.WSMsgType.TEXT, frame
    message: dict[str, Any] = json.loads(frame.data)
    return message


def _app_session(gw: Gateway, session_id: str) -> AppSession:
    session = gw.server.app[APP_SESSIONS].get(session_id)
    assert session is not None
    return session


async def _detached(gw: Gateway, session_id: str) -> None:
    """Until the gateway has noticed the drop (a resume before that is refused with 409)."""
    for _ in range(500):
        if _app_session(gw, session_id).link is None:
            return
        await asyncio.sleep(0.01)
    pytest.fail("the gateway never noticed the dropped socket")


async def _open(
    gw: Gateway, **body: Any
) -> tuple[dict[str, Any], aiohttp.ClientWebSocketResponse, ScriptedSession, str]:
    """A scripted voice session, connected: its creation, socket, provider and resume token."""
    assistant_id = await gw.use_scripted_assistant()
    created = await gw.create_session(assistant_id=assistant_id, **body)
    ws = await gw.http.ws_connect(created["websocket_url"])
    opened = await _next(ws)
    assert (opened["type"], opened["seq"]) == ("sessionOpen", 1)
    await asyncio.wait_for(gw.scripted.connected.wait(), 5)
    return created, ws, gw.scripted.sessions[-1], opened["resumeToken"]


def _resume_url(gw: Gateway, session_id: str, token: str, last_seq: int, **extra: str) -> str:
    query = "&".join(f"{name}={value}" for name, value in extra.items())
    base = gw.url.rstrip("/")
    url = f"{base}/api/v1/sessions/{session_id}/connect?resume={token}&lastSeq={last_seq}"
    return url + ("&" + query if query else "")


async def _resume(
    gw: Gateway, session_id: str, token: str, last_seq: int, **extra: str
) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
    ws = await gw.http.ws_connect(_resume_url(gw, session_id, token, last_seq, **extra))
    opened = await _next(ws)
    assert opened["type"] == "sessionOpen" and opened["resumed"] is True, opened
    assert "seq" not in opened and opened["resumeToken"] != token
    return ws, opened


async def _refused(gw: Gateway, url: str) -> tuple[int, str]:
    response = await gw.http.get(url, headers={"Connection": "Upgrade", "Upgrade": "websocket"})
    return response.status, (await response.json())["error"]["message"]


async def test_a_resume_gets_every_missed_message_once_then_the_live_stream(
    gateway: Gateway,
) -> None:
    created, ws, provider, token = await _open(gateway)
    session_id = created["session_id"]
    provider.emit(TranscriptDelta("output", "Hel", "a1"), AgentAudio(AGENT_100MS, "a1"))
    received = [await _next(ws), await _next(ws)]
    assert [m["seq"] for m in received] == [2, 3]
    await ws.close()  # the blip: no stopSession
    await _detached(gateway, session_id)
    # What the agent says while nobody listens is held.
    provider.emit(
        TranscriptDelta("output", "lo", "a1"),
        AgentAudio(AGENT_100MS, "a1"),
        ResponseDone("a1"),
    )
    for _ in range(100):
        if _app_session(gateway, session_id).replay.last_seq >= 6:
            break
        await asyncio.sleep(0.01)
    resumed, opened = await _resume(gateway, session_id, token, last_seq=3)
    assert opened["lastSeq"] == 6 and opened["provider"] == "scripted"
    replayed = [await _next(resumed) for _ in range(3)]
    assert [(m["seq"], m["type"]) for m in replayed] == [
        (4, "transcriptionUpdate"),
        (5, "agentAudioChunk"),
        (6, "turnComplete"),
    ]
    assert replayed[2]["fullOutput"] == "Hello"
    provider.emit(TranscriptDelta("output", "Again", "a2"))  # live again, numbered on
    live = await _next(resumed)
    assert (live["seq"], live["text"]) == (7, "Again")
    # The old token was spent by the resume.
    status, _ = await _refused(gateway, _resume_url(gateway, session_id, token, 7))
    assert status == 401
    await resumed.send_json({"type": "stopSession"})
    assert await closed(resumed) == 1000
    view = await (await gateway.request("GET", f"/api/v1/sessions/{session_id}")).json()
    assert view["end_reason"] == "client_stop"


async def test_resumes_that_cannot_be_honoured_get_http_errors(gateway: Gateway) -> None:
    created, ws, _, token = await _open(gateway)
    session_id = created["session_id"]
    # While the first socket is attached, a second connection is refused.
    status, message = await _refused(gateway, _resume_url(gateway, session_id, token, 1))
    assert status == 409 and "one connection" in message
    status, _ = await _refused(gateway, created["websocket_url"].replace("ws", "http", 1))
    assert status == 401  # the session token was spent by the first connect
    await ws.close()
    await _detached(gateway, session_id)
    wrong = "kura_rt_" + "x" * 43
    assert (await _refused(gateway, _resume_url(gateway, session_id, wrong, 1)))[0] == 401
    status, message = await _refused(gateway, _resume_url(gateway, session_id, token, 9))
    assert status == 400 and "lastSeq" in message
    status, message = await _refused(gateway, _resume_url(gateway, session_id, token, -1))
    assert status == 400 and "lastSeq" in message
    bad_flag = _resume_url(gateway, session_id, token, 1, replayAudio="maybe")
    assert (await _refused(gateway, bad_flag))[0] == 400
    # None of that spent the token or ended the session.
    resumed, _ = await _resume(gateway, session_id, token, last_seq=1)
    await resumed.close()


async def test_no_resume_within_the_grace_period_ends_the_session_as_client_lost(
    gateway: Gateway,
) -> None:
    created, ws, provider, _ = await _open(gateway, resume_grace_s=0.2)
    await ws.close()
    await asyncio.wait_for(provider.closed.wait(), 5)
    await gateway.ctx.live.wait_gone([created["session_id"]])  # its end is stored
    view = await (await gateway.request("GET", f"/api/v1/sessions/{created['session_id']}")).json()
    assert (view["status"], view["end_reason"]) == ("ended", "client_lost")


async def test_without_a_grace_period_a_drop_ends_the_session(gateway: Gateway) -> None:
    created, ws, provider, _ = await _open(gateway, resume_grace_s=0)
    await ws.close()
    await asyncio.wait_for(provider.closed.wait(), 5)
    await gateway.ctx.live.wait_gone([created["session_id"]])  # its end is stored
    view = await (await gateway.request("GET", f"/api/v1/sessions/{created['session_id']}")).json()
    assert view["end_reason"] == "client_disconnected"


async def test_audio_past_the_buffer_cap_is_skipped_or_the_resume_refused(
    small_buffer_gateway: Gateway,
) -> None:
    gw = small_buffer_gateway
    created, ws, provider, token = await _open(gw)
    session_id = created["session_id"]
    await ws.close()
    await _detached(gw, session_id)
    # Two seconds of speech nobody hears: more than the 64 KiB of audio the session keeps.
    provider.emit(*[AgentAudio(AGENT_100MS, "a1") for _ in range(20)])
    provider.emit(TranscriptDelta("output", "Long answer", "a1"), ResponseDone("a1"))
    session = _app_session(gw, session_id)
    for _ in range(200):
        if session.replay.last_seq >= 23:
            break
        await asyncio.sleep(0.01)
    assert session.replay.size_bytes <= 64 * 1024 + 8 * 1024  # audio lane plus two texts
    status, message = await _refused(gw, _resume_url(gw, session_id, token, 1))
    assert status == 409 and "replayAudio=false" in message
    resumed, opened = await _resume(gw, session_id, token, 1, replayAudio="false")
    assert opened["lastSeq"] == 23
    replayed = [await _next(resumed) for _ in range(2)]
    assert [(m["seq"], m["type"]) for m in replayed] == [
        (22, "transcriptionUpdate"),
        (23, "turnComplete"),
    ]
    await resumed.close()


async def test_a_draining_node_stops_waiting_for_resumes(gateway: Gateway) -> None:
    created, ws, provider, _ = await _open(gateway)  # the default 30 s grace
    await ws.close()
    await _detached(gateway, created["session_id"])
    gateway.ctx.drain.draining = True  # what SIGTERM does first
    await asyncio.wait_for(provider.closed.wait(), 5)
    await gateway.ctx.live.wait_gone([created["session_id"]])  # its end is stored
    view = await (await gateway.request("GET", f"/api/v1/sessions/{created['session_id']}")).json()
    assert view["end_reason"] == "client_lost"


async def test_the_assistant_sets_the_grace_period_and_the_session_overrides_it(
    gateway: Gateway,
) -> None:
    reply = await gateway.request(
        "POST",
        "/api/v1/assistants",
        json={"name": "Patient", "provider": "scripted", "resume_grace_s": 0},
    )
    assert reply.status == 201, await reply.text()
    assistant = await reply.json()
    assert assistant["resume_grace_s"] == 0
    created = await gateway.create_session(assistant_id=assistant["id"])
    ws = await gateway.http.ws_connect(created["websocket_url"])
    assert (await _next(ws))["type"] == "sessionOpen"
    assert _app_session(gateway, created["session_id"]).grace_s == 0
    await ws.close()
    overridden = await gateway.create_session(assistant_id=assistant["id"], resume_grace_s=12.5)
    ws = await gateway.http.ws_connect(overridden["websocket_url"])
    assert (await _next(ws))["type"] == "sessionOpen"
    assert _app_session(gateway, overridden["session_id"]).grace_s == 12.5
    await ws.send_json({"type": "stopSession"})
    assert await closed(ws) == 1000
