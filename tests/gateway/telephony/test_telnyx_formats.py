"""Telnyx per-call encodings: each call's ``start.media_format`` (PCMU, PCMA, L16) decides its
chains both ways; L16 is in network byte order on the wire; the TeXML asks for the configured
codec (``KURA_TELNYX_STREAM_CODEC``)."""

from __future__ import annotations

import audioop
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from kinds.clock import SystemClock
from media.g711 import pcm16_to_alaw
from providers.events import AgentAudio, ResponseDone
from tests.gateway.conftest import Gateway, start_gateway
from tests.gateway.telephony.conftest import (
    AUTH_TOKEN,
    PUBLIC_URL,
    TELNYX_PUBLIC_KEY,
    FakeTelnyx,
    twiml_of,
)
from tests.gateway.telephony.test_media_stream import AGENT_PCM_100MS, provider_session, until
from tests.gateway.telephony.test_telnyx_calls import SCRIPTED, dial


@pytest.fixture
async def line(telnyx: FakeTelnyx) -> AsyncIterator[FakeTelnyx]:
    gw = telnyx.gateway
    assistant_id = await gw.use_scripted_assistant()  # PCM16 at 24 kHz both ways
    await gw.ctx.store.numbers.create(
        {"number": SCRIPTED, "assistant_id": assistant_id, "carrier": "telnyx"}, gw.clock.now()
    )
    yield telnyx


async def test_an_alaw_call_is_carried_in_alaw_both_ways(line: FakeTelnyx) -> None:
    stream = await dial(line, encoding="PCMA")
    session = await provider_session(line.gateway)
    tone = (b"\x00\x10" * 80) * 20  # 200 ms of PCM16 at 8 kHz
    await stream.send_audio(pcm16_to_alaw(tone))
    await until(lambda: len(session.audio_in) >= 9 * 960)  # decoded, resampled to 24 kHz
    session.emit(AgentAudio(bytes(4800), "item1"), ResponseDone("item1"))  # 100 ms of silence
    await stream.wait_for_audio(800)
    assert set(stream.received_audio) == {0xD5}  # A-law's silence, not µ-law's 0xFF
    await stream.aclose()


@pytest.mark.usefixtures("plain_audio")
async def test_l16_at_24khz_passes_through_in_network_byte_order(line: FakeTelnyx) -> None:
    stream = await dial(line, encoding="L16", sample_rate=24000)
    session = await provider_session(line.gateway)
    caller = bytes(range(1, 256)) * 38  # arbitrary PCM16, little-endian
    caller = caller[: 960 * 8]
    await stream.send_audio(audioop.byteswap(caller, 2))  # big-endian on the wire
    await until(lambda: len(session.audio_in) >= len(caller))
    assert bytes(session.audio_in[: len(caller)]) == caller  # swapped back, not resampled
    session.emit(AgentAudio(AGENT_PCM_100MS, "item1"), ResponseDone("item1"))
    await stream.wait_for_audio(len(AGENT_PCM_100MS))
    assert bytes(stream.received_audio) == audioop.byteswap(AGENT_PCM_100MS, 2)
    await stream.aclose()


@pytest.fixture
async def alaw_gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    async for gw in start_gateway(
        tmp_path, SystemClock(), twilio_auth_token=SecretStr(AUTH_TOKEN),
        telnyx_public_key=TELNYX_PUBLIC_KEY, telnyx_api_key=SecretStr("KEY_test"),
        telnyx_stream_codec="PCMA", public_url=PUBLIC_URL,
    ):  # fmt: skip
        yield gw


async def test_the_texml_asks_for_the_configured_codec(alaw_gateway: Gateway) -> None:
    telnyx = FakeTelnyx(alaw_gateway)
    await alaw_gateway.ctx.store.numbers.create(
        {"number": SCRIPTED, "assistant_id": 1, "carrier": "telnyx"}, alaw_gateway.clock.now()
    )
    document = await twiml_of(await telnyx.voice(telnyx.call_fields(To=SCRIPTED)))
    stream = document.find("./Connect/Stream")
    assert stream is not None
    assert (stream.attrib["codec"], stream.attrib["bidirectionalCodec"]) == ("PCMA", "PCMA")
