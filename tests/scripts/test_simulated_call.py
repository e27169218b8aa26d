"""The simulator's Twilio behaviour against a fake gateway over loopback (at 20× speed)."""

from __future__ import annotations

import base64
import re

import pytest
from twilio.request_validator import RequestValidator

from scripts.twilio_sim.audio import FRAME_BYTES, SILENCE_BYTE, speech_clip
from scripts.twilio_sim.media_session import InboundPlan
from tests.scripts.conftest import SPEED, call
from tests.scripts.fake_gateway import AUTH_TOKEN, PARAMETERS, FakeGateway, MediaPeer, Received

CLIP = speech_clip("speech_a_8k.wav", phrases=1)  # 3.2 s: one phrase and its tail
BARGE = speech_clip("speech_b_8k.wav", phrases=1)
AGENT_AUDIO = SILENCE_BYTE * 4000  # 0.5 s
PACING_SPEED = 5.0  # slow enough that a drifting sleep-per-frame loop would show


def _started(r: Received) -> bool:
    return r.event == "start"


async def test_webhook_and_upgrade_are_signed_the_twilio_way() -> None:
    async with FakeGateway().running() as gateway:
        result = await call(gateway, InboundPlan(CLIP, duration_s=1.0))
    assert result.failure is None, result.failure
    (voice, action) = gateway.webhooks
    assert voice[0] == "/telephony/twilio/voice" and voice[2]
    fields = voice[1]
    assert re.fullmatch(r"CA[0-9a-f]{32}", fields["CallSid"])
    assert re.fullmatch(r"AC[0-9a-f]{32}", fields["AccountSid"])
    assert fields["CallStatus"] == "ringing" and fields["Direction"] == "inbound"
    assert (fields["From"], fields["To"], fields["ApiVersion"]) == (
        "+15550001111",
        "+15550002222",
        "2010-04-01",
    )
    signature, valid = gateway.upgrades[0]
    assert valid
    validator = RequestValidator(AUTH_TOKEN)
    assert validator.validate(gateway.media_url, {}, signature)
    assert not validator.validate(gateway.media_url.replace("ws://", "http://"), {}, signature)
    assert action[0] == "/telephony/twilio/action" and action[2]
    assert action[1]["CallSid"] == fields["CallSid"] and action[1]["CallStatus"] == "completed"
    assert result.action is not None and "Goodbye" in result.action.text


async def test_start_and_media_frames_have_twilios_shape_and_pacing() -> None:
    async with FakeGateway().running() as gateway:
        result = await call(gateway, InboundPlan(CLIP, duration_s=2.0), speed=PACING_SPEED)
    peer = gateway.peers[0]
    first, start = peer.received[0].message, peer.received[1].message
    assert first == {"event": "connected", "protocol": "Call", "version": "1.0.0"}
    assert start["event"] == "start" and start["sequenceNumber"] == "1"
    body = start["start"]
    assert body["customParameters"] == PARAMETERS
    assert body["mediaFormat"] == {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}
    assert body["tracks"] == ["inbound"]
    assert body["callSid"] == result.identity.call_sid and body["streamSid"].startswith("MZ")
    media = peer.of("media")
    assert len(media) == 100  # 2 s of 20 ms frames
    for k, item in enumerate(media):
        frame = item.message["media"]
        assert (frame["track"], frame["chunk"], frame["timestamp"]) == (
            "inbound",
            str(k + 1),
            str(k * 20),
        )
        assert base64.b64decode(frame["payload"]) == base64.b64decode(CLIP.frames_b64[k])
        assert len(base64.b64decode(frame["payload"])) == 160
    sequence = [int(r.message["sequenceNumber"]) for r in peer.received[1:]]
    assert sequence == list(range(1, len(sequence) + 1))  # one counter over every message
    assert peer.received[-1].event == "stop"
    assert peer.received[-1].message["stop"]["callSid"] == result.identity.call_sid
    # Paced on a schedule fixed at the start: frame k leaves at k·20 ms of call time, so the
    # span of 100 frames is 1.98 s of call time, however late single wake-ups were.
    span_s = (media[-1].at - media[0].at) * PACING_SPEED
    assert 99 * 0.020 * 0.98 <= span_s <= 99 * 0.020 + 0.15
    offsets = sorted(item.at * PACING_SPEED - k * 0.020 for k, item in enumerate(media))
    assert offsets[89] - offsets[0] < 0.1  # 9 in 10 frames within 100 ms of their schedule


async def test_mark_is_echoed_only_after_its_audio_has_played() -> None:
    sent: dict[str, float] = {}

    async def say_then_mark(peer: MediaPeer) -> None:
        await peer.wait_for(_started)
        for i in range(0, len(AGENT_AUDIO), FRAME_BYTES):
            await peer.send_media(AGENT_AUDIO[i : i + FRAME_BYTES])
        sent["mark"] = await peer.send_mark("item1:500")

    async with FakeGateway(script=say_then_mark).running() as gateway:
        result = await call(gateway, InboundPlan(CLIP, duration_s=2.0), record_max_s=5)
    peer = gateway.peers[0]
    echo = await peer.wait_for(lambda r: r.event == "mark")
    assert echo.message["mark"] == {"name": "item1:500"}
    played_s = (echo.at - sent["mark"]) * SPEED
    assert 0.5 - 0.03 <= played_s <= 0.5 + 0.15
    assert result.session is not None and result.session.marks_echoed == 1
    assert result.session.first_agent_audio_ms is not None
    assert len(result.recording) >= len(AGENT_AUDIO)


async def test_clear_drops_queued_audio_and_echoes_every_pending_mark_at_once() -> None:
    cleared: dict[str, float] = {}

    async def script(peer: MediaPeer) -> None:
        await peer.wait_for(_started)
        await peer.send_media(b"\x00" * 8000 * 3)  # 3 s queued
        await peer.send_mark("a")
        await peer.send_media(b"\x00" * 8000)
        await peer.send_mark("b")
        await peer.wait_for(lambda r: r.message.get("media", {}).get("chunk") == "25")  # 0.5 s
        cleared["at"] = await peer.send_clear()

    async with FakeGateway(script=script).running() as gateway:
        result = await call(gateway, InboundPlan(CLIP, duration_s=2.0), record_max_s=10)
    marks = gateway.peers[0].of("mark")
    assert [m.message["mark"]["name"] for m in marks] == ["a", "b"]
    assert all((m.at - cleared["at"]) * SPEED < 0.1 for m in marks)  # not 3.5 s later
    heard_s = len(result.recording) / 8000
    assert 0.4 <= heard_s <= 0.7  # what played before the clear, and nothing after it
    assert result.session is not None and len(result.session.clear_times) == 1


async def test_barge_in_sends_the_clip_at_its_time_and_times_the_clear() -> None:
    plan = InboundPlan(CLIP, duration_s=3.0, barge_in_at_s=1.0, barge_clip=BARGE)
    onset_chunk = str(50 + 600 // 20 + 1)  # frame 80: the clip starts at 1.0 s, voiced at +0.6

    async def script(peer: MediaPeer) -> None:
        await peer.wait_for(_started)
        await peer.send_media(b"\x00" * 8000 * 5)
        await peer.wait_for(lambda r: r.message.get("media", {}).get("chunk") == onset_chunk)
        await peer.send_clear()

    async with FakeGateway(script=script).running() as gateway:
        result = await call(gateway, plan)
    media = gateway.peers[0].of("media")
    assert media[50].message["media"]["payload"] == BARGE.frames_b64[0]
    assert media[49].message["media"]["payload"] == CLIP.frames_b64[49]
    assert result.session is not None
    onset_to_clear = result.session.clear_after_onset_ms
    assert onset_to_clear is not None and 0 <= onset_to_clear < 100


async def test_dtmf_digits_are_sent_as_events_at_their_time() -> None:
    plan = InboundPlan(CLIP, duration_s=2.0, dtmf=(("5", 0.5), ("#", 1.5)))
    async with FakeGateway().running() as gateway:
        result = await call(gateway, plan)
    received = gateway.peers[0].received
    dtmf = [(i, r.message) for i, r in enumerate(received) if r.event == "dtmf"]
    assert [m["dtmf"] for _, m in dtmf] == [
        {"track": "inbound_track", "digit": "5"},
        {"track": "inbound_track", "digit": "#"},
    ]
    for (index, _), at_ms in zip(dtmf, (500, 1500), strict=True):
        assert received[index + 1].message["media"]["timestamp"] == str(at_ms)
    assert result.session is not None and result.session.dtmf_sent == 2


@pytest.mark.parametrize("token", ["wrong-token"])
async def test_a_refused_webhook_is_a_failure_with_its_status(token: str) -> None:
    async with FakeGateway().running() as gateway:
        result = await call(gateway, InboundPlan(CLIP, duration_s=1.0), auth_token=token)
    assert result.failure == "webhook HTTP 403"
    assert not result.held


async def test_the_gateway_closing_early_is_a_failure() -> None:
    async def script(peer: MediaPeer) -> None:
        await peer.wait_for(_started)
        await peer.ws.close()

    async with FakeGateway(script=script).running() as gateway:
        result = await call(gateway, InboundPlan(CLIP, duration_s=2.0))
    assert result.failure is not None and "closed the media socket early" in result.failure
    assert result.session is not None and result.session.closed_by == "gateway"
    action = gateway.webhooks[-1]
    assert action[0].endswith("/action") and action[1]["CallStatus"] == "in-progress"
