"""The VAD's decimator (wideband carriers → 8 kHz): whole frames from the first, the same
samples the VAD had from ``StreamResampler``, and so the same VAD decisions on the corpus."""

from __future__ import annotations

import numpy as np
import pytest

from media.chains import _filter_delay_silence
from media.decimate import Decimator
from media.resample import StreamResampler
from media.vad import VadEvent, VoiceActivityDetector
from tests.media.audio import NOISE_8K, SPEECH_8K, Samples, load, mix, to_pcm16

RATES = (16000, 24000)


def _pcm(data: bytes) -> np.ndarray:
    return np.frombuffer(data, np.int16).astype(np.int64)


def _upsampled(samples: Samples, rate_hz: int) -> bytes:
    resampler = StreamResampler(8000, rate_hz)
    return resampler.process(to_pcm16(samples)) + resampler.flush()


def _white(level_dbov: float, seconds: float, seed: int) -> Samples:
    noise = np.random.default_rng(seed).standard_normal(int(24000 * seconds))
    return noise * 32768 * 10 ** (level_dbov / 20)


def _corpus() -> dict[str, tuple[bytes, int]]:
    """Every speech fixture, alone and under every noise, at 16 and 24 kHz; the 24 kHz speech
    fixture (real energy above 4 kHz) alone and under white noise made at 24 kHz."""
    signals = {"speech_a_24k": (to_pcm16(load("speech_a_24k.wav")), 24000)}
    for name in SPEECH_8K:
        for rate in RATES:
            signals[f"{name}@{rate}"] = (_upsampled(load(name), rate), rate)
            for noise in NOISE_8K:
                signals[f"{name}+{noise}@{rate}"] = (_upsampled(mix(load(name), noise), rate), rate)
    speech = load("speech_a_24k.wav")
    for seed, level in enumerate((-30.0, -40.0, -50.0)):
        white = _white(level, len(speech) / 24000, seed)
        signals[f"white{level:.0f}@24000"] = (to_pcm16(white), 24000)
        signals[f"speech_a_24k+white{level:.0f}"] = (to_pcm16(speech + white), 24000)
    return signals


def _vad_run(pcm: bytes, rate_hz: int, resampler: Decimator | StreamResampler) -> tuple[
    list[VadEvent], list[int]
]:  # fmt: skip
    """VAD events and each frame's voiced ms, fed in 20 ms carrier frames as the chain does."""
    vad, data = VoiceActivityDetector(), _filter_delay_silence(resampler)
    events: list[VadEvent] = []
    voiced: list[int] = []
    size = 2 * rate_hz // 50
    for start in range(0, len(pcm) - size + 1, size):
        data += resampler.process(pcm[start : start + size])
        while len(data) >= 320:
            frame, data = data[:320], data[320:]
            if (event := vad.process_frame(frame)) is not None:
                events.append(event)
            voiced.append(vad.frame_voiced_ms)
    return events, voiced


@pytest.mark.parametrize("rate_hz", RATES)
def test_a_frame_in_is_a_frame_out_from_the_first(rate_hz: int) -> None:
    decimator = Decimator(rate_hz, 8000)
    assert _filter_delay_silence(decimator) == b""  # nothing held back: no re-framing
    frame = bytes(2 * rate_hz // 50)
    assert [len(decimator.process(frame)) for _ in range(3)] == [320, 320, 320]


@pytest.mark.parametrize("rate_hz", RATES)
def test_chunking_does_not_change_the_output(rate_hz: int) -> None:
    audio = _upsampled(load("speech_b_8k.wav"), rate_hz)
    one_shot = _pcm(Decimator(rate_hz, 8000).process(audio))
    chunked = Decimator(rate_hz, 8000)
    sizes = [2, 962, 6, 40000, 318, 4]  # odd sample counts leave partial groups waiting
    parts, start = [], 0
    while start < len(audio):
        size = sizes[len(parts) % len(sizes)]
        parts.append(chunked.process(audio[start : start + size]))
        start += size
    joined = _pcm(b"".join(parts))
    assert len(joined) == len(one_shot) == len(audio) // 2 // (rate_hz // 8000)
    assert np.abs(joined - one_shot).max() <= 1  # BLAS may add in another order


@pytest.mark.parametrize("rate_hz", RATES)
def test_the_vad_gets_the_samples_it_had_from_the_stream_resampler(rate_hz: int) -> None:
    """Same kernel, same alignment (behind its delay silence): within 1 LSB, sample for sample."""
    audio = (
        to_pcm16(load("speech_a_24k.wav"))
        if rate_hz == 24000
        else _upsampled(load("speech_a_8k.wav"), rate_hz)
    )
    before = StreamResampler(rate_hz, 8000)
    old = _pcm(_filter_delay_silence(before) + before.process(audio))
    new = _pcm(Decimator(rate_hz, 8000).process(audio))
    count = min(len(old), len(new))
    assert count > 8000 * 5
    assert np.abs(old[:count] - new[:count]).max() <= 1


def test_vad_decisions_are_unchanged_on_the_corpus() -> None:
    corpus = _corpus()
    assert len(corpus) == 37
    for name, (pcm, rate_hz) in corpus.items():
        before = _vad_run(pcm, rate_hz, StreamResampler(rate_hz, 8000))
        after = _vad_run(pcm, rate_hz, Decimator(rate_hz, 8000))
        assert after == before, name


def test_full_scale_input_clips_instead_of_wrapping() -> None:
    """A full-scale 1 kHz square overshoots past int16 once low-passed (Gibbs): clipped, the
    middle of each half keeps its sign (a wrap would flip it)."""
    square = np.tile(np.r_[np.full(12, 32767), np.full(12, -32768)], 400).astype("<i2")
    decimator = Decimator(24000, 8000)
    out = _pcm(decimator.process(square.tobytes()))
    assert out.max() == 32767 and out.min() == -32768
    lag = round(decimator.delay_ms * 24)  # input samples
    for n in range(40, len(out)):
        phase = (3 * n - lag) % 24  # where in the square output n is centred
        if 3 <= phase <= 8:
            assert out[n] > 20000, n
        elif 15 <= phase <= 20:
            assert out[n] < -20000, n


@pytest.mark.parametrize(("rate_in", "rate_out"), [(22050, 8000), (8000, 8000), (8000, 16000)])
def test_only_whole_factors_down_are_taken(rate_in: int, rate_out: int) -> None:
    with pytest.raises(ValueError, match="whole multiple"):
        Decimator(rate_in, rate_out)


def test_odd_byte_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="even number of bytes"):
        Decimator(24000, 8000).process(b"\x00\x01\x02")
