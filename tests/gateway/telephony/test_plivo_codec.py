"""The Plivo wire codec: its frames to neutral events, commands to its frames, per-call values
read back from ``extra_headers`` whatever its wrapping, and bad input answered ``None``."""

from __future__ import annotations

import base64
import json

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
    StreamStopped,
)
from gateway.telephony.plivo_codec import CAPABILITIES, PlivoCodec, decode, extra_headers
from kinds.audio import PCM16_8K, PCMA_8K, PCMU_8K

VALUES = {"session_id": "ses_123", "token": "kura_mt_a-b_c", "call_sid": "c0ffee-uuid"}
HEADERS = extra_headers(VALUES)


def _start(extra: object, encoding: str = "audio/x-mulaw") -> str:
    return json.dumps({
        "event": "start", "sequenceNumber": 0, "extra_headers": extra,
        "start": {"callId": "call-1", "streamId": "stream-1", "accountId": "MA1",
                  "tracks": ["inbound"], "mediaFormat": {"encoding": encoding, "sampleRate": 8000}},
    })  # fmt: skip


def test_extra_headers_are_alphanumeric_names_and_hex_values() -> None:
    assert HEADERS.replace(",", "").replace("=", "").isalnum()


@pytest.mark.parametrize(
    "wrapped",
    [HEADERS, json.dumps(dict(pair.split("=") for pair in HEADERS.split(","))),
     ",".join("X-PH-" + pair for pair in HEADERS.split(",")),
     HEADERS.replace(",", ";"), dict(pair.split("=") for pair in HEADERS.split(","))],
    ids=["pairs", "json_string", "x_ph_prefix", "semicolons", "object"],
)  # fmt: skip
def test_the_start_reads_our_values_back_however_plivo_wraps_them(wrapped: object) -> None:
    started = decode(_start(wrapped))
    assert isinstance(started, StreamStarted)
    assert started.custom_parameters == VALUES
    assert (started.stream_id, started.call_id, started.audio) == (
        "stream-1",
        "c0ffee-uuid",
        PCMU_8K,
    )


def test_a_start_without_our_values_has_none_and_l16_has_no_format() -> None:
    started = decode(_start(""))
    assert isinstance(started, StreamStarted) and started.custom_parameters == {}
    assert started.call_id == "call-1"
    l16 = decode(_start(HEADERS, "audio/x-l16"))
    assert isinstance(l16, StreamStarted) and l16.audio is None


def test_the_other_events() -> None:
    payload = base64.b64encode(b"\xff" * 160).decode()
    inner = {"track": "inbound", "timestamp": "60", "chunk": 3, "payload": payload}
    media = {"event": "media", "sequenceNumber": 3, "streamId": "s", "media": inner}
    assert decode(json.dumps(media)) == MediaReceived(b"\xff" * 160)
    dtmf = {"event": "dtmf", "streamId": "s", "dtmf": {"track": "inbound", "digit": "#"}}
    assert decode(json.dumps(dtmf)) == DtmfReceived("#")
    for event in ("playedStream", "played"):
        assert decode(json.dumps({"event": event, "streamId": "s", "name": "i:40"})) == MarkEchoed(
            "i:40"
        )
    assert decode(json.dumps({"event": "clearedAudio", "streamId": "s"})) == PlayoutCleared()
    assert decode(json.dumps({"event": "stop", "streamId": "s"})) == StreamStopped()


@pytest.mark.parametrize(
    "frame",
    ["{nope", "[1]", '{"event": 5}', '{"event":"dance"}', '{"event":"media"}',
     '{"event":"media","media":{"payload":"!!!"}}',
     '{"event":"media","media":{"payload":"AAAA","track":"outbound"}}',
     '{"event":"dtmf","dtmf":{"digit":"xx"}}', '{"event":"playedStream"}',
     '{"event":"start","start":{"streamId":"s"}}',
     '{"event":"media","sequenceNumber":-1,"media":{"payload":"AAAA"}}',
     json.dumps({"event": "start", "extra_headers": "x" * 5000, "start": {}})],
)  # fmt: skip
def test_bad_frames_decode_to_none(frame: str) -> None:
    assert decode(frame) is None


def test_commands_become_plivo_frames() -> None:
    codec = PlivoCodec("stream-1")
    play = json.loads(codec.encode(PlayAudio(b"\x01\x02")))
    assert play == {"event": "playAudio", "media": {"contentType": "audio/x-mulaw",
                    "sampleRate": 8000, "payload": "AQI="}}  # fmt: skip
    assert json.loads(codec.encode(PlaceMark("i:20"))) == {
        "event": "checkpoint", "streamId": "stream-1", "name": "i:20"}  # fmt: skip
    assert json.loads(codec.encode(ClearAudio())) == {"event": "clearAudio", "streamId": "stream-1"}
    with pytest.raises(CodecError):
        codec.encode(PlaceMark(""))
    with pytest.raises(CodecError):
        PlivoCodec("")


def test_capabilities_admit_only_mulaw() -> None:
    assert CAPABILITIES.accepts(PCMU_8K)
    assert not CAPABILITIES.accepts(PCMA_8K) and not CAPABILITIES.accepts(None)
    with pytest.raises(ValueError, match="plivo"):
        CAPABILITIES.for_call(PCM16_8K)
    assert CAPABILITIES.for_call(PCMU_8K) is CAPABILITIES
