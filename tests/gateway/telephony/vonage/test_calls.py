"""Vonage calls end to end over loopback: signed answer webhook → NCCO → websocket (binary L16
both ways) → the bridge → a provider and back, with notify marks, clear, DTMF, the REST hang-up
and transfer, the apology, and bad frames ignored."""

from __future__ import annotations

import asyncio
import audioop
import json
import wave
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from prometheus_client import REGISTRY

from gateway.telephony.call_audio import apology_audio
from kinds.audio import PCM16_16K, PCM16_24K
from providers.errors import ProviderUnavailable
from providers.events import AgentAudio, CallerSpeechStarted, ResponseDone, ToolCall
from tests.fakes.scripted_provider import CAPABILITIES as SCRIPTED_CAPABILITIES
from tests.fakes.vonage_media import FakeVonageStream
from tests.gateway.telephony.test_media_stream import (
    AGENT_PCM_100MS,
    SPEECH_24K,
    provider_session,
    until,
)
from tests.gateway.telephony.vonage.conftest import FakeVoiceApi, FakeVonage

SCRIPTED = "+447700900999"
TRANSFER_TO = "+447700900333"


@pytest.fixture
async def line(vonage: FakeVonage) -> AsyncIterator[FakeVonage]:
    """SCRIPTED routed (on Vonage) to an assistant on the scripted provider."""
    gw = vonage.gateway
    assistant_id = await gw.use_scripted_assistant(transfer_number=TRANSFER_TO)
    await gw.ctx.store.numbers.create(
        {"number": SCRIPTED, "assistant_id": assistant_id, "carrier": "vonage"}, gw.clock.now()
    )
    yield vonage


def _bad_input(reason: str) -> float:
    return REGISTRY.get_sample_value("kura_media_bad_input_total", {"reason": reason}) or 0.0


async def test_a_bad_or_used_token_closes_1008_and_costs_no_provider(line: FakeVonage) -> None:
    gw = line.gateway
    ncco = await line.ncco(await line.answer_get(line.call_fields(to=SCRIPTED[1:])))
    endpoint = ncco[0]["endpoint"][0]
    headers = endpoint["headers"]
    for bad in ({**headers, "token": headers["token"][:-2] + "xx"}, {**headers, "session_id": "x"},
                {k: v for k, v in headers.items() if k != "token"},
                {**headers, "call_uuid": "another-call-0001"}):  # fmt: skip
        stream = await FakeVonageStream.dial(gw.http, gw.url, endpoint, headers=bad)
        await stream.wait_closed()
        assert stream.ws.close_code == 1008
    wrong_rate = {**endpoint, "content-type": "audio/l16;rate=44100"}
    stream = await FakeVonageStream.dial(gw.http, gw.url, wrong_rate)
    await stream.wait_closed()
    assert stream.ws.close_code == 1008
    assert gw.scripted.sessions == []
    good = await FakeVonageStream.dial(gw.http, gw.url, endpoint)
    await provider_session(gw)
    replay = await FakeVonageStream.dial(gw.http, gw.url, endpoint)
    await replay.wait_closed()
    assert replay.ws.close_code == 1008
    assert len(gw.scripted.sessions) == 1
    await good.aclose()


@pytest.mark.usefixtures("plain_audio")
async def test_a_full_call_binary_both_ways_with_notify_marks_and_hang_up(
    line: FakeVonage, voice_api: tuple[FakeVoiceApi, bytes]
) -> None:
    gw = line.gateway
    stream = await line.dial(SCRIPTED)
    session = await provider_session(gw)
    caller = AGENT_PCM_100MS * 2  # 200 ms at 24 kHz: ten binary frames of 960 bytes
    await stream.send_pcm(caller)
    await until(lambda: len(session.audio_in) >= len(caller))
    assert bytes(session.audio_in[: len(caller)]) == caller  # passed through: no resampling
    session.emit(AgentAudio(AGENT_PCM_100MS * 3, "item1"), ResponseDone("item1"))
    await stream.wait_for_audio(3 * 4800)
    assert bytes(stream.received_audio) == AGENT_PCM_100MS * 3
    assert stream.binary_frame_sizes == {960}  # 20 ms frames, as Vonage wants them
    assert stream.marks_received and len(set(stream.marks_received)) == len(stream.marks_received)
    assert stream.text_in == len(stream.notify_payloads)  # audio never travels as text
    await stream.stop()  # the caller hangs up: Vonage closes the socket
    await asyncio.wait_for(session.closed.wait(), 2)
    view = await (await gw.request("GET", f"/api/v1/sessions/{session.context.session_id}")).json()
    assert (view["channel"], view["end_reason"], view["metadata"]["carrier"]) == (
        "phone", "caller_hangup", "vonage")  # fmt: skip
    assert voice_api[0].updates == []  # the caller is gone: nothing to hang up


async def test_barge_in_clears_and_truncates_at_the_played_position(line: FakeVonage) -> None:
    gw = line.gateway
    stream = await line.dial(SCRIPTED)
    session = await provider_session(gw)
    session.emit(AgentAudio(AGENT_PCM_100MS * 20, "item1"))
    await stream.wait_for_audio(20 * 4800 - 4800)  # the last partial frame waits in the chain
    await stream.play(700)
    await stream.send_dtmf("1")  # read in order: the notify echoes are in before this digit
    await until(lambda: session.texts == ["The caller pressed 1"])
    session.emit(CallerSpeechStarted())
    await until(lambda: bool(stream.clears) and bool(session.interrupts))
    (played_ms,) = session.interrupts
    assert played_ms is not None and 600 <= played_ms <= 700
    received = len(stream.received_audio)
    session.emit(AgentAudio(AGENT_PCM_100MS, "item1"))  # stale audio of the cut item
    session.emit(AgentAudio(AGENT_PCM_100MS, "item2"), ResponseDone("item2"))
    await stream.wait_for_audio(received + 4800)
    await stream.send_dtmf("2")
    await until(lambda: len(session.texts) == 2)
    assert len(stream.received_audio) == received + 4800  # item2 only
    await stream.aclose()


async def test_dtmf_in_both_shapes(line: FakeVonage) -> None:
    gw = line.gateway
    stream = await line.dial(SCRIPTED)
    session = await provider_session(gw)
    await stream.send_dtmf("5")
    await stream.send_raw(json.dumps({"event": "websocket:dtmf", "dtmf": {"digit": "#"}}))
    await until(lambda: len(session.texts) == 2)
    assert session.texts == ["The caller pressed 5", "The caller pressed #"]
    await stream.aclose()


async def test_bad_frames_are_counted_and_ignored(line: FakeVonage) -> None:
    gw = line.gateway
    stream = await line.dial(SCRIPTED)
    session = await provider_session(gw)
    malformed = _bad_input("malformed")
    for raw in ("{nope", json.dumps({"event": "dance"}), json.dumps([1]),
                json.dumps({"event": "websocket:dtmf", "digit": "Z"}),
                json.dumps({"event": "websocket:notify", "payload": "x"})):  # fmt: skip
        await stream.send_raw(raw)
    await stream.ws.send_bytes(b"\x00\x01\x02")  # not whole 16-bit samples
    await stream.ws.send_bytes(b"\x00" * 60_000)  # under 64 KiB (over it: 1009, row 26)
    await stream.send_raw(json.dumps({"event": "websocket:cleared"}))  # no bad input
    await stream.send_pcm(AGENT_PCM_100MS)
    await until(lambda: len(session.audio_in) >= 4800)
    assert _bad_input("malformed") - malformed == 6
    assert not stream.ws.closed
    await stream.aclose()


async def test_provider_down_plays_the_apology(line: FakeVonage) -> None:
    line.gateway.scripted.fail_with = ProviderUnavailable("refused")
    stream = await line.dial(SCRIPTED)
    apology = len(apology_audio(PCM16_24K))
    await stream.wait_for_audio(apology)
    await stream.play(apology // 48 + 20)
    await stream.wait_closed()
    assert len(stream.received_audio) == apology + (-apology % 960)
    await stream.aclose()


async def test_end_call_plays_the_goodbye_then_hangs_up_through_the_rest_api(
    line: FakeVonage, voice_api: tuple[FakeVoiceApi, bytes]
) -> None:
    gw, api = line.gateway, voice_api[0]
    stream = await line.dial(SCRIPTED)
    session = await provider_session(gw)
    session.emit(ToolCall("c1", "end_call", {}))
    await until(lambda: bool(session.tool_results))
    session.emit(AgentAudio(AGENT_PCM_100MS * 5, "bye"), ResponseDone("bye"))
    await stream.wait_for_audio(5 * 4800)
    assert not stream.closed.is_set()  # the goodbye is still playing
    await stream.play(500)
    await stream.wait_closed()
    assert api.updates == [(stream.call_sid, {"action": "hangup"})]
    assert api.refused == 0


async def test_transfer_goes_through_the_rest_api(
    line: FakeVonage, voice_api: tuple[FakeVoiceApi, bytes]
) -> None:
    gw, api = line.gateway, voice_api[0]
    stream = await line.dial(SCRIPTED)
    session = await provider_session(gw)
    session.emit(ToolCall("c1", "transfer_call", {"reason": "sales"}))
    await until(lambda: bool(session.tool_results))
    assert session.tool_results[0][1]["ok"] is True
    session.emit(ResponseDone("handover"))
    await stream.wait_closed()
    ((call_uuid, body),) = api.updates
    assert call_uuid == stream.call_sid
    connect = {"action": "connect", "from": SCRIPTED[1:],
               "endpoint": [{"type": "phone", "number": TRANSFER_TO[1:]}]}  # fmt: skip
    assert body == {"action": "transfer", "destination": {"type": "ncco", "ncco": [connect]}}
    view = await (await gw.request("GET", f"/api/v1/sessions/{session.context.session_id}")).json()
    assert view["end_reason"] == "transferred"


@pytest.mark.usefixtures("plain_audio")
async def test_the_local_demo_plays_the_caller_back(vonage: FakeVonage) -> None:
    stream = await vonage.dial()
    assert stream.rate_hz == 8_000  # the demo takes µ-law: the call is µ-law from the edge on
    with wave.open(str(SPEECH_24K), "rb") as clip:
        speech_24k = clip.readframes(clip.getnframes())
    speech, _ = audioop.ratecv(speech_24k, 2, 1, 24_000, 8_000, None)
    speech = speech[: len(speech) // 320 * 320]
    await stream.send_pcm(speech + b"\x00" * 16_000)
    await stream.wait_for_audio(int(len(speech) * 0.8))
    await stream.play(len(speech) // 16 + 1000)
    # Companded once at the edge, passed through as µ-law, expanded once on the way out.
    echoed = audioop.ulaw2lin(audioop.lin2ulaw(speech[16_000:18_560], 2), 2)
    assert echoed in stream.received_audio
    await stream.aclose()


async def test_a_refused_transfer_still_hangs_up(
    line: FakeVonage, voice_api: tuple[FakeVoiceApi, bytes]
) -> None:
    gw, api = line.gateway, voice_api[0]
    api.failing_actions.add("transfer")
    stream = await line.dial(SCRIPTED)
    session = await provider_session(gw)
    session.emit(ToolCall("c1", "transfer_call", {"reason": "sales"}))
    await until(lambda: bool(session.tool_results))
    session.emit(ResponseDone("handover"))
    await stream.wait_closed()
    assert [body["action"] for _, body in api.updates] == ["transfer", "hangup"]


@pytest.mark.usefixtures("plain_audio")
async def test_a_16k_provider_gets_a_16k_call_with_no_resampling_inbound(line: FakeVonage) -> None:
    gw = line.gateway
    gw.scripted.declared = replace(SCRIPTED_CAPABILITIES, input_audio=PCM16_16K)
    stream = await line.dial(SCRIPTED)
    assert stream.rate_hz == 16_000  # the NCCO asked Vonage for L16 at 16 kHz
    session = await provider_session(gw)
    caller = AGENT_PCM_100MS[:3200] * 2  # 200 ms at 16 kHz: ten frames of 640 bytes
    await stream.send_pcm(caller)
    await until(lambda: len(session.audio_in) >= len(caller))
    assert bytes(session.audio_in[: len(caller)]) == caller
    session.emit(AgentAudio(AGENT_PCM_100MS * 3, "item1"), ResponseDone("item1"))
    await stream.wait_for_audio(3 * 3200 - 640)  # 24 → 16 kHz, less the filter's delay
    assert stream.binary_frame_sizes == {640}
    await stream.aclose()
