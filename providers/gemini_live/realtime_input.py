"""What goes to Gemini as ``realtimeInput``: the caller's audio and the activity signals that
bracket the caller's turns, held back while there is no connection.

Who finds the caller's turns decides what is sent:

- ``"server"``: Gemini's own VAD; audio streams as it comes.
- ``"gate"``: the assistant turned Gemini's VAD off: a level gate of our own brackets the
  audio with ``activityStart``/``activityEnd`` (``providers.gemini_live.audio``).

While there is no connection, audio waits in a bounded backlog and goes out in order on the next
one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from kinds.audio import AudioFormat
from providers.gemini_live import wire
from providers.gemini_live.audio import SPEECH_PEAK, ActivityGate, peak_level
from providers.toolkit.backlog import AudioBacklog
from providers.toolkit.watchdog import StallWatchdog

JsonObject = dict[str, Any]
Send = Callable[[JsonObject], Awaitable[bool]]
TurnSource = Literal["server", "gate"]


class RealtimeInput:
    """The caller's side of one session's ``realtimeInput`` stream, across its connections.

    ``send`` sends one message on the current connection and says whether it went out; ``live``
    is set by the session while a set-up connection is current and its backlog sent.
    """

    def __init__(
        self,
        send: Send,
        watchdog: StallWatchdog,
        *,
        audio_format: AudioFormat,
        max_backlog_ms: int,
        turns: TurnSource,
        silence_ms: int,
    ) -> None:
        self.live = False
        self._send = send
        self._watchdog = watchdog
        self._backlog = AudioBacklog(max_backlog_ms * audio_format.bytes_per_ms)
        self._gate = (
            ActivityGate(audio_format.sample_rate_hz, silence_ms) if turns == "gate" else None
        )

    async def audio(self, chunk: bytes) -> None:
        """Caller audio: sent now, or held for the next connection."""
        # Behind a backlog, audio waits its turn: the order on the wire is the caller's order.
        if not (self.live and not self._backlog and await self._send_audio(chunk)):
            self._backlog.append(chunk)

    def new_connection(self) -> None:
        """A new connection has seen no activity yet."""
        if self._gate is not None:
            self._gate.reset()

    async def flush(self) -> bool:
        """Send what waited for a connection, in order; False if this one failed as well."""
        while self._backlog:
            chunk = self._backlog.popleft()
            if not await self._send_audio(chunk):
                self._backlog.appendleft(chunk)
                return False
        return True

    async def _send_audio(self, chunk: bytes) -> bool:
        """Send one chunk inside the right activity signals; False if the connection is gone."""
        voiced = peak_level(chunk) >= SPEECH_PEAK
        edge = self._gate.feed(chunk, voiced=voiced) if self._gate is not None else None
        messages = [wire.audio_input(chunk)]
        if edge == "start":
            messages.insert(0, wire.activity_start())
        elif edge == "end":
            messages.append(wire.activity_end())
        for message in messages:
            if not await self._send(message):
                return False
        if voiced:
            self._watchdog.client_active()  # speech went out: something should come back
        return True
