"""The carrier seam: Twilio's frames byte for byte, its start event's audio format, the
registry, and the generic media socket route."""

from __future__ import annotations

import asyncio
import base64

import aiohttp
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from gateway.telephony.carriers.events import ClearAudio, PlaceMark, PlayAudio, StreamStarted
from gateway.telephony.carriers.registry import StartParameters, carrier_registry
from gateway.telephony.service import twilio_carrier
from gateway.telephony.twilio_codec import CAPABILITIES, TwilioCodec, decode
from kinds.audio import PCM16_16K, PCMA_8K, PCMU_8K
from tests.fakes.twilio_media import FakeMediaStream
from tests.gateway.telephony.conftest import (
    AUTH_TOKEN,
    FakeTwilio,
    new_call_sid,
    stream_parameters,
    twiml_of,
)


@given(st.text(min_size=1, max_size=40), st.binary(max_size=400), st.text(min_size=1, max_size=256))
def test_twilio_frames_are_the_bytes_of_the_documented_objects(
    sid: str, audio: bytes, mark: str
) -> None:
    """What the codec sends is exactly what ``orjson.dumps`` made of each frame's object before
    the seam, whatever the stream id holds (quotes, controls, non-ASCII)."""
    codec = TwilioCodec(sid)
    payload = base64.b64encode(audio).decode()
    media = {"event": "media", "streamSid": sid, "media": {"payload": payload}}
    assert codec.encode(PlayAudio(audio)) == orjson.dumps(media)
    expected_mark = {"event": "mark", "streamSid": sid, "mark": {"name": mark}}
    assert codec.encode(PlaceMark(mark)) == orjson.dumps(expected_mark)
    assert codec.encode(ClearAudio()) == orjson.dumps({"event": "clear", "streamSid": sid})


def _start(encoding: str, rate: int, channels: int = 1) -> StreamStarted | None:
    frame = {
        "event": "start",
        "streamSid": "MZ1",
        "start": {
            "streamSid": "MZ1",
            "callSid": "CA1",
            "customParameters": {},
            "mediaFormat": {"encoding": encoding, "sampleRate": rate, "channels": channels},
        },
    }
    event = decode(orjson.dumps(frame))
    assert event is None or isinstance(event, StreamStarted)
    return event


def test_the_start_event_names_the_stream_audio_format() -> None:
    assert _start("audio/x-mulaw", 8000).audio == PCMU_8K  # type: ignore[union-attr]
    assert _start("audio/x-alaw", 8000).audio == PCMA_8K  # type: ignore[union-attr]
    assert _start("audio/x-l16", 16000).audio == PCM16_16K  # type: ignore[union-attr]
    assert _start("audio/x-mulaw", 8000, channels=2).audio is None  # type: ignore[union-attr]
    assert _start("audio/opus", 48000).audio is None  # type: ignore[union-attr]


def test_the_registry_knows_each_carrier_once() -> None:
    twilio = twilio_carrier(None)
    assert twilio.handshake is None  # not configured: its media socket answers 503
    assert twilio.capabilities == CAPABILITIES
    assert carrier_registry(twilio) == {"twilio": twilio}
    with pytest.raises(ValueError):
        carrier_registry(twilio, twilio)
    started = StreamStarted("MZ1", "CA1", {"session_id": "s1", "token": "t1"}, PCMU_8K)
    assert StartParameters().read(started) == ("s1", "t1")
    assert StartParameters().read(StreamStarted("MZ1", "CA1", {}, PCMU_8K)) == ("", "")


async def test_an_unknown_carrier_has_no_media_socket(twilio: FakeTwilio) -> None:
    gw = twilio.gateway
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await gw.http.ws_connect(gw.url.rstrip("/") + "/telephony/nope/media")
    assert refused.value.status == 404


async def test_a_stream_in_another_audio_format_is_refused_and_keeps_its_token(
    twilio: FakeTwilio,
) -> None:
    gw = twilio.gateway
    call_sid = new_call_sid()
    document = await twiml_of(await twilio.voice(twilio.call_fields(call_sid)))
    url = document.find("./Connect/Stream").attrib["url"]  # type: ignore[union-attr]
    params = stream_parameters(document)
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, {})
    path = "/" + url.split("/", 3)[3]
    ws = await gw.http.ws_connect(
        gw.url.rstrip("/") + path, headers={"X-Twilio-Signature": signature}
    )
    start = {
        "streamSid": "MZ" + "0" * 32,
        "callSid": call_sid,
        "customParameters": params,
        "mediaFormat": {"encoding": "audio/x-alaw", "sampleRate": 8000, "channels": 1},
    }
    await ws.send_str(orjson.dumps({"event": "start", "streamSid": "MZ1", "start": start}).decode())
    await ws.receive()
    assert ws.close_code == 1008
    good = await FakeMediaStream.open(
        gw.http, gw.url, url, auth_token=AUTH_TOKEN, call_sid=call_sid, parameters=params
    )
    for _ in range(500):  # admitted: its session goes live
        if len(gw.ctx.live) or good.ws.closed:
            break
        await asyncio.sleep(0.01)
    assert len(gw.ctx.live) == 1
    assert not good.ws.closed
    await good.aclose()
