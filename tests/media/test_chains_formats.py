"""The chains per carrier format: A-law, L16 at 8/16/24 kHz beside µ-law.

Framing, marks and played position in each format's bytes per ms; passthrough identity; the
A-law PCM path's round-trip quality; barge-in on A-law and L16 speech made from the fixtures.
"""

from __future__ import annotations

import numpy as np
import pytest

from kinds.audio import PCM16_8K, PCM16_16K, PCM16_24K, PCMA_8K, PCMU_8K, AudioFormat
from media.chains import InboundChain, OutboundChain
from media.formats import CARRIER_FORMATS, check_format, convert, decoder, silence_byte
from media.g711 import alaw_to_pcm16, pcm16_to_alaw, pcm16_to_ulaw
from media.resample import StreamResampler
from media.vad import VadEvent
from tests.media.audio import frames, load, manifest, to_pcm16
from tests.media.test_chains import _band_snr_db

FORMAT_IDS = [f"{fmt.encoding}_{fmt.sample_rate_hz // 1000}k" for fmt in CARRIER_FORMATS]


def _speech(name: str, fmt: AudioFormat) -> bytes:
    """An 8 kHz speech fixture as a carrier in ``fmt`` sends it."""
    return convert(to_pcm16(load(name)), PCM16_8K, fmt)


def _frame_bytes(fmt: AudioFormat) -> int:
    return 20 * fmt.bytes_per_ms


@pytest.mark.parametrize("fmt", CARRIER_FORMATS, ids=FORMAT_IDS)
def test_passthrough_is_identity_both_ways(fmt: AudioFormat) -> None:
    speech = _speech("speech_a_8k.wav", fmt)
    inbound = InboundChain(fmt, fmt)
    for frame in frames(speech, _frame_bytes(fmt))[:50]:
        assert inbound.process(frame, False).audio is frame  # not even copied
    assert inbound.flush() == b""
    outbound = OutboundChain(fmt, fmt)
    sent = [f for b in outbound.push("item", speech[:12345]) + outbound.flush() for f in b.frames]
    played = b"".join(sent)
    assert played[:12345] == speech[:12345]
    assert set(played[12345:]) == {silence_byte(fmt)}
    assert all(len(frame) == _frame_bytes(fmt) for frame in sent)


@pytest.mark.parametrize("fmt", CARRIER_FORMATS, ids=FORMAT_IDS)
def test_marks_and_played_position_count_milliseconds_in_every_format(fmt: AudioFormat) -> None:
    chain = OutboundChain(PCM16_24K, fmt)
    batches = chain.push("a", bytes(2 * 24000))  # one second of agent audio at 24 kHz
    assert all(len(frame) == _frame_bytes(fmt) for b in batches for frame in b.frames)
    ends = [b.mark.audio_end_ms for b in batches]
    assert ends[:3] == [100, 200, 300] and ends[-1] >= 980  # less the resampler's delay
    chain.on_mark(batches[2].mark.name)
    assert chain.tracker.played_ms("a") == 300
    assert chain.clear() == {"a": 300}


def test_outbound_alaw_matches_one_shot_and_pads_with_alaw_silence() -> None:
    pcm = to_pcm16(load("speech_a_24k.wav"))
    chain = OutboundChain(PCM16_24K, PCMA_8K)
    batches = [b for i in range(0, len(pcm), 4802) for b in chain.push("i", pcm[i : i + 4802])]
    sent = b"".join(f for b in batches + chain.flush() for f in b.frames)
    one_shot = StreamResampler(24000, 8000)
    expected = pcm16_to_alaw(one_shot.process(pcm) + one_shot.flush())
    assert sent[: len(expected)] == expected
    assert set(sent[len(expected) :]) <= {0xD5} and len(sent) % 160 == 0


def test_alaw_round_trip_through_the_pcm_path_keeps_37_db() -> None:
    speech = load("speech_a_24k.wav")
    pcm = to_pcm16(speech)
    outbound, inbound = OutboundChain(PCM16_24K, PCMA_8K), InboundChain(PCMA_8K, PCM16_24K)
    batches = [b for i in range(0, len(pcm), 960) for b in outbound.push("i", pcm[i : i + 960])]
    sent = b"".join(f for b in batches + outbound.flush() for f in b.frames)
    received = b"".join(inbound.process(frame, False).audio for frame in frames(sent, 160))
    received += inbound.flush()
    out = np.frombuffer(received, "<i2")[: len(speech)].astype(np.float64)
    assert _band_snr_db(speech, out) >= 37.0


def test_inbound_converts_to_any_port_format() -> None:
    alaw = _speech("speech_b_8k.wav", PCMA_8K)[:1600]
    to_ulaw = InboundChain(PCMA_8K, PCMU_8K)
    got = b"".join(to_ulaw.process(frame, False).audio for frame in frames(alaw, 160))
    assert got == pcm16_to_ulaw(alaw_to_pcm16(alaw))  # same rate: a transcode, nothing held
    l16 = _speech("speech_b_8k.wav", PCM16_24K)[: 960 * 10]
    to_16k = InboundChain(PCM16_24K, PCM16_16K)
    out = [to_16k.process(frame, False).audio for frame in frames(l16, 960)]
    assert all(len(chunk) == 640 for chunk in out[1:])  # 20 ms at 16 kHz after the first


def _vad_events(fmt: AudioFormat, name: str) -> list[VadEvent]:
    chain = InboundChain(fmt, fmt)
    results = [chain.process(f, True) for f in frames(_speech(name, fmt), _frame_bytes(fmt))]
    return [r.vad_event for r in results if r.vad_event]


@pytest.mark.parametrize("fmt", [PCMA_8K, PCM16_8K, PCM16_16K, PCM16_24K], ids=FORMAT_IDS[1:])
def test_barge_in_on_speech_in_every_format(fmt: AudioFormat) -> None:
    name = "speech_b_8k.wav"
    chain = InboundChain(fmt, PCM16_24K)
    results = [chain.process(f, True) for f in frames(_speech(name, fmt), _frame_bytes(fmt))]
    barge_ins = [r.barge_in for r in results if r.barge_in]
    onsets = [segment["onset_ms"] for segment in manifest()[name]["segments"]]
    assert len(barge_ins) == len(onsets)
    for barge_in, onset in zip(barge_ins, onsets, strict=True):
        assert abs(barge_in.speech_start_ms - onset) <= 20
        assert barge_in.detected_ms - onset <= 100
    # The same turns as a µ-law call of the same speech, to within a frame.
    ulaw = _vad_events(PCMU_8K, name)
    got = _vad_events(fmt, name)
    assert [e.kind for e in got] == [e.kind for e in ulaw]
    assert all(abs(a.detected_ms - b.detected_ms) <= 20 for a, b in zip(got, ulaw, strict=True))


def test_vad_at_another_rate_takes_whole_frames_from_the_first() -> None:
    """An L16 carrier is resampled for the VAD; the filter's delay is silence up front, so every
    carrier frame is exactly one VAD frame and nothing waits between frames."""
    for fmt in (PCM16_16K, PCM16_24K):
        chain = InboundChain(fmt, fmt)
        for frame in frames(_speech("speech_a_8k.wav", fmt), _frame_bytes(fmt))[:10]:
            chain.process(frame, False)
            assert chain.barge_in.vad.position_ms % 20 == 0
        assert chain.barge_in.vad.position_ms == 200


def test_formats_table() -> None:
    assert [silence_byte(fmt) for fmt in (PCMU_8K, PCMA_8K, PCM16_16K)] == [0xFF, 0xD5, 0x00]
    for fmt in CARRIER_FORMATS:  # silence decodes to (almost) zero in every format
        pcm = np.frombuffer(decoder(fmt)(bytes([silence_byte(fmt)]) * 4), "<i2")
        assert np.abs(pcm).max() <= 8
    with pytest.raises(ValueError):
        check_format(AudioFormat("pcmu", 16_000))
    ulaw = bytes(range(256)) * 4
    assert len(convert(ulaw, PCMU_8K, PCM16_24K)) == 2 * 3 * len(ulaw)
    assert convert(ulaw, PCMU_8K, PCMU_8K) is ulaw
