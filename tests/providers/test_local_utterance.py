"""End-of-utterance detection (webrtcvad with hysteresis) on a real speech clip."""

from __future__ import annotations

from typing import Any

import pytest

from providers.local import utterance
from providers.local.utterance import (
    UtteranceDetector,
    UtteranceEnded,
    UtteranceEvent,
    UtteranceSettings,
    UtteranceStarted,
)
from tests.providers.local_helpers import (
    BYTES_PER_MS,
    chunks,
    silence,
    speech_clip,
    voiced_span_ms,
)


def feed_all(detector: UtteranceDetector, audio: bytes, size_bytes: int) -> list[UtteranceEvent]:
    events: list[UtteranceEvent] = []
    for piece in chunks(audio, size_bytes):
        events.extend(detector.feed(piece))
    return events


def test_one_utterance_is_found_with_preroll_and_trimmed_silence() -> None:
    clip = speech_clip()
    settings = UtteranceSettings()
    audio = silence(500) + clip + silence(1500)
    events = feed_all(UtteranceDetector(settings=settings), audio, 960)

    assert [type(e) for e in events] == [UtteranceStarted, UtteranceEnded]
    ended = events[1]
    assert isinstance(ended, UtteranceEnded) and not ended.capped
    played_ms = len(ended.audio) / BYTES_PER_MS
    speech_ms = voiced_span_ms(clip)
    # Pre-roll before the onset and a short tail after the last voiced frame, give or take the
    # VAD's own judgement of where quiet speech starts and ends.
    assert speech_ms + settings.preroll_ms - 100 <= played_ms
    assert played_ms <= speech_ms + settings.preroll_ms + settings.tail_ms + 400
    # The audio really is the clip (shifted by the pre-roll), not something resampled.
    assert clip[48_000:49_000] in ended.audio


def test_chunk_size_does_not_change_the_result() -> None:
    audio = silence(300) + speech_clip() + silence(1000)
    by_frame = feed_all(UtteranceDetector(), audio, 960)
    by_odd_pieces = feed_all(UtteranceDetector(), audio, 333)
    assert by_frame == by_odd_pieces


def test_silence_gives_no_events() -> None:
    assert feed_all(UtteranceDetector(), silence(3000), 960) == []


def test_long_speech_is_capped_then_waits_for_a_pause() -> None:
    clip = speech_clip()
    settings = UtteranceSettings(max_utterance_ms=3000)
    detector = UtteranceDetector(settings=settings)
    # Back-to-back repetitions: the gaps are shorter than silence_ms, so it is one long turn.
    events = feed_all(detector, clip * 3, 960)

    assert isinstance(events[0], UtteranceStarted)
    ended = events[1]
    assert isinstance(ended, UtteranceEnded) and ended.capped
    assert len(ended.audio) == 3000 * BYTES_PER_MS
    # No new turn starts while the caller keeps talking past the cap.
    assert len(events) == 2
    assert detector.speaking is False
    after_pause = feed_all(detector, silence(1000) + clip + silence(1000), 960)
    assert [type(e) for e in after_pause] == [UtteranceStarted, UtteranceEnded]


def test_one_resampler_serves_the_whole_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    created: list[Any] = []
    real = utterance.StreamResampler

    def counting(*args: Any, **kwargs: Any) -> Any:
        created.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(utterance, "StreamResampler", counting)
    detector = UtteranceDetector()
    feed_all(detector, silence(200) + speech_clip() + silence(1000), 960)
    assert created == [(24_000, 16_000)]


def test_client_marks_cut_the_audio_without_a_vad_of_its_own() -> None:
    # A call's µ-law, one byte per sample at 8 kHz: kept and cut as is, never analysed.
    settings = UtteranceSettings(preroll_ms=100, tail_ms=50)
    detector = UtteranceDetector(8000, settings, own_vad=False, sample_bytes=1)
    audio = bytes(range(256)) * 40  # 1280 ms of distinct bytes, so offsets are checkable
    assert detector.feed(audio[:4800]) == []  # 600 ms: speech began 80 ms before the end
    assert detector.started(80) == [UtteranceStarted()]
    assert detector.started(0) == []  # already speaking
    assert detector.feed(audio[4800:]) == []
    events = detector.stopped(480)  # speech ended 800 ms into the stream
    assert len(events) == 1 and isinstance(events[0], UtteranceEnded)
    # From the onset (520 ms) less the 100 ms pre-roll to the end (800 ms) plus the 50 ms tail.
    assert events[0].audio == audio[420 * 8 : 850 * 8]
    assert detector.stopped(0) == []  # nothing in progress


def test_own_vad_needs_pcm16() -> None:
    with pytest.raises(ValueError, match="PCM16"):
        UtteranceDetector(8000, sample_bytes=1)
