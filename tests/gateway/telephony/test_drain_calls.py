"""Draining a node with a live call: no new calls, the caller hears the last words, then the
action URL hands the call to the assistant's transfer number (or, with none, apologises)."""

from __future__ import annotations

import asyncio
import re

from gateway.drain import drain
from providers.events import AgentAudio
from tests.gateway.telephony.conftest import FakeTwilio, twiml_of
from tests.gateway.telephony.test_media_stream import (
    AGENT_PCM_100MS,
    SCRIPTED_NUMBER,
    dial,
    provider_session,
    scripted_line,
    speech_ulaw,
)

__all__ = ["scripted_line"]  # the fixture, used by name below


async def test_drain_ends_a_live_call_cleanly(scripted_line: FakeTwilio) -> None:
    gw = scripted_line.gateway
    stream = await dial(scripted_line, SCRIPTED_NUMBER)
    session = await provider_session(gw)
    session.emit(AgentAudio(AGENT_PCM_100MS * 5, "last_words"))
    await stream.wait_for_audio(3800)
    gw.ctx.settings.drain_timeout_s = 0.0
    draining = asyncio.create_task(drain(gw.ctx))
    refused = await scripted_line.voice(scripted_line.call_fields(To=SCRIPTED_NUMBER))
    assert refused.status == 503  # new calls go to the carrier's fallback
    await asyncio.sleep(0.2)
    assert not stream.closed.is_set()  # the last words are still playing
    await stream.play(600)
    await stream.wait_closed()
    await asyncio.wait_for(draining, 5)
    assert len(stream.received_audio) >= 4000  # flushed: nothing held back
    fields = scripted_line.call_fields(stream.call_sid, To=SCRIPTED_NUMBER)
    document = await twiml_of(await scripted_line.action(fields))
    assert [child.tag for child in document] == ["Say", "Dial"]  # the scripted line transfers
    assert document.find("Dial").text == "+15550003333"  # type: ignore[union-attr]
    view = await gw.request("GET", f"/api/v1/sessions/{session.context.session_id}")
    assert (await view.json())["end_reason"] == "shutdown"


async def test_turn_latency_is_measured_on_calls(twilio: FakeTwilio) -> None:
    gw = twilio.gateway

    async def observed() -> float:
        text = await (await gw.request("GET", "/metrics", key=None)).text()
        found = re.search(r'kura_turn_latency_seconds_count\{channel="phone"\} ([0-9.]+)', text)
        return float(found.group(1)) if found else 0.0

    before = await observed()
    stream = await dial(twilio)  # the local demo plays the caller's turn back
    await stream.send_ulaw(speech_ulaw() + b"\xff" * 8000)
    await stream.wait_for_audio(8000)
    assert await observed() >= before + 1
    await stream.aclose()
