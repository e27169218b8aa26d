"""Session recordings: a WAV written by a writer task, off the call's path.

The engine hands raw frames over with one append each (caller audio in the inbound port format,
what is sent to the caller in the outbound port format, and every cut); once a second the writer
converts them, places them on one timeline and writes. The timeline is the caller's audio: a frame
arrives every 20 ms, so the caller's sample count is "now". Agent audio arrives faster than it
plays; it is placed after the agent audio already scheduled, never before "now". A barge-in cut
(``Interrupt(played_ms)``) drops the scheduled agent audio past what the caller heard (the item's
start plus ``played_ms``, or "now" when unknown), so audio cleared at the carrier is not in the
recording. What lies before "now" is final and written; only the scheduled future is held.
"""

from __future__ import annotations

import asyncio
import audioop
import itertools
import logging
import wave
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from gateway.sessions.audio_format import AudioConverter
from gateway.sessions.plan import SessionPlan
from kinds.audio import AudioFormat

log = logging.getLogger(__name__)

RecordingMode = Literal["mono", "dual"]
QUEUE_ITEMS = 1024
"""≈ 10 s of both directions at 20 ms: the writer is far behind only if the disk stalls; past
that frames are dropped (and counted) rather than held in memory or waited for."""
BATCH_MS = 1000
"""Caller audio handed to the writer at once: the writer wakes, converts and writes once a
second per session instead of once per 20 ms frame."""


@dataclass(frozen=True, slots=True)
class _Caller:
    audio: bytes


@dataclass(frozen=True, slots=True)
class _Agent:
    audio: bytes
    item_id: str


@dataclass(frozen=True, slots=True)
class _Cut:
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
    def now(self) -> int:
        return self.written + len(self._caller) // 2

    @property
    def final_samples(self) -> int:
        """Samples before "now" not yet handed out."""
        return len(self._caller) // 2

    def caller(self, pcm: bytes) -> None:
        self._caller += pcm

    def agent(self, pcm: bytes, item_id: str) -> None:
        if item_id in self._cut_items:
            return  # the door drops it too: the caller never hears the rest of a cut item
        start = max(self.now, self.written + len(self._agent) // 2)
        gap = start - (self.written + len(self._agent) // 2)
        self._agent += bytes(2 * gap)
        if item_id != self._item_id:
            self._item_id, self._item_start = item_id, start
        self._agent += pcm

    def cut(self, played_ms: int | None) -> None:
        """Drop the agent audio the caller did not hear."""
        at = self.now if played_ms is None else self._item_start + played_ms * self._rate_hz // 1000
        keep = max(at, self.now) - self.written
        del self._agent[2 * keep :]
        self._cut_items = [*self._cut_items[-7:], self._item_id]

    def final(self, *, everything: bool = False) -> tuple[bytes, bytes]:
        """Equal-length caller and agent PCM up to "now" (or to the end of both)."""
        samples = len(self._caller) // 2
        if everything:
            samples = max(samples, len(self._agent) // 2)
        caller = bytes(self._caller[: 2 * samples]).ljust(2 * samples, b"\0")
        agent = bytes(self._agent[: 2 * samples]).ljust(2 * samples, b"\0")
        del self._caller[: 2 * samples]
        del self._agent[: 2 * samples]
        self.written += samples
        return caller, agent


def _run_key(event: _Caller | _Agent | _Cut) -> tuple[str, str]:
    match event:
        case _Caller():
            return ("caller", "")
        case _Agent(item_id=item_id):
            return ("agent", item_id)
        case _Cut():
            return ("cut", "")


class SessionRecorder:
    """Records one session into ``path``: ``dual`` (caller left, assistant right) or ``mono``."""

    def __init__(self, path: Path, plan: SessionPlan, mode: RecordingMode) -> None:
        self.path = path
        self._mode = mode
        rate_hz = max(plan.inbound.port.sample_rate_hz, plan.outbound.port.sample_rate_hz)
        target = AudioFormat("pcm16", rate_hz)
        self._from_caller = AudioConverter(plan.inbound.port, target)
        self._from_agent = AudioConverter(plan.outbound.port, target)
        self._timeline = _Timeline(rate_hz)
        self.rate_hz = rate_hz
        self._pending: deque[_Caller | _Agent | _Cut] = deque()
        self._pending_bytes = 0
        self._batch_bytes = BATCH_MS * plan.inbound.port.bytes_per_ms
        self._ready = asyncio.Event()
        self._finished = False
        self.dropped = 0

    # --- the hot path: one append each ---------------------------------------------------------

    def caller(self, audio: bytes) -> None:
        self._put(_Caller(audio), len(audio))

    def agent(self, audio: bytes, item_id: str) -> None:
        self._put(_Agent(audio, item_id), 0)

    def cut(self, played_ms: int | None) -> None:
        self._put(_Cut(played_ms), 0)

    def _put(self, event: _Caller | _Agent | _Cut, caller_bytes: int) -> None:
        if len(self._pending) >= QUEUE_ITEMS:
            self.dropped += 1
            return
        self._pending.append(event)
        self._pending_bytes += caller_bytes
        if self._pending_bytes >= self._batch_bytes:
            self._ready.set()  # the writer wakes once per batch, not per frame

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
                out.writeframes(self._frames(*self._timeline.final(everything=True)))
        if self.dropped:
            log.warning("recording dropped frames", extra={"dropped": self.dropped})

    def _write(self, out: wave.Wave_write) -> None:
        """Place what is pending on the timeline; write what is final (one write per batch:
        the wave module rewrites its header on every write)."""
        events = list(self._pending)
        self._pending.clear()
        self._pending_bytes = 0
        # Runs of caller frames (and of one item's agent audio) are converted in one go: the
        # timeline only needs them in order relative to the other side's audio and the cuts.
        for _, run in itertools.groupby(events, key=_run_key):
            self._apply(list(run))
        if self._timeline.final_samples:
            out.writeframes(self._frames(*self._timeline.final()))

    def _apply(self, run: list[_Caller | _Agent | _Cut]) -> None:
        """One run of events of one kind (one item's, for agent audio)."""
        match run[0]:
            case _Caller():
                audio = b"".join(e.audio for e in run if isinstance(e, _Caller))
                self._timeline.caller(self._from_caller.convert(audio))
            case _Agent(item_id=item_id):
                audio = b"".join(e.audio for e in run if isinstance(e, _Agent))
                self._timeline.agent(self._from_agent.convert(audio), item_id)
            case _Cut():
                for event in run:
                    if isinstance(event, _Cut):
                        self._timeline.cut(event.played_ms)

    def _frames(self, caller: bytes, agent: bytes) -> bytes:
        if not caller:
            return b""
        if self._mode == "mono":
            return audioop.add(caller, agent, 2)
        stereo = np.empty(len(caller), dtype=np.int16)  # two channels of len/2 samples each
        stereo[0::2] = np.frombuffer(caller, dtype=np.int16)
        stereo[1::2] = np.frombuffer(agent, dtype=np.int16)
        return stereo.tobytes()
