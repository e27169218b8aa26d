"""Shared helpers for the local provider's tests: the speech clip, tones, and an event reader."""

from __future__ import annotations

import asyncio
import math
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path

from providers.base import ProviderSession
from providers.events import ProviderEvent
from tests.virtual_clock import VirtualClock

DATA_DIR = Path(__file__).parent / "data"
SPEECH_CLIP = DATA_DIR / "speech_24k.wav"
RATE_HZ = 24_000
BYTES_PER_MS = RATE_HZ * 2 // 1000
FRAME_BYTES = 20 * BYTES_PER_MS


def speech_clip() -> bytes:
    """The committed espeak-ng utterance, PCM16 mono 24 kHz (about 2.4 s)."""
    with wave.open(str(SPEECH_CLIP), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, RATE_HZ)
        return wav.readframes(wav.getnframes())


def voiced_span_ms(pcm16: bytes, threshold: int = 500) -> float:
    """Milliseconds from the first to the last sample louder than ``threshold``."""
    loud = [
        i
        for i in range(0, len(pcm16), 2)
        if abs(int.from_bytes(pcm16[i : i + 2], "little", signed=True)) > threshold
    ]
    return (loud[-1] - loud[0]) / BYTES_PER_MS if loud else 0.0


def silence(ms: int) -> bytes:
    return bytes(ms * BYTES_PER_MS)


def tone(ms: int, frequency_hz: float = 440.0) -> bytes:
    """A sine tone: stands in for synthesised speech."""
    samples = (
        int(8000 * math.sin(2 * math.pi * frequency_hz * n / RATE_HZ))
        for n in range(ms * RATE_HZ // 1000)
    )
    return b"".join(s.to_bytes(2, "little", signed=True) for s in samples)


def chunks(pcm16: bytes, size_bytes: int = FRAME_BYTES) -> list[bytes]:
    return [pcm16[i : i + size_bytes] for i in range(0, len(pcm16), size_bytes)]


class EventReader:
    """Reads a session's events, moving the virtual clock only while the session waits on it.

    When nothing sleeps on the clock the session is doing real work (a subprocess), so the
    reader waits on the event itself; ``max_wall_s`` turns a hang into a failure.
    """

    def __init__(self, session: ProviderSession, clock: VirtualClock) -> None:
        self._events: AsyncIterator[ProviderEvent] = aiter(session)
        self._clock = clock

    async def next(self, *, max_wall_s: float = 10.0) -> ProviderEvent | None:
        """The next event, or ``None`` when iteration has ended."""
        pending = asyncio.ensure_future(anext(self._events, None))
        give_up_at = time.monotonic() + max_wall_s
        while not pending.done():
            if self._clock.sleeper_count:
                await self._clock.advance(0.01)
            else:
                await asyncio.wait({pending}, timeout=0.01)
            if time.monotonic() > give_up_at:
                pending.cancel()
                raise AssertionError("no provider event arrived in time")
        return pending.result()

    async def until_done(self) -> list[ProviderEvent]:
        """Events up to and including the next ``ResponseDone`` (or the end of iteration)."""
        events: list[ProviderEvent] = []
        while (event := await self.next()) is not None:
            events.append(event)
            if event.kind == "response_done":
                break
        return events
