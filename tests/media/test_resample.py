"""StreamResampler: continuity across chunks, exact sample accounting, frequency response."""

from __future__ import annotations

import numpy as np
import pytest

from media.resample import StreamResampler

PAIRS = [(8000, 24000), (24000, 8000), (24000, 16000), (16000, 24000), (16000, 8000), (8000, 16000)]


def _noise(seconds: float, rate_hz: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rng.standard_normal(int(seconds * rate_hz)) * 6000, -32768, 32767).astype("<i2")


def _tone(freq_hz: float, seconds: float, rate_hz: int, amplitude: float = 10000.0) -> np.ndarray:
    t = np.arange(int(seconds * rate_hz)) / rate_hz
    return np.round(amplitude * np.sin(2 * np.pi * freq_hz * t)).astype("<i2")


def _run(resampler: StreamResampler, pcm: np.ndarray, chunk_sizes: list[int]) -> np.ndarray:
    data = pcm.tobytes()
    parts, position = [], 0
    for size in chunk_sizes:
        parts.append(resampler.process(data[position : position + 2 * size]))
        position += 2 * size
    parts.append(resampler.process(data[position:]))
    parts.append(resampler.flush())
    return np.frombuffer(b"".join(parts), "<i2")


def _rms_db(samples: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(samples.astype(np.float64) ** 2) + 1e-12))


@pytest.mark.parametrize(("in_rate_hz", "out_rate_hz"), PAIRS)
def test_chunked_output_equals_one_shot_output(in_rate_hz: int, out_rate_hz: int) -> None:
    pcm = _noise(1.5, in_rate_hz)
    one_shot = _run(StreamResampler(in_rate_hz, out_rate_hz), pcm, [])
    rng = np.random.default_rng(in_rate_hz + out_rate_hz)
    for _ in range(3):
        sizes = rng.integers(0, 700, size=len(pcm) // 300).tolist()
        chunked = _run(StreamResampler(in_rate_hz, out_rate_hz), pcm, sizes)
        assert np.array_equal(chunked, one_shot)
    assert len(one_shot) == -(-len(pcm) * out_rate_hz // in_rate_hz)


@pytest.mark.parametrize(("in_rate_hz", "out_rate_hz"), [(8000, 24000), (24000, 8000)])
def test_an_hour_of_20ms_frames_does_not_drift(in_rate_hz: int, out_rate_hz: int) -> None:
    resampler = StreamResampler(in_rate_hz, out_rate_hz)
    frame = _noise(0.02, in_rate_hz).tobytes()
    out_frame = out_rate_hz // 50
    produced = 0
    for index in range(1, 3600 * 50 + 1):
        produced += len(resampler.process(frame)) // 2
        # Never more than the filter delay (plus one sample) behind the exact ratio.
        assert 0 <= index * out_frame - produced <= resampler.delay_ms * out_rate_hz / 1000 + 1
    produced += len(resampler.flush()) // 2
    assert produced == 3600 * 50 * out_frame


def test_output_lags_input_by_the_stated_delay_only() -> None:
    resampler = StreamResampler(24000, 8000)
    assert resampler.delay_ms <= 5.0
    first = resampler.process(bytes(960))  # 20 ms in
    assert 160 - len(first) // 2 <= resampler.delay_ms * 8 + 1


@pytest.mark.parametrize(("in_rate_hz", "out_rate_hz"), PAIRS)
def test_an_impulse_comes_out_where_it_went_in(in_rate_hz: int, out_rate_hz: int) -> None:
    pcm = np.zeros(in_rate_hz // 10, "<i2")
    position = in_rate_hz // 50  # 20 ms: a whole number of samples at every rate
    pcm[position] = 20000
    out = _run(StreamResampler(in_rate_hz, out_rate_hz), pcm, [])
    assert int(np.argmax(np.abs(out))) == position * out_rate_hz // in_rate_hz


@pytest.mark.parametrize(("in_rate_hz", "out_rate_hz"), PAIRS)
def test_the_telephone_band_passes_flat(in_rate_hz: int, out_rate_hz: int) -> None:
    for freq_hz in (300.0, 1000.0, 3400.0):
        pcm = _tone(freq_hz, 0.5, in_rate_hz)
        out = _run(StreamResampler(in_rate_hz, out_rate_hz), pcm, [480] * 20)
        gain_db = _rms_db(out[800:-800]) - _rms_db(pcm[800:-800])
        assert abs(gain_db) < 0.02, (freq_hz, gain_db)


def test_tones_above_4khz_do_not_alias_into_the_8khz_band() -> None:
    pcm = _tone(5000, 1.0, 24000, 8000) + _tone(7000, 1.0, 24000, 8000)
    out = _run(StreamResampler(24000, 8000), pcm, [480] * 50)
    assert _rms_db(out[100:-100]) - _rms_db(pcm) <= -60.0


def test_8khz_images_are_removed_when_upsampling() -> None:
    pcm = _tone(1000, 1.0, 8000)
    out = _run(StreamResampler(8000, 24000), pcm, [160] * 50)
    spectrum = np.abs(np.fft.rfft(out[1000:-1000] * np.hanning(len(out) - 2000)))
    freqs = np.fft.rfftfreq(len(out) - 2000, 1 / 24000)
    image = spectrum[freqs > 4600].max()
    assert 20 * np.log10(image / spectrum.max()) <= -60.0


def test_flush_drains_the_filter_then_the_stream_starts_afresh() -> None:
    turn = _noise(0.33, 24000, seed=1)
    resampler = StreamResampler(24000, 8000)
    first = _run(resampler, turn, [480] * 10)
    assert len(first) == -(-len(turn) // 3)
    assert resampler.flush() == b""
    second = _run(resampler, turn, [480] * 10)
    assert np.array_equal(first, second)


def test_full_scale_input_saturates_instead_of_wrapping() -> None:
    square = np.where(np.arange(2400) % 48 < 24, 32767, -32768).astype("<i2")
    out = _run(StreamResampler(24000, 8000), square, [])
    # Gibbs overshoot clips to the rails; a wrap-around would flip the sign mid-plateau.
    assert out.max() == 32767 and out.min() == -32768
    highs, lows = out[4::16][1:-1], out[12::16][1:-1]  # plateau centres, away from the ends
    assert np.all(highs > 25000) and np.all(lows < -25000)


def test_same_rate_passes_through_and_odd_input_is_rejected() -> None:
    resampler = StreamResampler(8000, 8000)
    assert resampler.process(b"\x01\x02\x03\x04") == b"\x01\x02\x03\x04"
    assert resampler.flush() == b"" and resampler.delay_ms == 0.0
    with pytest.raises(ValueError, match="even"):
        StreamResampler(8000, 24000).process(b"\x00")
    with pytest.raises(ValueError, match="unsupported"):
        StreamResampler(44100, 8000)
