"""VoiceActivityDetector on real speech, noise, a DTMF tone and clicks."""

from __future__ import annotations

import numpy as np
import pytest

from media.resample import StreamResampler
from media.vad import SpeechStarted, SpeechStopped, VadConfig, VadEvent, VoiceActivityDetector
from tests.media.audio import NOISE_8K, SPEECH_8K, frames, load, manifest, mix, to_pcm16, via_ulaw


def _check_phrases(events: list[VadEvent], name: str) -> None:
    segments = manifest()[name]["segments"]
    assert [event.kind for event in events] == ["speech_started", "speech_stopped"] * len(segments)
    for segment, started, stopped in zip(segments, events[::2], events[1::2], strict=True):
        assert isinstance(started, SpeechStarted) and isinstance(stopped, SpeechStopped)
        assert abs(started.start_ms - segment["onset_ms"]) <= 20
        assert started.detected_ms - segment["onset_ms"] <= 80
        # Trailing consonants ("that?") fade into silence: the end may come a little early.
        assert segment["offset_ms"] - 150 <= stopped.end_ms <= segment["offset_ms"] + 40
        assert stopped.detected_ms == stopped.end_ms + 500


@pytest.mark.parametrize("name", SPEECH_8K)
def test_onsets_and_offsets_of_each_phrase(name: str) -> None:
    events = VoiceActivityDetector().process(via_ulaw(load(name)))
    _check_phrases(events, name)


@pytest.mark.parametrize("noise", ["white_-40dbov_8k.wav", "pink_-40dbov_8k.wav"])
def test_onsets_under_noise(noise: str) -> None:
    for name in SPEECH_8K:
        events = VoiceActivityDetector().process(via_ulaw(mix(load(name), noise)))
        onsets = [segment["onset_ms"] for segment in manifest()[name]["segments"]]
        starts = [event for event in events if isinstance(event, SpeechStarted)]
        assert len(starts) == len(onsets)
        for onset_ms, start in zip(onsets, starts, strict=True):
            assert 0 <= start.detected_ms - onset_ms <= 150


def test_16khz_stream_resampled_from_24khz_in_odd_chunks() -> None:
    """The local provider's path: 24 kHz agent-side PCM16 -> 16 kHz -> VAD, any chunk size."""
    pcm = to_pcm16(load("speech_a_24k.wav"))
    resampler = StreamResampler(24000, 16000)
    detector = VoiceActivityDetector(VadConfig(sample_rate_hz=16000))
    events: list[VadEvent] = []
    for start in range(0, len(pcm), 1234):
        events += detector.process(resampler.process(pcm[start : start + 1234]))
    events += detector.process(resampler.flush())
    _check_phrases(events, "speech_a_24k.wav")


def test_any_chunking_gives_the_same_events_as_whole_frames() -> None:
    pcm = via_ulaw(load("speech_b_8k.wav"))
    framewise = VoiceActivityDetector()
    expected = [event for frame in frames(pcm) if (event := framewise.process_frame(frame))]
    chunked = VoiceActivityDetector()
    got: list[VadEvent] = []
    for start in range(0, len(pcm), 777):
        got += chunked.process(pcm[start : start + 777])
    assert got == expected


@pytest.mark.parametrize("name", [*NOISE_8K, "dtmf_8k.wav", "click_8k.wav"])
def test_no_speech_in_noise_tones_or_clicks(name: str) -> None:
    assert VoiceActivityDetector().process(via_ulaw(load(name))) == []


def test_a_noise_that_starts_mid_call_is_learned_within_the_noise_memory() -> None:
    noise = load("pink_-30dbov_8k.wav")
    clip = np.concatenate([np.zeros(8000), noise, noise])  # 1 s of silence, then 8 s of noise
    events = VoiceActivityDetector().process(via_ulaw(clip))
    # The sudden noise may pass for speech once, but only until the floor has learned it.
    assert len(events) <= 2
    if events:
        assert isinstance(events[-1], SpeechStopped) and events[-1].end_ms <= 1000 + 2000


def test_the_tone_gate_is_what_keeps_a_held_dtmf_key_out() -> None:
    pcm = via_ulaw(load("dtmf_8k.wav"))
    assert VoiceActivityDetector(VadConfig(reject_tones=False)).process(pcm) != []


def test_10_and_30ms_frames_and_reset() -> None:
    pcm = via_ulaw(load("speech_c_8k.wav"))
    for frame_ms in (10, 30):
        detector = VoiceActivityDetector(VadConfig(frame_ms=frame_ms, min_speech_ms=frame_ms * 2))
        events = detector.process(pcm)
        assert [event.kind for event in events][:2] == ["speech_started", "speech_stopped"]
        detector.reset()
        assert detector.position_ms == 0 and not detector.speaking


@pytest.mark.parametrize(
    "bad",
    [
        {"sample_rate_hz": 24000},
        {"frame_ms": 25},
        {"aggressiveness": 4},
        {"min_speech_ms": 100, "speech_window_ms": 60},
    ],
)
def test_config_is_validated(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        VadConfig(**bad)  # type: ignore[arg-type]
