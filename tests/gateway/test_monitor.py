"""Live monitoring over the session API: an app session and a phone call, end to end."""

from __future__ import annotations

import asyncio
import base64
import json

import aiohttp

from providers.events import AgentAudio, ResponseDone, TranscriptDelta
from tests.gateway.conftest import Gateway
from tests.gateway.monitor_helpers import PCM_40MS, open_monitor, start_monitor
from tests.gateway.ws_helpers import connect, receive, receive_until


async def live_app_session(gw: Gateway) -> tuple[str, aiohttp.ClientWebSocketResponse]:
    assistant_id = await gw.use_scripted_assistant()
    created = await gw.create_session(assistant_id=assistant_id, mode="voice")
    app = await connect(gw, created)
    assert (await receive(app))["type"] == "sessionOpen"
    return created["session_id"], app


async def test_monitoring_needs_its_permission_and_a_live_session(gateway: Gateway) -> None:
    assistant_id = await gateway.use_scripted_assistant()
    created = await gateway.create_session(assistant_id=assistant_id, mode="voice")
    path = f"/api/v1/sessions/{created['session_id']}/monitor"
    reader = await gateway.create_key(["sessions:read"])
    assert (await gateway.request("POST", path, key=reader)).status == 403
    assert (await gateway.request("POST", path, key=None)).status == 401
    pending = await gateway.request("POST", path)
    assert pending.status == 409  # not connected yet: nothing to listen to
    ws_path = f"/api/v1/sessions/{created['session_id']}/monitor/connect?api_key=kura_mt_forged"
    refused = await gateway.http.get(gateway.url + ws_path)
    assert refused.status == 401


async def test_a_supervisor_listens_to_an_app_session_and_whispers(gateway: Gateway) -> None:
    session_id, app = await live_app_session(gateway)
    provider = gateway.scripted.sessions[-1]
    supervisor_key = await gateway.create_key(["sessions:monitor"])
    url = await start_monitor(gateway, session_id, supervisor_key)
    monitor = await open_monitor(gateway, url)
    again = await gateway.http.get(gateway.url + "/api/" + url.split("/api/", 1)[1])
    assert again.status == 401  # single use
    chunk = base64.b64encode(PCM_40MS).decode()
    for _ in range(5):  # 200 ms: one batch
        await app.send_str(json.dumps({"type": "audioChunk", "audio": chunk}))
    heard = await receive(monitor)
    assert heard["type"] == "monitorAudio" and heard["source"] == "caller"
    assert base64.b64decode(heard["audio"]) == PCM_40MS * 5
    provider.emit(
        TranscriptDelta(source="output", text="Hello", item_id="a1"),
        AgentAudio(audio=PCM_40MS, item_id="a1"),
        ResponseDone(item_id="a1"),
    )
    _, seen = await receive_until(monitor, "turnComplete")
    assert [m["type"] for m in seen] == ["transcriptionUpdate", "monitorAudio", "turnComplete"]
    assert seen[1]["source"] == "assistant"
    await receive_until(app, "turnComplete")
    await monitor.send_str(json.dumps({"type": "whisper", "text": "Mention the offer"}))
    assert await asyncio.wait_for(provider.next_note(), 5) == "Mention the offer"
    assert provider.texts == []
    await app.send_str(json.dumps({"type": "stopSession"}))
    closing = await monitor.receive()
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    await app.close()


async def test_take_over_and_hand_back_on_an_app_session(gateway: Gateway) -> None:
    session_id, app = await live_app_session(gateway)
    provider = gateway.scripted.sessions[-1]
    first = await open_monitor(gateway, await start_monitor(gateway, session_id))
    second = await open_monitor(gateway, await start_monitor(gateway, session_id))
    await first.send_str(json.dumps({"type": "takeOver"}))
    control, _ = await receive_until(first, "monitorControl")
    assert control["controller"] == "supervisor"
    await second.send_str(json.dumps({"type": "takeOver"}))
    refused, _ = await receive_until(second, "sessionError")
    assert "another supervisor" in refused["error"]
    voice = base64.b64encode(PCM_40MS).decode()
    await first.send_str(json.dumps({"type": "audioChunk", "audio": voice}))
    spoken, _ = await receive_until(app, "agentAudioChunk")
    assert base64.b64decode(spoken["audio"]) == PCM_40MS
    await first.send_str(json.dumps({"type": "handBack"}))
    await asyncio.wait_for(provider.next_note(), 5)  # the assistant is told
    await app.send_str(json.dumps({"type": "stopSession"}))
    await app.close()
    await gateway.ctx.transcripts.drain()
    path = f"/api/v1/sessions/{session_id}/transcript"
    turns = await (await gateway.request("GET", path)).json()
    assert "human" in [t["role"] for t in turns["turns"]]
    for ws in (first, second):
        await ws.close()
