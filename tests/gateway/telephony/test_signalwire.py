"""SignalWire end to end over loopback: Twilio-compatible webhooks signed with the project's
Signing Key (made with Twilio's own ``RequestValidator``, the algorithm SignalWire documents),
``<Stream codec="L16@24000h">``, and a call whose PCM16 24 kHz audio passes straight through to
a provider that speaks it, with marks, barge-in, DTMF, hang-up and the apology."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from gateway.telephony.call_audio import apology_audio
from kinds.audio import PCM16_24K
from kinds.clock import SystemClock
from providers.errors import ProviderUnavailable
from providers.events import AgentAudio, CallerSpeechStarted, ResponseDone
from tests.fakes.twilio_media import FakeMediaStream
from tests.gateway.conftest import Gateway, start_gateway
from tests.gateway.telephony.conftest import (
    AUTH_TOKEN,
    PUBLIC_URL,
    FakeTwilio,
    stream_parameters,
    twiml_of,
)
from tests.gateway.telephony.test_media_stream import (
    AGENT_PCM_100MS,
    admitted_session,
    provider_session,
    until,
)

SIGNING_KEY = "PSK_test_signalwire_signing_key"
NUMBER = "+15550004444"
L16_24K = {"encoding": "audio/x-l16", "sampleRate": 24000, "channels": 1}
_ids = iter(range(1, 1_000_000))


def new_call_sid() -> str:
    return f"{next(_ids):08x}-0000-4000-8000-000000000000"


@dataclass
class FakeSignalWire(FakeTwilio):
    """SignalWire's webhooks: Twilio's form and algorithm, keyed by the Signing Key, sent in
    ``X-SignalWire-Signature`` (``header`` picks the Twilio-named one it also sends)."""

    token: str = SIGNING_KEY
    header: str = "X-SignalWire-Signature"

    def call_fields(self, call_sid: str | None = None, **fields: str) -> dict[str, str]:
        return super().call_fields(call_sid or new_call_sid(), **{"To": NUMBER, **fields})

    async def post(
        self, path: str, params: Mapping[str, str], *, signature: str | None = "auto",
        headers: dict[str, str] | None = None,
    ) -> aiohttp.ClientResponse:  # fmt: skip
        sent = dict(headers or {})
        if signature == "auto":
            signature = self.sign(path, params)
        if signature is not None:
            sent[self.header] = signature
        return await self.gateway.http.post(self.gateway.url + path, data=params, headers=sent)

    async def voice(self, params: Mapping[str, str], **kwargs: Any) -> aiohttp.ClientResponse:
        return await self.post("/telephony/signalwire/voice", params, **kwargs)

    async def status(self, params: Mapping[str, str], **kwargs: Any) -> aiohttp.ClientResponse:
        return await self.post("/telephony/signalwire/status", params, **kwargs)

    async def action(self, params: Mapping[str, str], **kwargs: Any) -> aiohttp.ClientResponse:
        return await self.post("/telephony/signalwire/action", params, **kwargs)


@pytest.fixture
async def sw_gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    async for gw in start_gateway(
        tmp_path, SystemClock(), twilio_auth_token=SecretStr(AUTH_TOKEN),
        signalwire_token=SecretStr(SIGNING_KEY), signalwire_project_id="p-1",
        public_url=PUBLIC_URL,
    ):  # fmt: skip
        yield gw


@pytest.fixture
async def signalwire(sw_gateway: Gateway) -> FakeSignalWire:
    """NUMBER routed, on SignalWire, to an assistant on the scripted provider (PCM16 24 kHz)."""
    assistant_id = await sw_gateway.use_scripted_assistant()
    await sw_gateway.ctx.store.numbers.create(
        {"number": NUMBER, "assistant_id": assistant_id, "carrier": "signalwire"},
        sw_gateway.clock.now(),
    )
    return FakeSignalWire(sw_gateway)


async def dial(sw: FakeSignalWire, media_format: dict[str, Any] | None = None) -> FakeMediaStream:
    fields = sw.call_fields()
    document = await twiml_of(await sw.voice(fields))
    stream = document.find("./Connect/Stream")
    assert stream is not None
    return await FakeMediaStream.open(
        sw.gateway.http, sw.gateway.url, stream.attrib["url"], auth_token=SIGNING_KEY,
        call_sid=fields["CallSid"], parameters=stream_parameters(document), signature=None,
        media_format=media_format or L16_24K,
    )  # fmt: skip


# --- webhooks ----------------------------------------------------------------------------------


async def test_the_voice_webhook_answers_cxml_asking_for_l16_at_24khz(
    signalwire: FakeSignalWire,
) -> None:
    document = await twiml_of(await signalwire.voice(signalwire.call_fields()))
    connect = document.find("./Connect")
    stream = document.find("./Connect/Stream")
    assert connect is not None and stream is not None
    assert stream.attrib["url"] == "wss://gw.example.com/telephony/signalwire/media"
    assert stream.attrib["codec"] == "L16@24000h"
    assert connect.attrib["action"] == PUBLIC_URL + "/telephony/signalwire/action"
    assert set(stream_parameters(document)) == {"session_id", "token"}


async def test_the_twilio_named_header_is_accepted_too(signalwire: FakeSignalWire) -> None:
    compat = FakeSignalWire(signalwire.gateway, header="X-Twilio-Signature")
    await twiml_of(await compat.voice(compat.call_fields()))


async def test_forged_and_unsigned_webhooks_get_403_before_any_work(
    signalwire: FakeSignalWire,
) -> None:
    gw = signalwire.gateway
    fields = signalwire.call_fields()
    twilio_signed = FakeSignalWire(gw, token=AUTH_TOKEN)  # the Twilio token is not the key
    other_url = signalwire.sign("/telephony/twilio/voice", fields)  # made for another door
    for response in (
        await signalwire.voice(fields, signature=None),
        await signalwire.voice(fields, signature="bm90IGEgc2lnbmF0dXJl"),
        await signalwire.voice(fields, signature="x" * 1000),
        await twilio_signed.voice(fields),
        await signalwire.voice(fields, signature=other_url),
        await signalwire.voice({**fields, "From": "+15550009999"},
                               signature=signalwire.sign("/telephony/signalwire/voice", fields)),
    ):  # fmt: skip
        assert response.status == 403, await response.text()
    sessions = await (await gw.request("GET", "/api/v1/sessions")).json()
    assert sessions["data"] == []


async def test_a_replayed_voice_webhook_gets_the_same_answer_and_one_session(
    signalwire: FakeSignalWire,
) -> None:
    fields = signalwire.call_fields()
    first = await (await signalwire.voice(fields)).text()
    again = await (await signalwire.voice(fields)).text()
    assert first == again
    sessions = await (await signalwire.gateway.request("GET", "/api/v1/sessions")).json()
    assert len(sessions["data"]) == 1


async def test_a_number_of_another_carrier_is_refused(signalwire: FakeSignalWire) -> None:
    gw = signalwire.gateway
    await gw.ctx.store.numbers.create(
        {"number": "+15550007777", "assistant_id": 1, "carrier": "twilio"}, gw.clock.now()
    )
    response = await signalwire.voice(signalwire.call_fields(To="+15550007777"))
    assert response.status == 403


async def test_without_a_signing_key_the_doors_answer_503(tmp_path: Path) -> None:
    async for gw in start_gateway(tmp_path, SystemClock(), public_url=PUBLIC_URL):
        sw = FakeSignalWire(gw)
        assert (await sw.voice(sw.call_fields())).status == 503
        assert (await sw.status(sw.call_fields(CallStatus="completed"))).status == 503
        path = "/telephony/signalwire/media"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await gw.http.ws_connect(gw.url + path)
        assert refused.value.status == 503


async def test_status_and_action_end_the_call(signalwire: FakeSignalWire) -> None:
    fields = signalwire.call_fields()
    await twiml_of(await signalwire.voice(fields))
    done = {**fields, "CallStatus": "completed", "CallDuration": "3", "SequenceNumber": "2"}
    await twiml_of(await signalwire.status(done))
    document = await twiml_of(await signalwire.action(done))
    assert document.find("./Say") is not None and document.find("./Hangup") is not None
    sessions = await (await signalwire.gateway.request("GET", "/api/v1/sessions")).json()
    assert sessions["data"][0]["status"] == "ended"


# --- calls -------------------------------------------------------------------------------------


@pytest.mark.usefixtures("plain_audio")
async def test_l16_at_24khz_passes_straight_through_both_ways(signalwire: FakeSignalWire) -> None:
    gw = signalwire.gateway
    stream = await dial(signalwire)
    session = await provider_session(gw)
    caller = bytes(range(256)) * 30  # 160 ms of arbitrary PCM16 at 24 kHz
    await stream.send_audio(caller[: 960 * 8])
    await until(lambda: len(session.audio_in) >= 960 * 8)
    assert bytes(session.audio_in[: 960 * 8]) == caller[: 960 * 8]  # not resampled, not touched
    session.emit(AgentAudio(AGENT_PCM_100MS * 3, "item1"), ResponseDone("item1"))
    await stream.wait_for_audio(len(AGENT_PCM_100MS) * 3)
    assert bytes(stream.received_audio) == AGENT_PCM_100MS * 3
    assert stream.marks_received
    await stream.stop()
    await asyncio.wait_for(session.closed.wait(), 2)
    await stream.aclose()
    view = await (await gw.request("GET", f"/api/v1/sessions/{session.context.session_id}")).json()
    assert (view["end_reason"], view["metadata"]["carrier"]) == ("caller_hangup", "signalwire")


async def test_a_mulaw_stream_is_carried_too(signalwire: FakeSignalWire) -> None:
    """Where the codec attribute is not honoured, the start says µ-law, and the call adapts."""
    mulaw = {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}
    stream = await dial(signalwire, mulaw)
    session = await provider_session(signalwire.gateway)
    await stream.send_ulaw(b"\xff" * 160 * 10)
    await until(lambda: len(session.audio_in) >= 9 * 960)
    session.emit(AgentAudio(AGENT_PCM_100MS, "item1"), ResponseDone("item1"))
    await stream.wait_for_audio(800)  # 100 ms of µ-law
    await stream.aclose()


async def test_barge_in_clears_with_no_stale_audio_and_dtmf_arrives(
    signalwire: FakeSignalWire,
) -> None:
    stream = await dial(signalwire)
    session = await provider_session(signalwire.gateway)
    session.emit(AgentAudio(AGENT_PCM_100MS * 20, "item1"))
    await stream.wait_for_audio(len(AGENT_PCM_100MS) * 19)
    await stream.play(700)
    await stream.send_dtmf("1")
    await until(lambda: session.texts == ["The caller pressed 1"])
    session.emit(CallerSpeechStarted())
    await until(lambda: bool(stream.clears) and bool(session.interrupts))
    (played_ms,) = session.interrupts
    assert played_ms is not None and 600 <= played_ms <= 700
    received = len(stream.received_audio)
    session.emit(AgentAudio(AGENT_PCM_100MS, "item1"))  # stale audio of the cut item
    session.emit(AgentAudio(AGENT_PCM_100MS, "item2"), ResponseDone("item2"))
    await stream.wait_for_audio(received + len(AGENT_PCM_100MS))
    await stream.send_dtmf("2")
    await until(lambda: len(session.texts) == 2)
    assert len(stream.received_audio) == received + len(AGENT_PCM_100MS)  # item2 only
    await stream.aclose()


async def test_bad_frames_are_counted_and_ignored(signalwire: FakeSignalWire) -> None:
    stream = await dial(signalwire)
    session = await provider_session(signalwire.gateway)
    for raw in ("{nope", '{"event":"dance"}', "[1]", "x" * 60_000,
                '{"event":"media","streamSid":"MZ1","media":{"payload":"!!!"}}'):  # fmt: skip
        await stream.send_raw(raw)
    await stream.ws.send_bytes(b"\x00\x01")
    await stream.send_audio(bytes(960))
    await until(lambda: len(session.audio_in) >= 960)
    assert not stream.ws.closed
    await stream.aclose()


async def test_provider_down_plays_the_apology_in_l16(signalwire: FakeSignalWire) -> None:
    signalwire.gateway.scripted.fail_with = ProviderUnavailable("refused")
    stream = await dial(signalwire)
    apology = apology_audio(PCM16_24K)
    await stream.wait_for_audio(len(apology))
    await stream.play(len(apology) // 48 + 20)
    await stream.wait_closed()
    assert bytes(stream.received_audio[: len(apology)]) == apology
    await stream.aclose()


async def test_a_bad_or_replayed_token_closes_1008_and_costs_no_provider(
    signalwire: FakeSignalWire,
) -> None:
    gw = signalwire.gateway
    fields = signalwire.call_fields()
    document = await twiml_of(await signalwire.voice(fields))
    url = document.find("./Connect/Stream").attrib["url"]  # type: ignore[union-attr]
    params = stream_parameters(document)

    async def open_with(parameters: dict[str, str]) -> FakeMediaStream:
        return await FakeMediaStream.open(
            gw.http, gw.url, url, auth_token=SIGNING_KEY, call_sid=fields["CallSid"],
            parameters=parameters, signature=None, media_format=L16_24K,
        )  # fmt: skip

    for bad in ({**params, "token": params["token"][:-2] + "xx"}, {**params, "session_id": "x"}):
        stream = await open_with(bad)
        await stream.wait_closed()
        assert stream.ws.close_code == 1008
    # At most the one the signed voice webhook opened early; a bad stream never opens one.
    assert len(gw.scripted.sessions) <= 1
    good = await open_with(params)
    await admitted_session(gw)
    replay = await open_with(params)
    await replay.wait_closed()
    assert replay.ws.close_code == 1008
    assert len(gw.scripted.sessions) == 1
    await good.aclose()
