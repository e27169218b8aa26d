"""The Twilio Media Streams codec against the frames in protocols.md §1.5, and bad input.

The frames are Twilio's own; the events and commands are the carrier seam's neutral ones."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.telephony.carriers.codec import CodecError
from gateway.telephony.carriers.events import (
    ClearAudio,
    DtmfReceived,
    MarkEchoed,
    MediaReceived,
    PlaceMark,
    PlayAudio,
    StreamConnected,
    StreamStarted,
    StreamStopped,
)
from gateway.telephony.twilio_codec import TwilioCodec, decode
from kinds.audio import PCMU_8K

ULAW_20MS = bytes(range(160))
CONNECTED = '{"event":"connected","protocol":"Call","version":"1.0.0"}'
START = """{"event":"start","sequenceNumber":"1","streamSid":"MZ11","start":{
  "streamSid":"MZ11","accountSid":"AC11","callSid":"CA11","tracks":["inbound"],
  "customParameters":{"tenant":"acme","lang":"en-US"},
  "mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}"""
MEDIA = json.dumps(
    {
        "event": "media",
        "sequenceNumber": "3",
        "streamSid": "MZ11",
        "media": {
            "track": "inbound",
            "chunk": "2",
            "timestamp": "40",
            "payload": base64.b64encode(ULAW_20MS).decode(),
        },
    }
)
DTMF = (
    '{"event":"dtmf","sequenceNumber":"9","streamSid":"MZ11",'
    '"dtmf":{"track":"inbound_track","digit":"5"}}'
)
MARK = '{"event":"mark","sequenceNumber":"12","streamSid":"MZ11","mark":{"name":"item_abc:1400"}}'
STOP = (
    '{"event":"stop","sequenceNumber":"200","streamSid":"MZ11",'
    '"stop":{"accountSid":"AC11","callSid":"CA11"}}'
)


def test_decodes_every_documented_frame() -> None:
    assert decode(CONNECTED) == StreamConnected(protocol="Call", version="1.0.0")
    start = decode(START)
    assert start == StreamStarted(
        stream_id="MZ11",
        call_id="CA11",
        custom_parameters={"tenant": "acme", "lang": "en-US"},
        audio=PCMU_8K,
    )
    assert decode(MEDIA) == MediaReceived(payload=ULAW_20MS)
    assert decode(DTMF) == DtmfReceived("5")
    assert decode(MARK) == MarkEchoed("item_abc:1400")
    assert decode(STOP) == StreamStopped()
    assert decode(MEDIA.encode()) == decode(MEDIA)  # bytes frames decode the same


def test_events_dispatch_on_their_kind() -> None:
    kinds = [decode(frame).kind for frame in (CONNECTED, START, MEDIA, DTMF, MARK, STOP)]  # type: ignore[union-attr]
    assert kinds == ["connected", "start", "media", "dtmf", "mark", "stop"]


def _media_with(payload: object) -> str:
    frame = json.loads(MEDIA)
    frame["media"]["payload"] = payload
    return json.dumps(frame)


@pytest.mark.parametrize(
    "frame",
    [
        "",
        "not json",
        "[1, 2]",
        "null",
        '{"event": 5}',
        '{"event": "bogus", "streamSid": "MZ11"}',
        '{"event": "media", "streamSid": "MZ11"}',
        '{"event": "media", "streamSid": "MZ11", "media": []}',
        _media_with("@@not base64@@"),
        _media_with("AAA"),  # bad padding
        _media_with("AA AA"),  # whitespace is skipped by the lenient decoder; not here
        _media_with(160),
        '{"event": "mark", "streamSid": "MZ11", "mark": {}}',
        '{"event": "dtmf", "streamSid": 7, "dtmf": {"digit": "1"}}',
        '{"event": "start", "start": {"callSid": "CA1"}}',
        START.replace('"sampleRate":8000', '"sampleRate":"fast"'),
        START.replace('"sampleRate":8000', '"sampleRate":true'),
        START.replace('{"tenant":"acme","lang":"en-US"}', '{"tenant":1}'),
        MEDIA.replace('"chunk": "2"', '"chunk": "-2"'),
        "[" * 100_000,
        b"\xff\xfe\x00",
    ],
)
def test_bad_frames_decode_to_none(frame: str | bytes) -> None:
    assert decode(frame) is None


@given(st.text(max_size=300))
def test_arbitrary_text_never_raises(text: str) -> None:
    decode(text)


@given(
    st.dictionaries(
        st.sampled_from(["event", "streamSid", "media", "start", "mark"]),
        st.one_of(
            st.none(),
            st.integers(),
            st.text(max_size=5),
            st.sampled_from(["media", "start", "mark", "stop", "dtmf"]),
            st.dictionaries(st.text(max_size=8), st.text(max_size=8)),
        ),
    )
)
def test_arbitrary_objects_never_raise(frame: dict[str, object]) -> None:
    decode(json.dumps(frame))


def encode(command: object) -> bytes:
    return TwilioCodec("MZ11").encode(command)  # type: ignore[arg-type]


def test_encodes_media_mark_and_clear() -> None:
    media = json.loads(encode(PlayAudio(ULAW_20MS)))
    assert media == {
        "event": "media",
        "streamSid": "MZ11",
        "media": {"payload": base64.b64encode(ULAW_20MS).decode()},
    }
    assert json.loads(encode(PlaceMark("item_abc:1400"))) == {
        "event": "mark",
        "streamSid": "MZ11",
        "mark": {"name": "item_abc:1400"},
    }
    assert json.loads(encode(ClearAudio())) == {"event": "clear", "streamSid": "MZ11"}


def test_bad_commands_raise_codec_error() -> None:
    with pytest.raises(CodecError):
        TwilioCodec("")  # a codec is bound to a stream: no stream id, no codec
    for command in (
        PlaceMark(""),
        PlaceMark("x" * 257),
        PlayAudio("text"),  # type: ignore[arg-type]
        "clear",
    ):
        with pytest.raises(CodecError):
            encode(command)
