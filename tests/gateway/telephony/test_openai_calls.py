"""A phone call on the OpenAI provider: µ-law passes straight through, no resampling."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.openai_realtime import FakeRealtimeServer
from tests.gateway.conftest import Gateway
from tests.gateway.telephony.carrier_fakes import ulaw_match
from tests.gateway.telephony.conftest import FakeTwilio, openai_phone_gateway
from tests.gateway.telephony.test_media_stream import dial, speech_ulaw

NUMBER = "+15550004444"
NO_SERVER_VAD_NUMBER = "+15550004445"


@pytest.fixture
async def openai_line(tmp_path: Path, fake_openai: FakeRealtimeServer) -> AsyncIterator[FakeTwilio]:
    async for gw in openai_phone_gateway(tmp_path, fake_openai):
        await _route(gw)
        yield FakeTwilio(gw)


async def _route(gw: Gateway) -> None:
    row = await gw.ctx.store.assistants.create(
        {"name": "Realtime", "provider": "openai"}, gw.clock.now()
    )
    await gw.ctx.store.numbers.create(
        {"number": NUMBER, "assistant_id": row.id, "carrier": "twilio"}, gw.clock.now()
    )
    manual = await gw.ctx.store.assistants.create(
        {"name": "Manual turns", "provider": "openai", "turn_detection": {"server_vad": False}},
        gw.clock.now(),
    )
    await gw.ctx.store.numbers.create(
        {"number": NO_SERVER_VAD_NUMBER, "assistant_id": manual.id, "carrier": "twilio"},
        gw.clock.now(),
    )


async def test_call_audio_passes_through_as_ulaw(
    openai_line: FakeTwilio, fake_openai: FakeRealtimeServer
) -> None:
    stream = await dial(openai_line, NUMBER)
    await fake_openai.wait_for_connections(1)
    conn = fake_openai.connections[0]
    loud = bytes([0x10, 0x90]) * 80  # a loud µ-law square wave, 20 ms
    await stream.send_ulaw(loud * 25 + b"\xff" * 160 * 50)  # speech, then a second of silence
    await stream.wait_for_audio(800)  # the reply arrives as 8 kHz µ-law frames
    session = conn.session["audio"]
    assert session["input"]["format"]["type"] == "audio/pcmu"
    assert session["output"]["format"]["type"] == "audio/pcmu"
    appended = [e for e in conn.received if e["type"] == "input_audio_buffer.append"]
    sent = b"".join(base64.b64decode(event["audio"]) for event in appended)
    # µ-law straight through, denoised on the way (no resampling: the same length), two 20 ms
    # frames per append (providers.toolkit.batch)
    assert len(base64.b64decode(appended[0]["audio"])) == 2 * len(loud)
    assert ulaw_match(loud * 20, sent) >= 0.9
    await stream.stop()
    await stream.aclose()


async def test_without_server_vad_the_bridge_vad_ends_the_callers_turn(
    openai_line: FakeTwilio, fake_openai: FakeRealtimeServer
) -> None:
    stream = await dial(openai_line, NO_SERVER_VAD_NUMBER)
    await fake_openai.wait_for_connections(1)
    conn = fake_openai.connections[0]
    speech = speech_ulaw()
    await stream.send_ulaw(speech + b"\xff" * 160 * 50)  # the clip, then a second of silence
    await stream.wait_for_audio(800)  # the reply to the turn the bridge ended
    assert conn.session["audio"]["input"]["turn_detection"] is None
    kinds = conn.received_types()
    assert kinds.count("input_audio_buffer.commit") == 1
    assert kinds.index("input_audio_buffer.commit") < kinds.index("response.create")
    await stream.stop()
    await stream.aclose()
