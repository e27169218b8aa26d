"""BargeInDetector: fast on real speech, silent on noise, tones and clicks."""

from __future__ import annotations

import numpy as np
import pytest

from media.bargein import BargeIn, BargeInDetector
from media.tones import DTMF_HIGH_HZ, DTMF_LOW_HZ, ToneDetector
from tests.media.audio import NOISE_8K, SPEECH_8K, frames, load, manifest, mix, via_ulaw


def _barge_ins(pcm16: bytes, agent_audible: bool = True) -> list[BargeIn]:
    detector = BargeInDetector()
    found = [detector.process_frame(frame, agent_audible) for frame in frames(pcm16)]
    return [barge_in for barge_in in found if barge_in is not None]


@pytest.mark.parametrize("noise", [None, "white_-40dbov_8k.wav", "pink_-40dbov_8k.wav"])
def test_each_phrase_barges_in_soon_after_it_starts(noise: str | None) -> None:
    latencies = []
    for name in SPEECH_8K:
        speech = load(name) if noise is None else mix(load(name), noise)
        found = _barge_ins(via_ulaw(speech))
        onsets = [segment["onset_ms"] for segment in manifest()[name]["segments"]]
        assert len(found) == len(onsets)
        for onset_ms, barge_in in zip(onsets, found, strict=True):
            latencies.append(barge_in.detected_ms - onset_ms)
            # Reported start is where speech began, within a frame (or two under noise).
            assert -20 <= barge_in.speech_start_ms - onset_ms <= 80
    assert float(np.median(latencies)) <= 80 and max(latencies) <= 150


@pytest.mark.parametrize("name", [*NOISE_8K, "dtmf_8k.wav", "click_8k.wav"])
def test_noise_tones_and_clicks_never_barge_in(name: str) -> None:
    assert _barge_ins(via_ulaw(load(name))) == []


def test_a_click_across_a_frame_boundary_does_not_barge_in() -> None:
    clip = np.zeros(8000)
    clip[3990:4030] = np.sin(np.pi * np.arange(40) / 40) * 16000  # 5 ms pop over two frames
    clip[6000] = 30000
    assert _barge_ins(via_ulaw(clip)) == []


def test_no_barge_in_while_the_agent_is_silent() -> None:
    pcm = via_ulaw(load("speech_a_8k.wav"))
    assert _barge_ins(pcm, agent_audible=False) == []


def test_vad_events_are_exposed_for_the_caller() -> None:
    detector = BargeInDetector()
    kinds = []
    for frame in frames(via_ulaw(load("speech_c_8k.wav"))):
        detector.process_frame(frame, agent_audible=False)
        if detector.vad_event is not None:
            kinds.append(detector.vad_event.kind)
    assert kinds == ["speech_started", "speech_stopped"] * 2


def test_tone_detector_knows_every_digit_and_not_speech() -> None:
    detector = ToneDetector(8000)
    t = np.arange(160) / 8000
    for low_hz in DTMF_LOW_HZ:
        for high_hz in DTMF_HIGH_HZ:
            digit = 6000 * np.sin(2 * np.pi * low_hz * t) + 7000 * np.sin(2 * np.pi * high_hz * t)
            assert detector.is_tone(np.round(digit).astype("<i2").tobytes())
    speech = via_ulaw(load("speech_a_8k.wav"))
    assert not any(detector.is_tone(frame) for frame in frames(speech))
    assert detector.tone_fraction(bytes(320)) == 0.0
