"""Live monitoring's tap on one session: what the caller and the assistant say, for supervisors.

The call must never wait for a supervisor (DESIGN §3). With nobody listening, the tap costs the
hot path one attribute test. With listeners, it costs one append of the raw bytes to a bounded
buffer; every ``BATCH_MS`` of audio (or at once for a transcript message) a worker task converts
the batch once per side (port format → PCM16 24 kHz), encodes it once as a ``monitorAudio``
message, and offers the text to every listener's own bounded queue.
A full queue drops the frame, for that listener only: a slow supervisor hears gaps, the caller
hears nothing of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Literal

import orjson

from gateway.sessions.audio_format import AudioConverter
from gateway.sessions.monitor_protocol import MONITOR_AUDIO
from gateway.sessions.plan import SessionPlan
from gateway.sessions.protocol import ServerMessage, encode, encode_pcm16
from gateway.sessions.recording import SessionRecorder
from kinds.audio import PCM16_24K, AudioFormat

log = logging.getLogger(__name__)

TAP_QUEUE_ITEMS = 256
"""Frames waiting for the worker (≈ 2.5 s of both directions at 20 ms): past that the worker
is starved and frames are dropped rather than held."""
BATCH_MS = 200
"""Audio (both sides together) handed to the worker at once: about 100 ms a side on a call. One
wake-up, one conversion and one message per side per batch instead of per 20 ms frame keeps the
tap's share of the loop small; a supervisor hears the call ~100 ms later, the caller nothing."""
LISTENER_QUEUE_MESSAGES = 256
"""Messages waiting for one supervisor's socket (≈ 2.5 s); a reader further behind loses frames."""

Source = Literal["caller", "assistant"]
_Item = tuple[Source, bytes] | ServerMessage | str


class MonitorListener:
    """One supervisor's bounded inbox; ``dropped`` counts what it was too slow to take."""

    def __init__(self, capacity: int = LISTENER_QUEUE_MESSAGES) -> None:
        self._inbox: asyncio.Queue[str | None] = asyncio.Queue(capacity)
        self.dropped = 0

    def offer(self, text: str) -> None:
        try:
            self._inbox.put_nowait(text)
        except asyncio.QueueFull:
            self.dropped += 1

    def close(self) -> None:
        """The session is over: ``next`` returns None once what is queued has been taken."""
        with contextlib.suppress(asyncio.QueueFull):
            self._inbox.put_nowait(None)
        if self._inbox.full():  # make room for the end mark: the end matters more than a frame
            self._inbox.get_nowait()
            self._inbox.put_nowait(None)

    async def next(self) -> str | None:
        return await self._inbox.get()


class SessionTap:
    """Copies a session's audio and transcript to its supervisors, off the call's path."""

    def __init__(self, plan: SessionPlan) -> None:
        self._formats: dict[Source, AudioFormat] = {
            "caller": plan.inbound.port,
            "assistant": plan.outbound.port,
        }
        self._listeners: list[MonitorListener] = []
        self._pending: deque[_Item] = deque()
        self._pending_bytes = 0
        self._ready = asyncio.Event()
        self._batch_bytes = BATCH_MS * plan.inbound.port.bytes_per_ms
        self._worker: asyncio.Task[None] | None = None
        self._converters: dict[Source, AudioConverter] = {}
        self.closed = False
        self.dropped = 0
        self.recorder: SessionRecorder | None = None  # set when the assistant records

    @property
    def listening(self) -> bool:
        return bool(self._listeners)

    def attach(self, listener: MonitorListener) -> None:
        if self.closed:
            listener.close()
            return
        if not self._listeners:
            # Fresh resampler state: frames skipped while nobody listened are not continuous.
            self._converters = {
                source: AudioConverter(fmt, PCM16_24K) for source, fmt in self._formats.items()
            }
        self._listeners.append(listener)
        if self._worker is None:
            self._worker = asyncio.create_task(self._run(), name="monitor-tap")

    async def detach(self, listener: MonitorListener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)
        if not self._listeners:
            await self._stop_worker()

    async def aclose(self) -> None:
        """The session ended: hand over what is pending, tell every listener, stop."""
        self.closed = True
        await self._stop_worker()
        self._flush()
        for listener in self._listeners:
            listener.close()
        self._listeners.clear()

    # --- the hot path: one test, at most one append --------------------------------------------

    def caller_audio(self, audio: bytes) -> None:
        if self.recorder is not None:
            self.recorder.caller(audio)
        if self._listeners:
            self._add(("caller", audio), len(audio))

    def assistant_audio(self, audio: bytes, item_id: str) -> None:
        """What is sent to the caller, in the outbound port format."""
        if self.recorder is not None:
            self.recorder.agent(audio, item_id)
        if self._listeners:
            self._add(("assistant", audio), len(audio))

    def cut(self, played_ms: int | None) -> None:
        """A barge-in: the caller heard only ``played_ms`` of the current item."""
        if self.recorder is not None:
            self.recorder.cut(played_ms)

    def message(self, message: ServerMessage) -> None:
        if self._listeners:
            self._add(message, self._batch_bytes)  # a message goes out at once

    def notice(self, text: str) -> None:
        """An already encoded message for every supervisor (who holds the call now)."""
        if self._listeners:
            self._add(text, self._batch_bytes)

    def _add(self, item: _Item, size: int) -> None:
        if len(self._pending) >= TAP_QUEUE_ITEMS:
            self.dropped += 1
            return
        self._pending.append(item)
        self._pending_bytes += size
        if self._pending_bytes >= self._batch_bytes:
            self._ready.set()

    # --- the worker ----------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            self._flush()

    def _flush(self) -> None:
        items = list(self._pending)
        self._pending.clear()
        self._pending_bytes = 0
        try:
            texts = self._render(items)
        except Exception:  # a bad batch costs the supervisors that batch, not the tap
            log.exception("monitor batch failed")
            return
        for text in texts:
            for listener in self._listeners:
                listener.offer(text)

    def _render(self, items: list[_Item]) -> list[str]:
        """One ``monitorAudio`` per source for the audio between messages, in order."""
        texts: list[str] = []
        audio: dict[Source, list[bytes]] = {}
        for item in items:
            if isinstance(item, tuple):
                audio.setdefault(item[0], []).append(item[1])
                continue
            texts.extend(self._audio_messages(audio))
            audio = {}
            texts.append(item if isinstance(item, str) else encode(item))
        texts.extend(self._audio_messages(audio))
        return texts

    def _audio_messages(self, audio: dict[Source, list[bytes]]) -> list[str]:
        texts = []
        for source, chunks in audio.items():
            pcm = self._converters[source].convert(b"".join(chunks))
            if pcm:
                # orjson straight, not the model: a third of the cost.
                message = {"type": MONITOR_AUDIO, "source": source, "audio": encode_pcm16(pcm)}
                texts.append(orjson.dumps(message).decode())
        return texts

    async def _stop_worker(self) -> None:
        worker, self._worker = self._worker, None
        if worker is None:
            return
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
