"""Session recordings: a WAV written by a writer task, off the call's path.

The hot path allocates nothing for the caller: each caller frame (in the inbound port format) is
appended to one bytearray, and agent audio and cuts are noted with the caller's byte count at the
time. Every two seconds the writer converts the caller's batch in one go, places the agent audio
on one timeline and writes. The timeline is the caller's audio: a frame arrives every 20 ms, so
the caller's sample count is "now". Agent audio arrives faster than it plays; it is placed after
the agent audio already scheduled, never before "now". A barge-in cut (``Interrupt(played_ms)``)
drops the scheduled agent audio past what the caller heard (the item's start plus ``played_ms``,
or "now" when unknown), so audio cleared at the carrier is not in the recording. What lies before
"now" is final and written; only the scheduled future is held.
"""

from __future__ import annotations

import asyncio
import logging
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from gateway.sessions.audio_format import AudioConverter
from gateway.sessions.plan import SessionPlan
from kinds.audio import AudioFormat

log = logging.getLogger(__name__)

RecordingMode = Literal["mono", "dual"]
QUEUE_ITEMS = 1024
"""Agent chunks and cuts waiting (≈ 10 s at 20 ms): the writer is far behind only if the disk
stalls; past that they are dropped (and counted) rather than held in memory or waited for."""
QUEUE_MS = 10_000
"""Caller audio waiting, for the same reason."""
BATCH_MS = 2000
"""Caller audio handed to the writer at once: the writer wakes, converts and writes every two
seconds per session instead of every 20 ms frame (from one second: a sixth less CPU; it holds
≤ 2 s of a session's audio, 96 KB at PCM16 24 kHz)."""


HEADER_EVERY_BATCHES = 5
"""The WAV header's sizes are brought up to date every this many batches (and at the end): the
wave module would rewrite them on every write, three more system calls each; a gateway that dies
mid-call leaves a file whose header misses at most the last ~10 s."""

_Agent = tuple[int, bytes, str]
"""Agent audio: the caller's pending byte count when it came ("now"), the audio, its item. A
plain tuple: a frozen dataclass's ``__init__`` costs ten times as much, per chunk."""


@dataclass(frozen=True, slots=True)
class _Cut:
    at: int  # as for ``_Agent``
    played_ms: int | None


class _Timeline:
    """Caller and agent samples (PCM16) placed in time; hands out what is final."""

    def __init__(self, rate_hz: int) -> None:
        self._rate_hz = rate_hz
        self.written = 0  # absolute samples already handed out
        self._caller = bytearray()  # from ``written``
        self._agent = bytearray()  # from ``written``; may run past the caller (scheduled)
        self._item_id = ""
        self._item_start = 0
        self._cut_items: list[str] = []  # the latest few: late audio of a cut item is not heard

    @property
    def final_samples(self) -> int:
        """Samples before "now" not yet handed out."""
        return len(self._caller) // 2

    def caller(self, pcm: bytes) -> None:
        self._caller += pcm

    def agent(self, pcm: bytes, item_id: str, now: int) -> None:
        if item_id in self._cut_items:
            return  # the door drops it too: the caller never hears the rest of a cut item
        end = self.written + len(self._agent) // 2
        start = max(now, end)
        if start > end:
            self._agent += bytes(2 * (start - end))
        if item_id != self._item_id:
            self._item_id, self._item_start = item_id, start
        self._agent += pcm

    def cut(self, played_ms: int | None, now: int) -> None:
        """Drop the agent audio the caller did not hear."""
        at = now if played_ms is None else self._item_start + played_ms * self._rate_hz // 1000
        keep = max(at, now) - self.written
        del self._agent[2 * max(keep, 0) :]
        self._cut_items = [*self._cut_items[-7:], self._item_id]

    def final(self, *, everything: bool = False) -> npt.NDArray[np.int16]:
        """Caller (column 0) and agent (column 1) samples up to "now" (or to the end of both),
        interleaved as a stereo WAV wants them, padded with silence."""
        samples = len(self._caller) // 2
        if everything:
            samples = max(samples, len(self._agent) // 2)
        frames = np.zeros((samples, 2), dtype=np.int16)
        for column, pcm in enumerate((self._caller, self._agent)):
            have = min(samples, len(pcm) // 2)
            frames[:have, column] = np.frombuffer(pcm, dtype=np.int16, count=have)
            del pcm[: 2 * have]
        self.written += samples
        return frames


class SessionRecorder:
    """Records one session into ``path``: ``dual`` (caller left, assistant right) or ``mono``."""

    def __init__(self, path: Path, plan: SessionPlan, mode: RecordingMode) -> None:
        self.path = path
        self._mode = mode
        caller_format = plan.inbound.port
        rate_hz = max(caller_format.sample_rate_hz, plan.outbound.port.sample_rate_hz)
        target = AudioFormat("pcm16", rate_hz)
        self._from_caller = AudioConverter(caller_format, target)
        self._from_agent = AudioConverter(plan.outbound.port, target)
        self._timeline = _Timeline(rate_hz)
        self.rate_hz = rate_hz
        self._caller_rate_hz = caller_format.sample_rate_hz
        self._caller_width = 2 if caller_format.encoding == "pcm16" else 1
        self._caller_samples = 0  # caller samples converted so far, in the port's rate
        self._pending = bytearray()  # caller audio not yet converted
        self._events: list[_Agent | _Cut] = []
        self._batch_bytes = BATCH_MS * caller_format.bytes_per_ms
        self._limit_bytes = QUEUE_MS * caller_format.bytes_per_ms
        self._ready = asyncio.Event()
        self._finished = False
        self._batches = 0
        self.dropped = 0

    # --- the hot path: an append each ------------------------------------------------------------

    def caller(self, audio: bytes) -> None:
        pending = self._pending
        if len(pending) >= self._batch_bytes:
            if len(pending) >= self._limit_bytes:
                self.dropped += 1
                return
            self._ready.set()  # the writer wakes once per batch, not per frame
        pending += audio

    def agent(self, audio: bytes, item_id: str) -> None:
        if len(self._events) >= QUEUE_ITEMS:
            self.dropped += 1
            return
        self._events.append((len(self._pending), audio, item_id))

    def cut(self, played_ms: int | None) -> None:
        if len(self._events) >= QUEUE_ITEMS:
            self.dropped += 1
            return
        self._events.append(_Cut(len(self._pending), played_ms))

    def finish(self) -> None:
        """The session is over: write what is pending, then close the file."""
        self._finished = True
        self._ready.set()

    # --- the writer ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Write until ``finish`` (or cancellation); the file is always closed complete."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with wave.open(str(self.path), "wb") as out:
            out.setnchannels(2 if self._mode == "dual" else 1)
            out.setsampwidth(2)
            out.setframerate(self.rate_hz)
            try:
                while not self._finished:
                    await self._ready.wait()
                    self._ready.clear()
                    self._write(out)
            finally:
                self._write(out)
                rest = self._frames(self._timeline.final(everything=True))
                if rest.nbytes:
                    out.writeframesraw(rest)  # closing brings the header up to date
        if self.dropped:
            log.warning("recording dropped frames", extra={"dropped": self.dropped})

    def _write(self, out: wave.Wave_write) -> None:
        """Place what is pending on the timeline; write what is final."""
        caller = bytes(self._pending)
        self._pending.clear()
        events, self._events = self._events, []
        for event in events:
            if isinstance(event, _Cut):
                self._timeline.cut(event.played_ms, self._now(event.at))
            else:
                at, audio, item_id = event
                self._timeline.agent(self._from_agent.convert(audio), item_id, self._now(at))
        self._timeline.caller(self._from_caller.convert(caller))
        self._caller_samples += len(caller) // self._caller_width
        if not self._timeline.final_samples:
            return
        frames = self._frames(self._timeline.final())
        self._batches += 1
        if self._batches % HEADER_EVERY_BATCHES:
            out.writeframesraw(frames)
        else:
            out.writeframes(frames)

    def _now(self, pending_bytes: int) -> int:
        """The timeline's "now" when the caller had sent ``pending_bytes`` of this batch."""
        samples = self._caller_samples + pending_bytes // self._caller_width
        return samples * self.rate_hz // self._caller_rate_hz

    def _frames(self, frames: npt.NDArray[np.int16]) -> memoryview:
        """What goes into the file, without a copy for dual."""
        if self._mode == "dual":
            return frames.data
        mixed = frames.sum(axis=1, dtype=np.int32)  # saturated, as a mixer would
        mono: npt.NDArray[np.int16] = np.clip(mixed, -32768, 32767).astype(np.int16)
        return mono.data
