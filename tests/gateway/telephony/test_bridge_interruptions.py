"""The CallBridge under the interruption policy: pause at the onset, resume with no words lost,
cut the turn at the played position when the caller really takes it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np
import pytest

from gateway.sessions.port import CallerDigit, EndSession, Interrupt
from gateway.sessions.protocol import TranscriptionUpdate, TurnComplete
from gateway.telephony.carriers.events import ClearAudio, PlaceMark, PlayAudio
from gateway.telephony.media_socket import interruption_settings
from kinds.interruption import InterruptionSettings
from media.g711 import ulaw_to_pcm16
from tests.gateway.telephony.carrier_fakes import speech_ulaw
from tests.gateway.telephony.test_bridge import Call, _open

AGENT = bytes(range(16, 116)) * 80  # 1 s of µ-law that is not one constant: positions show
SILENCE = b"\xff" * 160


@pytest.fixture
async def call() -> AsyncIterator[Call]:
    async for opened in _open():
        opened.bridge.configure_audio(InterruptionSettings(), noise_suppression=True)
        yield opened


def _speech_from_onset(ms: int) -> bytes:
    """``ms`` of the speech clip from where it starts, as µ-law."""
    speech = speech_ulaw()
    pcm = np.frombuffer(ulaw_to_pcm16(speech), "<i2")
    onset = int(np.argmax(np.abs(pcm) > 1000)) // 160 * 160
    return speech[onset : onset + ms * 8]


async def _say(call: Call, audio: bytes, then_silence_ms: int = 600) -> None:
    """The caller says ``audio`` then is quiet; returns once the bridge has read it all."""
    audio += SILENCE * (then_silence_ms // 20)
    for start in range(0, len(audio) - 159, 160):
        call.socket.feed("media:" + audio[start : start + 160].hex())
    call.socket.feed("dtmf:1")  # frames are read in order: all are in once this is
    await call.conversation.wait_for(CallerDigit)
    call.conversation.events.remove(CallerDigit("1"))


async def _heard(call: Call, ms: int) -> None:
    """The carrier echoes the marks of the first ``ms`` of agent audio."""
    for mark in call.codec.of_kind(PlaceMark)[: ms // 100]:
        call.socket.feed(f"mark:{mark.name}")


def _played_after_clear(call: Call) -> bytes:
    sent = call.codec.sent
    last_clear = max(i for i, c in enumerate(sent) if isinstance(c, ClearAudio))
    return b"".join(c.audio for c in sent[last_clear:] if isinstance(c, PlayAudio))


async def test_a_backchannel_pauses_then_resumes_where_the_caller_stopped_hearing(
    call: Call,
) -> None:
    await call.bridge.deliver_audio(AGENT, "item-1")
    await _heard(call, 300)
    await _say(call, _speech_from_onset(300))
    assert len(call.codec.of_kind(ClearAudio)) == 1  # paused at the onset: the caller hears it
    assert call.conversation.of_kind(Interrupt) == []  # not a turn: the provider goes on
    assert _played_after_clear(call) == AGENT[300 * 8 :]  # nothing lost, nothing twice


async def test_audio_sent_during_the_pause_follows_on_resume(call: Call) -> None:
    await call.bridge.deliver_audio(AGENT[:4000], "item-1")
    await _heard(call, 200)
    speech = _speech_from_onset(300)
    for start in range(0, 400, 160):  # the onset: the agent pauses
        call.socket.feed("media:" + speech[start : start + 160].hex())
    call.socket.feed("dtmf:2")
    await call.conversation.wait_for(CallerDigit)
    call.conversation.events.remove(CallerDigit("2"))
    assert call.codec.of_kind(ClearAudio)
    await call.bridge.deliver_audio(AGENT[4000:], "item-1")  # the provider goes on meanwhile
    await call.bridge.deliver(TurnComplete(full_input="", full_output=""))
    assert call.codec.sent[-1] == ClearAudio()  # held, not played, while paused
    await _say(call, speech[400:])
    assert _played_after_clear(call) == AGENT[200 * 8 :]
    assert isinstance(call.codec.sent[-1], PlaceMark)  # the turn's end was flushed


async def test_speech_that_goes_on_cuts_the_turn_at_the_heard_position(call: Call) -> None:
    await call.bridge.deliver_audio(AGENT, "item-1")
    await _heard(call, 400)
    await _say(call, _speech_from_onset(1200))
    assert await call.conversation.wait_for(Interrupt) == Interrupt(400)
    assert len(call.codec.of_kind(ClearAudio)) == 1  # the pause's clear; the cut needs none
    assert _played_after_clear(call) == b""
    sent = len(call.codec.sent)
    await call.bridge.deliver_audio(AGENT, "item-1")  # the rest of the cut item
    assert len(call.codec.sent) == sent  # is never played


async def test_provider_speech_start_during_a_pause_is_left_to_the_policy(call: Call) -> None:
    await call.bridge.deliver_audio(AGENT, "item-1")
    await _heard(call, 100)
    speech = _speech_from_onset(300)
    for start in range(0, 480, 160):
        call.socket.feed("media:" + speech[start : start + 160].hex())
    call.socket.feed("dtmf:3")
    await call.conversation.wait_for(CallerDigit)
    call.conversation.events.remove(CallerDigit("3"))
    assert call.codec.of_kind(ClearAudio)  # paused by the policy
    assert await call.bridge.caller_speech_started() is True  # the provider heard it too
    await _say(call, speech[480:])
    assert call.conversation.of_kind(Interrupt) == []  # a backchannel all the same
    assert _played_after_clear(call) == AGENT[100 * 8 :]
    assert await call.bridge.caller_speech_started() is True  # late: still the same sound
    await call.clock.advance(2.0)
    assert await call.bridge.caller_speech_started() is True  # a new sound the policy missed:
    assert await call.conversation.wait_for(Interrupt) == Interrupt(100)  # the provider cuts


def test_stored_settings_become_the_policy() -> None:
    assert interruption_settings({}) == InterruptionSettings()
    stored = {"min_speech_ms": 800, "min_words": 2, "backchannel_filter": "off"}
    assert interruption_settings(stored) == InterruptionSettings(
        min_speech_ms=800, min_words=2, backchannel_filter=False
    )


async def test_streamed_backchannel_words_keep_the_turn(call: Call) -> None:
    await call.bridge.deliver_audio(AGENT, "item-1")
    await _heard(call, 200)
    speech = _speech_from_onset(1200)
    call.socket.feed("media:" + speech[:160].hex())
    call.socket.feed("media:" + speech[160:320].hex())
    call.socket.feed("media:" + speech[320:480].hex())
    call.socket.feed("dtmf:4")
    await call.conversation.wait_for(CallerDigit)
    call.conversation.events.remove(CallerDigit("4"))
    assert call.codec.of_kind(ClearAudio)  # paused
    await call.bridge.deliver(TranscriptionUpdate(source="input", text="mm-hmm"))
    await _say(call, speech[480:])
    assert call.conversation.of_kind(Interrupt) == []  # "mm-hmm" is not a turn, however long
    assert _played_after_clear(call) == AGENT[200 * 8 :]


async def test_a_call_ending_during_a_pause_still_plays_the_last_words(call: Call) -> None:
    await call.bridge.deliver_audio(AGENT, "item-1")
    await call.bridge.deliver(TurnComplete(full_input="", full_output=""))
    await _heard(call, 500)
    speech = _speech_from_onset(100)
    for start in range(0, len(speech) - 159, 160):
        call.socket.feed("media:" + speech[start : start + 160].hex())
    call.socket.feed("dtmf:5")
    await call.conversation.wait_for(CallerDigit)
    assert call.codec.sent[-1] == ClearAudio()  # paused
    call.socket.feed("stop")  # the stream ends before the policy decided
    await call.conversation.wait_for(EndSession)
    call.bridge.hung_up = False  # as if the carrier still listened (an assistant's end_call)
    call.socket.hang_up()  # ... until the last words are sent: finish waits for no echo
    await call.bridge.finish()
    assert _played_after_clear(call) == AGENT[500 * 8 :]
