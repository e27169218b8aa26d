"""Telnyx calls end to end over loopback: signed TeXML webhook → media socket → the bridge →
a provider and back, with marks, barge-in, DTMF, hang-up, the apology and re-ordered media."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.telephony.call_audio import apology_ulaw
from providers.errors import ProviderUnavailable
from providers.events import AgentAudio, CallerSpeechStarted, ResponseDone
from tests.fakes.telnyx_media import FakeTelnyxStream
from tests.gateway.telephony.carrier_fakes import ulaw_match
from tests.gateway.telephony.conftest import (
    TELNYX_NUMBER,
    FakeTelnyx,
    new_telnyx_call_sid,
    stream_parameters,
    twiml_of,
)
from tests.gateway.telephony.test_media_stream import (
    AGENT_PCM_100MS,
    admitted_session,
    provider_session,
    speech_ulaw,
    until,
)

SCRIPTED = "+445550009999"


async def dial(telnyx: FakeTelnyx, number: str = SCRIPTED, **kwargs: Any) -> FakeTelnyxStream:
    call_sid = new_telnyx_call_sid()
    document = await twiml_of(await telnyx.voice(telnyx.call_fields(call_sid, To=number)))
    stream = document.find("./Connect/Stream")
    assert stream is not None
    return await FakeTelnyxStream.dial(
        telnyx.gateway.http, telnyx.gateway.url, stream.attrib["url"],
        call_sid=call_sid, parameters=stream_parameters(document), **kwargs,
    )  # fmt: skip


@pytest.fixture
async def line(telnyx: FakeTelnyx) -> AsyncIterator[FakeTelnyx]:
    """SCRIPTED routed (on Telnyx) to an assistant on the scripted provider."""
    gw = telnyx.gateway
    assistant_id = await gw.use_scripted_assistant()
    await gw.ctx.store.numbers.create(
        {"number": SCRIPTED, "assistant_id": assistant_id, "carrier": "telnyx"}, gw.clock.now()
    )
    yield telnyx


async def test_a_bad_or_replayed_token_closes_1008_and_costs_no_provider(line: FakeTelnyx) -> None:
    gw = line.gateway
    call_sid = new_telnyx_call_sid()
    document = await twiml_of(await line.voice(line.call_fields(call_sid, To=SCRIPTED)))
    url = document.find("./Connect/Stream").attrib["url"]  # type: ignore[union-attr]
    params = stream_parameters(document)
    for bad in ({**params, "token": params["token"][:-2] + "xx"}, {**params, "session_id": "x"},
                {k: v for k, v in params.items() if k != "token"}):  # fmt: skip
        stream = await FakeTelnyxStream.dial(
            gw.http, gw.url, url, call_sid=call_sid, parameters=bad
        )
        await stream.wait_closed()
        assert stream.ws.close_code == 1008
    # At most the one the signed voice webhook opened early; a bad stream never opens one.
    assert len(gw.scripted.sessions) <= 1
    good = await FakeTelnyxStream.dial(gw.http, gw.url, url, call_sid=call_sid, parameters=params)
    await admitted_session(gw)
    replay = await FakeTelnyxStream.dial(gw.http, gw.url, url, call_sid=call_sid, parameters=params)
    await replay.wait_closed()
    assert replay.ws.close_code == 1008
    assert len(gw.scripted.sessions) == 1
    await good.aclose()


async def test_an_unknown_encoding_is_refused_and_costs_no_provider(line: FakeTelnyx) -> None:
    stream = await dial(line, encoding="OPUS")
    await stream.wait_closed()
    assert stream.ws.close_code == 1008
    assert line.gateway.scripted.sessions == []


async def test_a_full_call_with_marks_and_hang_up(line: FakeTelnyx) -> None:
    gw = line.gateway
    stream = await dial(line)
    session = await provider_session(gw)
    await stream.send_ulaw(b"\xff" * 160 * 10)
    await until(lambda: len(session.audio_in) >= 9 * 960)
    session.emit(AgentAudio(AGENT_PCM_100MS * 3, "item1"), ResponseDone("item1"))
    await stream.wait_for_audio(2400)
    assert len(stream.received_audio) == 2400
    assert stream.marks_received and len(set(stream.marks_received)) == len(stream.marks_received)
    await stream.stop()
    await asyncio.wait_for(session.closed.wait(), 2)
    await stream.aclose()
    view = await (await gw.request("GET", f"/api/v1/sessions/{session.context.session_id}")).json()
    assert (view["channel"], view["end_reason"], view["metadata"]["carrier"]) == (
        "phone", "caller_hangup", "telnyx")  # fmt: skip


async def test_barge_in_clears_and_truncates_at_the_played_position(line: FakeTelnyx) -> None:
    gw = line.gateway
    stream = await dial(line)
    session = await provider_session(gw)
    session.emit(AgentAudio(AGENT_PCM_100MS * 20, "item1"))
    await stream.wait_for_audio(15_800)
    await stream.play(700)
    await stream.send_dtmf("1")  # read in order: the mark echoes are in before this digit
    await until(lambda: session.texts == ["The caller pressed 1"])
    session.emit(CallerSpeechStarted())
    await until(lambda: bool(stream.clears) and bool(session.interrupts))
    (played_ms,) = session.interrupts
    assert played_ms is not None and 600 <= played_ms <= 700
    received = len(stream.received_audio)
    session.emit(AgentAudio(AGENT_PCM_100MS, "item1"))  # stale audio of the cut item
    session.emit(AgentAudio(AGENT_PCM_100MS, "item2"), ResponseDone("item2"))
    await stream.wait_for_audio(received + 800)
    await stream.send_dtmf("2")
    await until(lambda: len(session.texts) == 2)
    assert received + 800 <= len(stream.received_audio) <= received + 960  # item2 only
    await stream.aclose()


async def test_out_of_order_and_duplicated_media_reach_the_provider_in_order(
    line: FakeTelnyx,
) -> None:
    gw = line.gateway
    stream = await dial(line)
    session = await provider_session(gw)
    order = [1, 3, 2, 2, 4, 6, 5, 5, 7, 8, 1, 9, 10]
    for chunk in order:
        await stream.send_raw(stream.media_frame(chunk, b"\xff" * 160))
    await stream.send_dtmf("9")  # a round trip: every frame before it has been handled
    await until(lambda: bool(session.texts))
    # Ten distinct 20 ms frames, each once: 10 * 480 samples at 24 kHz, less the filter delay.
    assert 9 * 960 <= len(session.audio_in) <= 10 * 960
    await stream.aclose()


async def test_bad_input_is_ignored_and_the_call_goes_on(line: FakeTelnyx) -> None:
    gw = line.gateway
    stream = await dial(line)
    session = await provider_session(gw)
    for raw in ("{nope", json.dumps({"event": "dance"}), json.dumps([1]), "x" * 60_000,
                json.dumps({"event": "media", "media": {"payload": "!!!"}}),
                json.dumps({"event": "error", "payload": {"code": 100003}})):  # fmt: skip
        await stream.send_raw(raw)
    await stream.ws.send_bytes(b"\x00\x01")
    await stream.send_ulaw(b"\xff" * 160)
    await until(lambda: len(session.audio_in) >= 800)
    assert not stream.ws.closed
    await stream.aclose()


async def test_provider_down_plays_the_apology(line: FakeTelnyx) -> None:
    line.gateway.scripted.fail_with = ProviderUnavailable("refused")
    stream = await dial(line)
    apology = len(apology_ulaw())
    await stream.wait_for_audio(apology)
    await stream.play(apology // 8 + 20)
    await stream.wait_closed()
    assert len(stream.received_audio) == apology + (-apology % 160)
    await stream.aclose()


async def test_the_local_demo_plays_the_caller_back(telnyx: FakeTelnyx) -> None:
    stream = await dial(telnyx, TELNYX_NUMBER)
    speech = speech_ulaw()
    await stream.send_ulaw(speech + b"\xff" * 8000)
    await stream.wait_for_audio(int(len(speech) * 0.8))
    await stream.play(len(speech) // 8 + 1000)
    assert ulaw_match(speech[8000:12000], bytes(stream.received_audio)) >= 0.9  # denoised
    await stream.aclose()
