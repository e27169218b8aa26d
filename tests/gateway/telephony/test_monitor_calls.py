"""Live monitoring of a phone call: the fake Twilio media leg, a supervisor's WebSocket."""

from __future__ import annotations

import asyncio
import base64
import json

from providers.events import AgentAudio
from tests.fakes.scripted_provider import ScriptedSession
from tests.gateway.monitor_helpers import PCM_40MS, open_monitor, start_monitor
from tests.gateway.telephony.conftest import FakeTwilio
from tests.gateway.telephony.test_media_stream import (
    SCRIPTED_NUMBER,
    dial,
    provider_session,
    scripted_line,
    until,
)
from tests.gateway.ws_helpers import receive, receive_until

__all__ = ["scripted_line"]  # the fixture, shared with the media stream tests


async def test_a_supervisor_listens_to_a_phone_call_and_takes_it_over(
    scripted_line: FakeTwilio,
) -> None:
    gw = scripted_line.gateway
    call = await dial(scripted_line, SCRIPTED_NUMBER)
    provider: ScriptedSession = await provider_session(gw)
    session_id = provider.context.session_id
    await until(lambda: gw.ctx.live.get(session_id) is not None)
    monitor = await open_monitor(gw, await start_monitor(gw, session_id))
    caller_ulaw = bytes(range(0, 256, 2)) * 15  # 1920 bytes: 240 ms of µ-law, a batch
    await call.send_ulaw(caller_ulaw)
    heard = b""
    while len(heard) < 240 * 48 // 2:  # at least half of it, resampled to 24 kHz
        message = await receive(monitor)
        if message["type"] == "monitorAudio" and message["source"] == "caller":
            heard += base64.b64decode(message["audio"])
    provider.emit(AgentAudio(audio=PCM_40MS * 6, item_id="a1"))  # 240 ms: a batch
    while (await receive(monitor)).get("source") != "assistant":
        pass
    await call.wait_for_audio(320)  # the carrier got the agent's speech (resampler delay aside)
    await monitor.send_str(json.dumps({"type": "takeOver"}))
    await receive_until(monitor, "monitorControl")
    await until(lambda: bool(call.clears))  # the assistant's queued speech is cut, as a barge-in
    before = len(call.received_audio)
    voice = base64.b64encode(PCM_40MS * 5).decode()
    await monitor.send_str(json.dumps({"type": "audioChunk", "audio": voice}))
    await call.wait_for_audio(before + 1280)  # ≥ 160 ms of the supervisor's 200, as µ-law
    await monitor.send_str(json.dumps({"type": "handBack"}))
    await asyncio.wait_for(provider.next_note(), 5)
    await call.stop()
    await call.aclose()
    await monitor.close()
