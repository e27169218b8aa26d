"""Live monitoring's tap on one session: what the caller and the assistant say, for supervisors.

The call must never wait for a supervisor (DESIGN §3). With nobody listening, the tap costs the
hot path one attribute test. With listeners, it costs one ``put_nowait`` of the raw bytes into a
bounded queue; a worker task converts each frame once (port format → PCM16 24 kHz), encodes it
once as a ``monitorAudio`` message, and offers the text to every listener's own bounded queue.
A full queue drops the frame, for that listener only: a slow supervisor hears gaps, the caller
hears nothing of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
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
        self._caller_format: AudioFormat = plan.inbound.port
        self._assistant_format: AudioFormat = plan.outbound.port
        self._listeners: list[MonitorListener] = []
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(TAP_QUEUE_ITEMS)
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
                "caller": AudioConverter(self._caller_format, PCM16_24K),
                "assistant": AudioConverter(self._assistant_format, PCM16_24K),
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
        """The session ended: tell every listener, and stop the worker."""
        self.closed = True
        for listener in self._listeners:
            listener.close()
        self._listeners.clear()
        await self._stop_worker()

    # --- the hot path: one test, at most one put -----------------------------------------------

    def caller_audio(self, audio: bytes) -> None:
        if self.recorder is not None:
            self.recorder.caller(audio)
        if self._listeners:
            self._put(("caller", audio))

    def assistant_audio(self, audio: bytes, item_id: str) -> None:
        """What is sent to the caller, in the outbound port format."""
        if self.recorder is not None:
            self.recorder.agent(audio, item_id)
        if self._listeners:
            self._put(("assistant", audio))

    def cut(self, played_ms: int | None) -> None:
        """A barge-in: the caller heard only ``played_ms`` of the current item."""
        if self.recorder is not None:
            self.recorder.cut(played_ms)

    def message(self, message: ServerMessage) -> None:
        if self._listeners:
            self._put(message)

    def notice(self, text: str) -> None:
        """An already encoded message for every supervisor (who holds the call now)."""
        if self._listeners:
            self._put(text)

    def _put(self, item: _Item) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped += 1

    # --- the worker ----------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                text = self._render(item)
            except Exception:  # a bad frame costs the supervisors that frame, not the tap
                log.exception("monitor frame failed")
                continue
            if text:
                for listener in self._listeners:
                    listener.offer(text)
            # Give the loop back after each frame: the tap never holds a call's frame behind a
            # burst of its own work.
            await asyncio.sleep(0)

    def _render(self, item: _Item) -> str:
        if isinstance(item, str):
            return item
        if not isinstance(item, tuple):
            return encode(item)
        source, audio = item
        pcm = self._converters[source].convert(audio)
        if not pcm:
            return ""
        # orjson straight, not the model: a third of the cost, 50 times a second per side.
        return orjson.dumps(
            {"type": MONITOR_AUDIO, "source": source, "audio": encode_pcm16(pcm)}
        ).decode()

    async def _stop_worker(self) -> None:
        worker, self._worker = self._worker, None
        if worker is None:
            return
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        while not self._queue.empty():
            self._queue.get_nowait()
