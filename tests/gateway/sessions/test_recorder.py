"""The recorder's timeline on its own: agent audio placed at "now", gaps, cuts, the WAV header."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gateway.sessions.recording import (
    BATCH_MS,
    HEADER_EVERY_BATCHES,
    RecordingMode,
    SessionRecorder,
)
from kinds.audio import PCM16_24K, PCMU_8K, AudioFormat
from tests.fakes.phone_plan import phone_plan

CALLER_20MS = b"\x00" * 160  # µ-law 0x00: the loudest negative sample
AGENT_20MS = b"\x80" * 160  # µ-law 0x80: the loudest positive sample


def _recorder(path: Path, mode: RecordingMode, fmt: AudioFormat = PCMU_8K) -> SessionRecorder:
    return SessionRecorder(path, phone_plan("t", fmt), mode)


def _channels(path: Path) -> tuple[npt.NDArray[np.int16], npt.NDArray[np.int16]]:
    with wave.open(str(path)) as wav:
        assert wav.getnchannels() == 2
        stereo = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    return stereo[0::2], stereo[1::2]


async def test_agent_audio_is_placed_at_now_and_cut_where_the_caller_stopped_hearing(
    tmp_path: Path,
) -> None:
    recorder = _recorder(tmp_path / "r.wav", "dual")
    for frame in range(12):
        if frame == 2:
            recorder.agent(AGENT_20MS * 3, "a")  # 60 ms, ahead of time
        if frame == 3:
            recorder.cut(30)  # the caller heard 30 ms of "a" (10 ms ahead of "now")
            recorder.agent(AGENT_20MS, "a")  # late audio of a cut item: never heard
        if frame == 8:
            recorder.agent(AGENT_20MS, "b")  # after a silence: placed at "now", not after "a"
        recorder.caller(CALLER_20MS)
    recorder.finish()
    await recorder.run()
    left, right = _channels(tmp_path / "r.wav")
    assert len(left) == 12 * 160
    assert (left < 0).all()
    heard = np.flatnonzero(right)
    a_samples = heard[heard < 6 * 160]
    assert (a_samples[0], len(a_samples)) == (2 * 160, 30 * 8)
    assert (heard[heard >= 6 * 160][0], len(heard[heard >= 6 * 160])) == (8 * 160, 160)


async def test_a_long_recording_has_a_true_header_and_mono_mixes(tmp_path: Path) -> None:
    recorder = _recorder(tmp_path / "m.wav", "mono", PCM16_24K)
    writer = asyncio.create_task(recorder.run())
    # A write that patches the header, and some that do not.
    seconds = HEADER_EVERY_BATCHES * BATCH_MS // 1000 + 2
    for second in range(seconds):
        recorder.agent(b"\x01\x00" * 480, f"item{second}")
        for _ in range(50):
            recorder.caller(b"\x10\x00" * 480)
        await asyncio.sleep(0)  # the writer takes the batch, as the loop would let it
    recorder.finish()
    await writer
    assert recorder.dropped == 0
    with wave.open(str(tmp_path / "m.wav")) as wav:
        assert (wav.getnchannels(), wav.getframerate()) == (1, 24_000)
        assert wav.getnframes() == seconds * 24_000
        mono = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    assert set(np.unique(mono)) == {16, 17}  # caller alone, and caller plus the agent's 20 ms
