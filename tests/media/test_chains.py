"""InboundChain and OutboundChain: per-call composition, nothing held back, round-trip quality."""

from __future__ import annotations

import numpy as np

from media.chains import InboundChain, OutboundChain
from media.g711 import ULAW_SILENCE, pcm16_to_ulaw
from media.resample import StreamResampler
from media.vad import VadEvent
from tests.media.audio import frames, load, manifest, to_pcm16


def _band_snr_db(reference: np.ndarray, output: np.ndarray, rate_hz: int = 24000) -> float:
    """SNR in 300-3400 Hz: both signals band-limited by an FFT mask, then compared."""
    freqs = np.fft.rfftfreq(len(reference), 1 / rate_hz)
    mask = (freqs >= 300) & (freqs <= 3400)
    ref = np.fft.irfft(np.fft.rfft(reference) * mask, len(reference))
    out = np.fft.irfft(np.fft.rfft(output) * mask, len(reference))
    return float(10 * np.log10(np.sum(ref**2) / np.sum((out - ref) ** 2)))


def _outbound(chain: OutboundChain, item_id: str, pcm: bytes, chunk_bytes: int) -> bytes:
    batches = []
    for start in range(0, len(pcm), chunk_bytes):
        batches += chain.push(item_id, pcm[start : start + chunk_bytes])
    batches += chain.flush()
    return b"".join(frame for batch in batches for frame in batch.frames)


def test_outbound_flush_holds_nothing_back_and_matches_one_shot() -> None:
    pcm = to_pcm16(load("speech_a_24k.wav"))
    sent = _outbound(OutboundChain(), "item", pcm, 4802)  # odd-sized provider chunks
    one_shot_resampler = StreamResampler(24000, 8000)
    expected = pcm16_to_ulaw(one_shot_resampler.process(pcm) + one_shot_resampler.flush())
    assert len(expected) == -(-len(pcm) // 2 // 3)  # every sample of the turn, no more
    assert sent[: len(expected)] == expected
    assert set(sent[len(expected) :]) <= {ULAW_SILENCE} and len(sent) % 160 == 0


def test_round_trip_snr_on_speech_is_near_the_mulaw_ceiling() -> None:
    speech = load("speech_a_24k.wav")
    sent = _outbound(OutboundChain(), "item", to_pcm16(speech), 960)
    inbound = InboundChain()
    received = b"".join(inbound.process(frame, False).audio for frame in frames(sent, 160))
    received += inbound.flush()
    out = np.frombuffer(received, "<i2")[: len(speech)].astype(np.float64)
    # Both resamplers are zero-phase: no delay to align.
    assert _band_snr_db(speech, out) >= 37.0


def test_inbound_chain_returns_24khz_and_barge_in() -> None:
    ulaw = pcm16_to_ulaw(to_pcm16(load("speech_b_8k.wav")))
    chain = InboundChain()
    results = [chain.process(frame, agent_audible=True) for frame in frames(ulaw, 160)]
    # 20 ms in, 20 ms out at 24 kHz, except the first frame which is short by the filter delay.
    assert 960 - len(results[0].audio) <= 2 * 24 * chain.resampler.delay_ms + 2
    assert all(len(result.audio) == 960 for result in results[1:])
    barge_ins = [result.barge_in for result in results if result.barge_in]
    onsets = [segment["onset_ms"] for segment in manifest()["speech_b_8k.wav"]["segments"]]
    assert [
        abs(b.speech_start_ms - onset) <= 20 for b, onset in zip(barge_ins, onsets, strict=True)
    ]
    kinds = [result.vad_event.kind for result in results if result.vad_event]
    assert kinds == ["speech_started", "speech_stopped"] * 2


def test_inbound_chain_frames_odd_sized_input_for_the_vad() -> None:
    ulaw = pcm16_to_ulaw(to_pcm16(load("speech_c_8k.wav")))
    whole, odd = InboundChain(), InboundChain()
    expected = [r.vad_event for f in frames(ulaw, 160) if (r := whole.process(f, False)).vad_event]
    got: list[VadEvent] = []
    for start in range(0, len(ulaw), 100):
        result = odd.process(ulaw[start : start + 100], False)
        if result.vad_event:
            got.append(result.vad_event)
    assert got == expected


def test_outbound_item_change_flushes_the_previous_item_first() -> None:
    chain = OutboundChain()
    first = chain.push("a", bytes(2 * 700))  # 700 samples at 24 kHz: ~233 at 8 kHz
    second = chain.push("b", bytes(2 * 4800))
    items = [batch.mark.item_id for batch in first + second]
    assert items[0] == "a" and items[-1] == "b" and items == sorted(items)
    a_marks = [batch.mark for batch in first + second if batch.mark.item_id == "a"]
    assert a_marks[-1].audio_end_ms == 700 // 24  # 29 ms: all of item a, rounded down


def test_clear_reports_heard_ms_and_drops_the_resampler_tail() -> None:
    chain = OutboundChain()
    batches = chain.push("a", bytes(2 * 24000))  # one second
    assert chain.audible
    chain.on_mark(batches[2].mark.name)
    assert chain.clear() == {"a": 300}
    assert not chain.audible and chain.flush() == []
    fresh = chain.push("b", bytes(2 * 480 * 10))
    assert sum(len(batch.frames) for batch in fresh) == 9  # 200 ms minus the 1.7 ms filter delay
