"""Calls end to end: signed webhook, signed media socket, the bridge, barge-in, DTMF, hang-up."""

from __future__ import annotations

import asyncio
import json
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from media.g711 import pcm16_to_ulaw
from media.resample import StreamResampler
from providers.errors import ProviderUnavailable
from providers.events import AgentAudio, CallerSpeechStarted, ResponseDone, ToolCall
from tests.fakes.scripted_provider import ScriptedSession
from tests.fakes.twilio_media import FakeMediaStream
from tests.gateway.conftest import Gateway
from tests.gateway.telephony.carrier_fakes import ulaw_match
from tests.gateway.telephony.conftest import (
    AUTH_TOKEN,
    NUMBER,
    FakeTwilio,
    new_call_sid,
    stream_parameters,
    twiml_of,
)

SCRIPTED_NUMBER = "+15550009999"
SPEECH_24K = Path(__file__).parents[2] / "providers" / "data" / "speech_24k.wav"
AGENT_PCM_100MS = b"\x10\x27" * 2400  # 100 ms of a loud constant at 24 kHz


def speech_ulaw() -> bytes:
    with wave.open(str(SPEECH_24K), "rb") as clip:
        pcm = clip.readframes(clip.getnframes())
    resampler = StreamResampler(24_000, 8_000)
    return pcm16_to_ulaw(resampler.process(pcm) + resampler.flush())


async def dial(twilio: FakeTwilio, number: str = NUMBER) -> FakeMediaStream:
    call_sid = new_call_sid()
    document = await twiml_of(await twilio.voice(twilio.call_fields(call_sid, To=number)))
    stream = document.find("./Connect/Stream")
    assert stream is not None
    return await FakeMediaStream.open(
        twilio.gateway.http,
        twilio.gateway.url,
        stream.attrib["url"],
        auth_token=AUTH_TOKEN,
        call_sid=call_sid,
        parameters=stream_parameters(document),
    )


@pytest.fixture
async def scripted_line(twilio: FakeTwilio) -> AsyncIterator[FakeTwilio]:
    """SCRIPTED_NUMBER routed to an assistant on the scripted provider."""
    gw = twilio.gateway
    assistant_id = await gw.use_scripted_assistant(transfer_number="+15550003333")
    await gw.ctx.store.numbers.create(
        {"number": SCRIPTED_NUMBER, "assistant_id": assistant_id, "carrier": "twilio"},
        gw.clock.now(),
    )
    yield twilio


async def provider_session(gw: Gateway) -> ScriptedSession:
    await asyncio.wait_for(gw.scripted.connected.wait(), 5)
    return gw.scripted.sessions[-1]


async def admitted_session(gw: Gateway) -> ScriptedSession:
    """The provider session once a media stream's call is running it. With the early connect,
    the session exists before any stream is admitted: a stream opened after ``provider_session``
    alone could race the first one for its token and win (the replay tests then waited 10 s
    for the wrong stream to close). The call's pump iterates the session only after the token
    was redeemed and the session claimed."""
    session = await provider_session(gw)
    await asyncio.wait_for(session.drained(), 5)
    return session


async def until(predicate: object, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


async def test_bad_upgrade_signature_is_refused_before_any_socket(twilio: FakeTwilio) -> None:
    gw = twilio.gateway
    for signature in (None, "bm9wZQ==", twilio.sign("/telephony/twilio/media", {})):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await FakeMediaStream.open(
                gw.http,
                gw.url,
                "wss://gw.example.com/telephony/twilio/media",
                auth_token=AUTH_TOKEN,
                call_sid=new_call_sid(),
                parameters={},
                signature=signature,
            )
        assert refused.value.status == 403


async def test_bad_or_replayed_token_closes_1008_and_costs_no_provider(
    scripted_line: FakeTwilio,
) -> None:
    gw = scripted_line.gateway
    call_sid = new_call_sid()
    fields = scripted_line.call_fields(call_sid, To=SCRIPTED_NUMBER)
    document = await twiml_of(await scripted_line.voice(fields))
    url = document.find("./Connect/Stream").attrib["url"]  # type: ignore[union-attr]
    params = stream_parameters(document)
    for bad in ({**params, "token": params["token"][:-2] + "xx"}, {**params, "session_id": "x"}):
        stream = await FakeMediaStream.open(
            gw.http, gw.url, url, auth_token=AUTH_TOKEN, call_sid=call_sid, parameters=bad
        )
        await stream.wait_closed()
        assert stream.ws.close_code == 1008
    # At most the one the signed voice webhook opened early; a bad stream never opens one.
    assert len(gw.scripted.sessions) <= 1
    good = await FakeMediaStream.open(
        gw.http, gw.url, url, auth_token=AUTH_TOKEN, call_sid=call_sid, parameters=params
    )
    await admitted_session(gw)
    replay = await FakeMediaStream.open(
        gw.http, gw.url, url, auth_token=AUTH_TOKEN, call_sid=call_sid, parameters=params
    )
    await replay.wait_closed()
    assert replay.ws.close_code == 1008
    assert len(gw.scripted.sessions) == 1  # the good stream took the early one
    await good.aclose()


async def test_call_media_both_ways_with_marks(scripted_line: FakeTwilio) -> None:
    gw = scripted_line.gateway
    stream = await dial(scripted_line, SCRIPTED_NUMBER)
    session = await provider_session(gw)
    await stream.send_ulaw(b"\xff" * 160 * 10)  # 200 ms of µ-law silence
    await until(lambda: len(session.audio_in) >= 9 * 960)  # 24 kHz PCM16 reaches the provider
    session.emit(AgentAudio(AGENT_PCM_100MS * 3, "item1"), ResponseDone("item1"))
    await stream.wait_for_audio(2400)  # 300 ms at 8 kHz µ-law
    assert len(stream.received_audio) == 2400  # nothing held back, nothing duplicated
    assert stream.marks_received  # every chunk is followed by a mark
    assert len(set(stream.marks_received)) == len(stream.marks_received)
    await stream.stop()
    await asyncio.wait_for(session.closed.wait(), 2)  # provider released within 2 s
    await stream.aclose()
    view = await gw.request("GET", f"/api/v1/sessions/{session.context.session_id}")
    body = await view.json()
    assert (body["channel"], body["end_reason"]) == ("phone", "caller_hangup")


async def test_provider_barge_in_clears_and_truncates_at_the_played_position(
    scripted_line: FakeTwilio,
) -> None:
    gw = scripted_line.gateway
    stream = await dial(scripted_line, SCRIPTED_NUMBER)
    session = await provider_session(gw)
    session.emit(AgentAudio(AGENT_PCM_100MS * 20, "item1"))  # 2 s of agent speech
    await stream.wait_for_audio(15_800)  # all but the resampler tail and a partial frame
    await stream.play(700)  # the caller has heard 700 ms
    # The carrier socket is read in order: once this digit arrives, so have the mark echoes.
    await stream.send_dtmf("1")
    await until(lambda: bool(session.texts))
    session.emit(CallerSpeechStarted())  # the provider hears the caller talk over it
    await until(lambda: bool(stream.clears))
    await until(lambda: bool(session.interrupts))
    (played_ms,) = session.interrupts
    assert played_ms is not None
    assert 700 - 100 <= played_ms <= 700  # marks come at most every 100 ms
    received = len(stream.received_audio)
    session.emit(AgentAudio(AGENT_PCM_100MS, "item1"))  # stale audio of the cut item
    session.emit(AgentAudio(AGENT_PCM_100MS, "item2"), ResponseDone("item2"))  # the next one
    await stream.wait_for_audio(received + 800)
    await stream.send_dtmf("2")  # a round trip, so anything stale would have arrived by now
    await until(lambda: len(session.texts) == 2)
    assert received + 800 <= len(stream.received_audio) <= received + 960  # item2 only
    await stream.aclose()


async def test_local_vad_barge_in_sends_clear_quickly(scripted_line: FakeTwilio) -> None:
    gw = scripted_line.gateway
    stream = await dial(scripted_line, SCRIPTED_NUMBER)
    session = await provider_session(gw)
    session.emit(AgentAudio(AGENT_PCM_100MS * 30, "item1"))
    await stream.wait_for_audio(23_800)
    speech = speech_ulaw()
    for start in range(0, len(speech), 160):
        await stream.send_ulaw(speech[start : start + 160])
        await asyncio.sleep(0)
        if session.interrupts:
            break
        if not stream.clears:  # the agent pauses at the onset: the caller hears it stop
            clear_frame = start // 160
    assert stream.clears, "the caller talking over the agent must clear the carrier's buffer"
    # the turn is cut once the speech proves to be one (the interruption policy's defaults)
    await until(lambda: bool(session.interrupts))
    assert session.interrupts == [0]  # no mark echoed yet: the caller heard nothing confirmed
    assert len(stream.clears) == 1  # one clear: the pause; the cut needs none
    assert clear_frame * 20 < 1000
    await stream.aclose()


async def test_dtmf_reaches_the_conversation_as_text(scripted_line: FakeTwilio) -> None:
    gw = scripted_line.gateway
    stream = await dial(scripted_line, SCRIPTED_NUMBER)
    session = await provider_session(gw)
    await stream.send_dtmf("5")
    await until(lambda: session.texts == ["The caller pressed 5"])
    await stream.aclose()


async def test_bad_carrier_input_is_ignored_and_the_call_goes_on(scripted_line: FakeTwilio) -> None:
    gw = scripted_line.gateway
    stream = await dial(scripted_line, SCRIPTED_NUMBER)
    session = await provider_session(gw)
    for raw in (
        "{nope",
        json.dumps({"event": "dance"}),
        json.dumps({"event": "media", "media": {"payload": "!!!"}}),
        json.dumps([1, 2]),
        "x" * 60_000,  # big but under the 64 KiB bound (over it closes with 1009: row 26)
    ):
        await stream.send_raw(raw)
    await stream.ws.send_bytes(b"\x00\x01")
    await stream.send_ulaw(b"\xff" * 160)
    await until(lambda: len(session.audio_in) >= 800)  # 20 ms at 24 kHz, less the filter delay
    assert not stream.ws.closed
    await stream.aclose()


async def test_provider_down_at_start_plays_the_apology(scripted_line: FakeTwilio) -> None:
    from gateway.telephony.call_audio import apology_ulaw

    gw = scripted_line.gateway
    gw.scripted.fail_with = ProviderUnavailable("refused")
    stream = await dial(scripted_line, SCRIPTED_NUMBER)
    apology = len(apology_ulaw())
    await stream.wait_for_audio(apology)
    await stream.play(apology // 8 + 20)  # the caller hears it all; the marks come back
    await stream.wait_closed()
    assert len(stream.received_audio) == apology + (-apology % 160)
    await stream.aclose()


async def test_end_call_lets_the_goodbye_play_then_hangs_up(scripted_line: FakeTwilio) -> None:
    gw = scripted_line.gateway
    stream = await dial(scripted_line, SCRIPTED_NUMBER)
    session = await provider_session(gw)
    session.emit(ToolCall("c1", "end_call", {}))
    await until(lambda: bool(session.tool_results))
    session.emit(AgentAudio(AGENT_PCM_100MS * 5, "bye"), ResponseDone("bye"))
    await stream.wait_for_audio(4000)
    assert not stream.closed.is_set()  # the goodbye is still playing
    await stream.play(500)
    await stream.wait_closed()
    document = await twiml_of(
        await scripted_line.action(scripted_line.call_fields(stream.call_sid, To=SCRIPTED_NUMBER))
    )
    assert document.find("Hangup") is not None


async def test_transfer_call_tool_leads_to_a_dial(scripted_line: FakeTwilio) -> None:
    gw = scripted_line.gateway
    stream = await dial(scripted_line, SCRIPTED_NUMBER)
    session = await provider_session(gw)
    assert {t.name for t in session.assistant.tools} >= {"end_call", "transfer_call"}
    session.emit(ToolCall("c1", "transfer_call", {"reason": "sales"}))
    await until(lambda: bool(session.tool_results))
    assert session.tool_results[0][1]["ok"] is True
    session.emit(ResponseDone("handover"))
    await stream.wait_closed()
    document = await twiml_of(
        await scripted_line.action(scripted_line.call_fields(stream.call_sid, To=SCRIPTED_NUMBER))
    )
    dial_verb = document.find("Dial")
    assert dial_verb is not None
    assert "+15550003333" in "".join(dial_verb.itertext())


async def test_a_dropped_socket_ends_the_call_and_frees_the_provider(
    scripted_line: FakeTwilio,
) -> None:
    gw = scripted_line.gateway
    stream = await dial(scripted_line, SCRIPTED_NUMBER)
    session = await provider_session(gw)
    await stream.aclose()  # no stop message: the line just went away
    await asyncio.wait_for(session.closed.wait(), 2)
    await until(lambda: gw.ctx.live.__len__() == 0)
    view = await gw.request("GET", f"/api/v1/sessions/{session.context.session_id}")
    assert (await view.json())["end_reason"] == "caller_hangup"


async def test_a_carrier_stream_gone_quiet_ends_the_call(
    scripted_line: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.telephony import bridge

    monkeypatch.setattr(bridge, "CARRIER_SILENCE_S", 0.3)
    gw = scripted_line.gateway
    stream = await dial(scripted_line, SCRIPTED_NUMBER)
    session = await provider_session(gw)
    # The socket stays open but nothing arrives: a half-open connection, not a hang-up.
    await asyncio.wait_for(stream.wait_closed(), 5)
    await asyncio.wait_for(session.closed.wait(), 2)
    for _ in range(50):
        view = await gw.request("GET", f"/api/v1/sessions/{session.context.session_id}")
        if (body := await view.json())["status"] == "ended":
            break
        await asyncio.sleep(0.1)
    for t in asyncio.all_tasks():
        t.print_stack()
    assert body["end_reason"] == "carrier_lost"


async def test_provider_lost_mid_call_ends_in_the_apology(scripted_line: FakeTwilio) -> None:
    from gateway.telephony.call_audio import apology_ulaw
    from providers.events import ProviderFailed

    gw = scripted_line.gateway
    stream = await dial(scripted_line, SCRIPTED_NUMBER)
    session = await provider_session(gw)
    session.emit(ProviderFailed("connection_lost", "the provider went away"))
    apology = len(apology_ulaw())
    await stream.wait_for_audio(apology)
    await stream.play(apology // 8 + 20)
    await stream.wait_closed()
    view = await gw.request("GET", f"/api/v1/sessions/{session.context.session_id}")
    assert (await view.json())["end_reason"] == "provider_error"


async def test_a_call_to_the_local_demo_plays_the_caller_back(twilio: FakeTwilio) -> None:
    stream = await dial(twilio)  # NUMBER is routed to the local demo assistant
    speech = speech_ulaw()
    await stream.send_ulaw(speech + b"\xff" * 8000)  # the clip, then a second of silence
    # The utterance (from its onset, less the clip's own leading and trailing quiet) comes back.
    await stream.wait_for_audio(int(len(speech) * 0.8))
    await stream.play(len(speech) // 8 + 1000)
    assert len(stream.received_audio) <= len(speech) + 8 * 1000  # at most pre-roll and tail more
    # The bridge's VAD marked the turn and the demo cut the caller's own audio (denoised: the
    # waveform is the caller's, the bytes are not exactly the ones sent).
    assert ulaw_match(speech[8000:12000], bytes(stream.received_audio)) >= 0.9
    await stream.aclose()


async def test_a_call_on_the_local_demo_stores_the_assistants_turns(twilio: FakeTwilio) -> None:
    gw = twilio.gateway
    stream = await dial(twilio)
    speech = speech_ulaw()
    await stream.send_ulaw(speech + b"\xff" * 8000)
    await stream.wait_for_audio(int(len(speech) * 0.8))
    await stream.play(len(speech) // 8 + 1000)
    await stream.aclose()
    page = await (await gw.request("GET", "/api/v1/sessions?limit=1")).json()
    session_id = page["data"][0]["session_id"]
    view: dict[str, object] = {}
    for _ in range(200):  # the call's wrap-up runs after the carrier's socket has closed
        view = await (await gw.request("GET", f"/api/v1/sessions/{session_id}")).json()
        if view["status"] == "ended":
            break
        await asyncio.sleep(0.01)
    await gw.ctx.transcripts.drain()
    path = f"/api/v1/sessions/{session_id}/transcript"
    turns = (await (await gw.request("GET", path)).json())["turns"]
    # The greeting, then the caller's words played back (the demo does not transcribe them).
    assert [t["role"] for t in turns] == ["assistant", "assistant"]
    assert view["total_turns"] == 2
