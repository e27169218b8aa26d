"""The Telnyx media codec: frames as Telnyx documents them, commands, re-ordering, bad input."""

from __future__ import annotations

import base64
import json
from typing import Any

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
from gateway.telephony.telnyx_codec import ChunkOrder, TelnyxCodec, decode
from kinds.audio import PCMU_8K, AudioFormat

STREAM_ID = "32DE0DEA-53CB-4B21-89A4-9E1819C043BC"
CALL_CONTROL_ID = "v3:MdI91X4lWFEs7IgbBEOT9M4AigoY08M0WWZFISt1Yw2axZ_IiE4pqg"


def frame(event: str, seq: int = 1, **body: Any) -> str:
    return json.dumps({"event": event, "sequence_number": str(seq), "stream_id": STREAM_ID} | body)


def start(encoding: str = "PCMU", rate: int = 8000, **params: str) -> str:
    return frame(
        "start",
        start={
            "user_id": "3e6f995f-85f7-4705-9741-53b116d28237",
            "call_control_id": CALL_CONTROL_ID,
            "client_state": "aGF2ZSBhIG5pY2UgZGF5ID1d",
            "from": "+35319605860",
            "to": "+13129457420",
            "custom_parameters": params,
            "media_format": {"encoding": encoding, "sample_rate": rate, "channels": 1},
        },
    )


def media(chunk: int, payload: bytes, seq: int | None = None) -> str:
    body = {"track": "inbound", "chunk": str(chunk), "timestamp": str(chunk * 20),
            "payload": base64.b64encode(payload).decode()}  # fmt: skip
    return frame("media", chunk + 1 if seq is None else seq, media=body)


def test_the_documented_frames_decode() -> None:
    assert decode('{"event":"connected","version":"1.0.0"}') == StreamConnected("telnyx", "1.0.0")
    started = decode(start(session_id="s1", token="t1"))
    assert started == StreamStarted(
        STREAM_ID, CALL_CONTROL_ID, {"session_id": "s1", "token": "t1"}, PCMU_8K
    )
    assert decode(media(1, b"\xff" * 160)) == MediaReceived(b"\xff" * 160)
    assert decode(frame("dtmf", dtmf={"digit": "#"})) == DtmfReceived("#")
    assert decode(frame("mark", mark={"name": "item1:200"})) == MarkEchoed("item1:200")
    assert decode(frame("stop", stop={"call_control_id": CALL_CONTROL_ID})) == StreamStopped()


def test_the_start_names_the_call_we_answered_and_its_audio() -> None:
    started = decode(start("PCMA", call_sid="v3:texml-call"))
    assert isinstance(started, StreamStarted)
    assert started.call_id == "v3:texml-call"
    assert started.audio == AudioFormat("pcma", 8000)
    listed = json.loads(start())
    listed["start"]["custom_parameters"] = [{"name": "token", "value": "t"}]
    assert decode(json.dumps(listed)).custom_parameters == {"token": "t"}  # type: ignore[union-attr]
    l16 = decode(start("L16", 16000))
    assert l16.audio == AudioFormat("pcm16", 16000)  # type: ignore[union-attr]
    assert decode(start("OPUS", 16000)).audio is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "bad",
    [
        "{nope",
        "[1, 2]",
        json.dumps({"event": "dance"}),
        json.dumps({"event": "error", "payload": {"code": 100003, "title": "malformed"}}),
        frame("media", media={"payload": "!!!", "chunk": "1"}),
        frame("media", media={"payload": "AAA=A", "chunk": "1"}),  # not strict base64
        frame("media", media={"payload": 5}),
        frame("media", media={"payload": "//8=", "track": "outbound"}),
        frame("media", media={"payload": "//8=", "chunk": "-1"}),
        frame("dtmf", dtmf={"digit": "12"}),
        frame("dtmf", dtmf={"digit": "x"}),
        frame("mark", mark={"name": 3}),
        frame("start", start={"call_control_id": CALL_CONTROL_ID}),
        frame("stop", stop="now"),
        json.dumps({"event": "media", "sequence_number": "x1", "media": {"payload": "//8="}}),
    ],
)
def test_bad_frames_decode_to_none(bad: str) -> None:
    assert decode(bad) is None
    assert TelnyxCodec(STREAM_ID).decode(bad) is None


@given(st.binary(max_size=300) | st.text(max_size=300))
def test_decode_never_raises(data: bytes | str) -> None:
    decode(data)
    TelnyxCodec(STREAM_ID).decode(data)


def test_commands_encode_as_telnyx_expects() -> None:
    codec = TelnyxCodec(STREAM_ID)
    assert json.loads(codec.encode(PlayAudio(b"\x00\xff"))) == {
        "event": "media",
        "media": {"payload": base64.b64encode(b"\x00\xff").decode()},
    }
    assert json.loads(codec.encode(PlaceMark("item1:100"))) == {
        "event": "mark",
        "mark": {"name": "item1:100"},
    }
    assert json.loads(codec.encode(ClearAudio())) == {"event": "clear"}
    with pytest.raises(CodecError):
        codec.encode(PlaceMark(""))
    with pytest.raises(CodecError):
        TelnyxCodec("")


def test_media_is_put_back_in_chunk_order() -> None:
    codec = TelnyxCodec(STREAM_ID)
    frames = {n: bytes([n]) * 160 for n in range(1, 8)}
    out = [codec.decode(media(n, frames[n])) for n in (1, 3, 2, 2, 5, 4, 1, 6)]
    payloads = [e.payload for e in out if isinstance(e, MediaReceived)]
    assert b"".join(payloads) == b"".join(frames[n] for n in range(1, 7))
    assert out[1] is None  # 3 waited for 2
    assert (codec.order.held, codec.order.duplicates, codec.order.lost) == (2, 2, 0)


def test_a_frame_lost_for_good_stalls_the_stream_only_for_the_window() -> None:
    order = ChunkOrder(window=3)
    assert order.push(1, b"a") == b"a"
    assert [order.push(n, bytes([96 + n])) for n in (3, 4, 5)] == [None, None, None]
    assert order.push(6, b"f") == b"cdef"  # 2 never came: skipped once four were waiting
    assert order.lost == 1
    assert order.push(2, b"b") is None  # too late now
    assert order.push(7, b"g") == b"g"


def test_frames_without_a_chunk_pass_straight_through() -> None:
    codec = TelnyxCodec(STREAM_ID)
    plain = frame("media", media={"payload": "//8="})
    assert codec.decode(plain) == MediaReceived(b"\xff\xff")
    assert codec.decode(plain) == MediaReceived(b"\xff\xff")
