"""A dual recording of a phone call matches what the fake carrier sent and played."""

from __future__ import annotations

import io
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from pydantic import SecretStr

from kinds.clock import SystemClock
from media.g711 import ulaw_to_pcm16
from media.resample import StreamResampler
from providers.events import AgentAudio, CallerSpeechStarted
from tests.gateway.conftest import Gateway, start_gateway
from tests.gateway.telephony.conftest import AUTH_TOKEN, PUBLIC_URL, FakeTwilio
from tests.gateway.telephony.test_media_stream import (
    SCRIPTED_NUMBER,
    dial,
    provider_session,
    speech_ulaw,
    until,
)

TONE_1S = (np.sin(2 * np.pi * 440 * np.arange(24_000) / 24_000) * 8000).astype(np.int16).tobytes()


@pytest.fixture
async def recorded_line(tmp_path: Path) -> AsyncIterator[FakeTwilio]:
    async for gw in start_gateway(
        tmp_path,
        SystemClock(),
        twilio_auth_token=SecretStr(AUTH_TOKEN),
        public_url=PUBLIC_URL,
        recordings_dir=str(tmp_path / "recordings"),
    ):
        assistant_id = await gw.use_scripted_assistant(recording="dual")
        await gw.ctx.store.numbers.create(
            {"number": SCRIPTED_NUMBER, "assistant_id": assistant_id, "carrier": "twilio"},
            gw.clock.now(),
        )
        yield FakeTwilio(gw)


def _pcm_8k(pcm_24k: bytes) -> npt.NDArray[np.float64]:
    resampler = StreamResampler(24_000, 8_000)
    out = resampler.process(pcm_24k) + resampler.flush()
    return np.frombuffer(out, dtype=np.int16).astype(np.float64)


def _best_correlation(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
    """The highest normalised correlation of ``a`` and ``b`` over lags of ±10 ms."""
    best = 0.0
    for lag in range(-80, 81):
        x, y = (a[lag:], b) if lag >= 0 else (a, b[-lag:])
        n = min(len(x), len(y))
        x, y = x[:n] - x[:n].mean(), y[:n] - y[:n].mean()
        denominator = float(np.sqrt((x * x).sum() * (y * y).sum())) or 1.0
        best = max(best, float((x * y).sum()) / denominator)
    return best


async def _recording(gw: Gateway, session_id: str) -> tuple[bytes, bytes, int]:
    storage = gw.ctx.runner.recordings
    assert storage is not None
    await until(lambda: len(gw.ctx.live) == 0)  # the runner has stored the recording
    stored = await storage.fetch(session_id)
    assert stored is not None
    data = b"".join([chunk async for chunk in stored.chunks])
    with wave.open(io.BytesIO(data)) as wav:
        rate = wav.getframerate()
        assert wav.getnchannels() == 2
        stereo = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    return stereo[0::2].tobytes(), stereo[1::2].tobytes(), rate


# The caller channel records what the provider heard: the denoised caller when the denoiser is
# on; here it is off, so the channel can be matched sample for sample with what was sent.
@pytest.mark.usefixtures("plain_audio")
async def test_the_recording_is_what_the_carrier_sent_and_played(
    recorded_line: FakeTwilio,
) -> None:
    gw = recorded_line.gateway
    call = await dial(recorded_line, SCRIPTED_NUMBER)
    provider = await provider_session(gw)
    caller = speech_ulaw()[: 160 * 50]  # 1 s of the caller's speech
    await call.send_ulaw(caller)
    await provider.audio_at_least(len(caller) * 6 - 2400)  # at 24 kHz, less the resampler tail
    provider.emit(AgentAudio(TONE_1S, "item1"))
    await call.wait_for_audio(7000)
    await call.play(300)  # the caller hears 300 ms of it, then talks over it
    await call.send_dtmf("1")  # the mark echoes are in before this
    await until(lambda: bool(provider.texts))
    provider.emit(CallerSpeechStarted())
    await until(lambda: bool(provider.interrupts))
    provider.emit(AgentAudio(TONE_1S[:4800], "item1"))  # stale: never played, never recorded
    await call.send_ulaw(b"\xff" * 160 * 25)  # 500 ms more of the caller (silence)
    await provider.audio_at_least(len(caller) * 6 + 160 * 25 * 6 - 4800)
    played_ms = provider.interrupts[0]
    assert played_ms is not None
    await call.stop()
    await call.aclose()
    left, right, rate = await _recording(gw, provider.context.session_id)
    assert rate == 24_000
    # Left: the caller, as sent (µ-law 8 kHz), sample for sample but for the resampling.
    sent = np.frombuffer(ulaw_to_pcm16(caller), dtype=np.int16).astype(np.float64)
    assert _best_correlation(_pcm_8k(left)[: len(sent)], sent) > 0.9
    # Right: the tone for as long as the carrier played it, and nothing of the cut rest.
    heard = np.flatnonzero(np.frombuffer(right, dtype=np.int16))
    heard_ms = (heard[-1] - heard[0] + 1) * 1000 / rate
    assert abs(heard_ms - played_ms) <= 25
    received = np.frombuffer(ulaw_to_pcm16(bytes(call.received_audio)), dtype=np.int16)
    recorded = _pcm_8k(right)[np.flatnonzero(_pcm_8k(right))[0] :]
    n = played_ms * 8
    assert _best_correlation(recorded[:n], received[:n].astype(np.float64)) > 0.9
