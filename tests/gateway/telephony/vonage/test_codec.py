"""The Vonage websocket codec: binary audio as is, JSON events, commands; bad input → None."""

from __future__ import annotations

import audioop
import json

import orjson
import pytest

from gateway.telephony.carriers.codec import CodecError
from gateway.telephony.carriers.events import (
    ClearAudio,
    DtmfReceived,
    MarkEchoed,
    MediaReceived,
    PlaceMark,
    PlayAudio,
    PlayoutCleared,
    StreamStarted,
)
from gateway.telephony.vonage_codec import (
    VonageCodec,
    answer_rate,
    capabilities,
    decode,
    preferred_rate,
)
from kinds.audio import PCM16_8K, PCM16_16K, PCM16_24K, PCMA_8K, PCMU_8K


def test_the_connected_message_names_the_call_format_and_headers() -> None:
    event = decode(json.dumps({"event": "websocket:connected",
                               "content-type": "audio/l16;rate=16000",
                               "session_id": "s1", "token": "t", "call_uuid": "u-1",
                               "extra": 5}))  # fmt: skip
    assert event == StreamStarted(
        stream_id="u-1", call_id="u-1",
        custom_parameters={"session_id": "s1", "token": "t", "call_uuid": "u-1"},
        audio=PCM16_16K,
    )  # fmt: skip
    unknown = decode(json.dumps({"event": "websocket:connected", "content-type": "audio/pcmu"}))
    assert isinstance(unknown, StreamStarted) and unknown.audio is None


def test_binary_frames_are_the_audio_itself() -> None:
    frame = bytes(range(256)) * 2 + b"\x01" * 128
    event = decode(frame)
    assert isinstance(event, MediaReceived) and event.payload is frame
    assert decode(b"\x00\x01\x02") is None  # half a sample
    assert decode(b"") is None


def test_events() -> None:
    assert decode('{"event":"websocket:dtmf","digit":"7","duration":260}') == DtmfReceived("7")
    assert decode('{"event":"websocket:dtmf","dtmf":{"digit":"*"}}') == DtmfReceived("*")
    assert decode('{"event":"websocket:notify","payload":{"mark":"i:40"}}') == MarkEchoed("i:40")
    assert decode('{"event":"websocket:cleared"}') == PlayoutCleared()


@pytest.mark.parametrize(
    "frame",
    ["{", "[]", "null", '{"event":5}', '{"event":"websocket:dtmf","digit":"x"}',
     '{"event":"websocket:dtmf"}', '{"event":"websocket:notify","payload":{}}',
     '{"event":"websocket:notify"}', '{"event":"websocket:error"}', "\ud800",
     json.dumps({"event": "websocket:connected", **{f"h{i}": "v" for i in range(40)}})],
)  # fmt: skip
def test_hostile_text_is_none(frame: str) -> None:
    assert decode(frame) is None


def test_commands() -> None:
    codec = VonageCodec("u-1")
    audio = b"\x10\x27" * 480
    assert codec.encode(PlayAudio(audio)) is audio  # no copy, no JSON, no base64
    assert codec.encode(PlayAudio(bytearray(b"\x00\x01"))) == b"\x00\x01"
    assert orjson.loads(codec.encode(PlaceMark("i:20"))) == {
        "action": "notify", "payload": {"mark": "i:20"}}  # fmt: skip
    assert orjson.loads(codec.encode(ClearAudio())) == {"action": "clear"}
    with pytest.raises(CodecError):
        codec.encode(PlaceMark(""))
    with pytest.raises(CodecError):
        codec.encode(PlayAudio("text"))  # type: ignore[arg-type]
    with pytest.raises(CodecError):
        VonageCodec("")


def test_capabilities() -> None:
    record = capabilities(24_000)
    assert (record.audio, record.frames, record.marks, record.clear, record.dtmf) == (
        PCM16_24K, "binary", True, True, True)  # fmt: skip
    with pytest.raises(ValueError, match="not supported"):
        capabilities(8_000)


def test_the_rate_asked_for_is_the_one_the_provider_needs_least_resampling_for() -> None:
    openai = ((PCM16_24K, PCMU_8K, PCMA_8K), (PCM16_24K, PCMU_8K, PCMA_8K))
    gemini = ((PCM16_16K,), (PCM16_24K,))
    assert preferred_rate(*openai) == 24_000  # nothing resampled either way
    assert preferred_rate(*gemini) == 16_000  # the caller's side, all call long, is as is
    assert preferred_rate((PCM16_8K,), (PCMU_8K,)) == 24_000  # neither: the default
    assert preferred_rate((PCM16_8K,), (PCMU_8K,), default=16_000) == 16_000


def test_l16_at_8khz_is_a_ulaw_call_companded_at_the_edge() -> None:
    connected = decode(json.dumps({"event": "websocket:connected", "call_uuid": "u-1",
                                   "content-type": "audio/l16;rate=8000"}))  # fmt: skip
    assert isinstance(connected, StreamStarted) and connected.audio == PCMU_8K
    codec = VonageCodec.for_stream(connected)
    pcm = audioop.ulaw2lin(bytes(range(256)) * 5, 2)[:320]  # 20 ms of 8 kHz L16
    event = codec.decode(pcm)
    assert isinstance(event, MediaReceived) and event.payload == audioop.lin2ulaw(pcm, 2)
    assert codec.decode(b"\x00\x01\x02") is None  # half a sample
    ulaw = bytes(range(160))
    assert codec.encode(PlayAudio(ulaw)) == audioop.ulaw2lin(ulaw, 2)  # 320 bytes of L16
    assert codec.decode('{"event":"websocket:cleared"}') == PlayoutCleared()


def test_the_answer_asks_for_8khz_where_the_provider_takes_and_speaks_ulaw() -> None:
    assert answer_rate((PCM16_24K, PCMU_8K), (PCM16_24K, PCMU_8K)) == 8_000  # OpenAI, local
    assert answer_rate((PCM16_16K,), (PCM16_24K,)) == 16_000  # Gemini: as preferred_rate
    assert answer_rate((PCM16_24K, PCMU_8K), (PCM16_24K,)) == 24_000  # µ-law in only
