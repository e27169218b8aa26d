"""SignalWire's ``<Stream codec>`` is chosen per call for the assistant's provider: µ-law (no
codec attribute) for a provider that takes and speaks it, which then passes straight through as
on Twilio; L16 at the rate a PCM16-only provider takes otherwise."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from gateway.telephony.signalwire import STREAM_CODEC, codec_for
from kinds.audio import PCM16_16K, PCM16_24K, PCMU_8K, AudioFormat
from kinds.clock import SystemClock
from media.g711 import pcm16_to_ulaw
from providers.capabilities import ProviderCapabilities
from providers.gemini_live.provider import CAPABILITIES as GEMINI
from providers.local.provider import LOCAL_CAPABILITIES as LOCAL
from providers.openai_realtime.provider import OpenAIRealtimeProvider
from providers.registry import ProviderRegistry
from tests.fakes.scripted_provider import CAPABILITIES as SCRIPTED
from tests.fakes.scripted_provider import ScriptedProvider
from tests.fakes.twilio_media import FakeMediaStream
from tests.gateway.conftest import Gateway, start_gateway
from tests.gateway.telephony.conftest import AUTH_TOKEN, PUBLIC_URL, stream_parameters, twiml_of
from tests.gateway.telephony.test_media_stream import until
from tests.gateway.telephony.test_signalwire import NUMBER, SIGNING_KEY, FakeSignalWire

OPENAI = OpenAIRealtimeProvider("sk-test", clock=SystemClock()).capabilities("voice")
ULAW_SCRIPTED = dataclasses.replace(
    SCRIPTED, input_audio=PCMU_8K, output_audio=PCMU_8K, other_input_audio=(),
    other_output_audio=(),
)  # fmt: skip


@pytest.mark.parametrize(
    ("provider", "codec", "audio"),
    [
        (LOCAL, None, PCMU_8K),  # takes and speaks µ-law: the smallest frames, no conversion
        (OPENAI, None, PCMU_8K),
        (GEMINI, "L16@16000h", PCM16_16K),  # its 16 kHz input passes as is
        (SCRIPTED, "L16@24000h", PCM16_24K),  # PCM16 24 kHz only: no resampling either way
        (None, STREAM_CODEC, PCM16_24K),  # an unknown provider: the default
    ],
)
def test_the_codec_follows_the_provider(
    provider: ProviderCapabilities | None, codec: str | None, audio: AudioFormat
) -> None:
    assert codec_for(provider) == (codec, audio)


@pytest.fixture
async def ulaw_gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    def register(registry: ProviderRegistry) -> None:
        registry.register("ulaw", lambda: ScriptedProvider(capabilities=ULAW_SCRIPTED))

    async for gw in start_gateway(
        tmp_path, SystemClock(), register=register, twilio_auth_token=SecretStr(AUTH_TOKEN),
        signalwire_token=SecretStr(SIGNING_KEY), signalwire_project_id="p-1",
        public_url=PUBLIC_URL,
    ):  # fmt: skip
        yield gw


async def test_a_ulaw_provider_gets_a_ulaw_stream_passed_straight_through(
    ulaw_gateway: Gateway,
) -> None:
    gw = ulaw_gateway
    assistant = await gw.ctx.store.assistants.create(
        {"name": "µ-law", "provider": "ulaw"}, gw.clock.now()
    )
    await gw.ctx.store.numbers.create(
        {"number": NUMBER, "assistant_id": assistant.id, "carrier": "signalwire"}, gw.clock.now()
    )
    sw = FakeSignalWire(gw)
    fields = sw.call_fields()
    document = await twiml_of(await sw.voice(fields))
    stream = document.find("./Connect/Stream")
    assert stream is not None and "codec" not in stream.attrib  # SignalWire's default: µ-law
    media = await FakeMediaStream.open(
        gw.http, gw.url, stream.attrib["url"], auth_token=SIGNING_KEY,
        call_sid=fields["CallSid"], parameters=stream_parameters(document), signature=None,
    )  # fmt: skip
    provider = gw.ctx.providers.get("ulaw")
    assert isinstance(provider, ScriptedProvider)
    ulaw = pcm16_to_ulaw(bytes(range(256)) * 5)[:640]  # 80 ms of µ-law, not silence
    for offset in range(0, len(ulaw), 160):
        await media.send_ulaw(ulaw[offset : offset + 160])
    for _ in range(3):  # a carrier streams on, silence included
        await media.send_ulaw(b"\xff" * 160)
    await provider.connected.wait()
    session = provider.sessions[-1]
    await until(lambda: ulaw in session.audio_in)  # the caller's bytes as they came
    await media.stop()
