"""What goes to Gemini as ``realtimeInput``: the caller's audio and the activity signals that
bracket the caller's turns, held back while there is no connection.

Who finds the caller's turns decides what is sent:

- ``"server"``: Gemini's own VAD; audio streams as it comes.
- ``"client"``: the session plan gave the turns to the gateway (``SessionContext.client_turns``)
  and Gemini's VAD is off. ``begin_turn`` sends ``activityStart``, ``end_turn`` ``activityEnd``,
  and audio goes out only inside that activity: with the default turn coverage
  (``TURN_INCLUDES_ONLY_ACTIVITY``) the server ignores what lies outside it, and
  ``activityStart`` is what interrupts the model's reply (``START_OF_ACTIVITY_INTERRUPTS``).
  ``begin_turn`` comes after the turn's first audio, so a short pre-roll of recent audio is
  kept while no activity is open, and its last ``started_ms_ago`` ms follow ``activityStart``.
- ``"gate"``: the assistant turned Gemini's VAD off and nobody marks turns: a level gate of our
  own brackets the audio (``providers.gemini_live.audio``).

While there is no connection, audio waits in a bounded backlog and goes out in order on the next
one, behind an ``activityStart`` when it belongs to a client-marked turn.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from kinds.audio import AudioFormat
from providers.gemini_live import wire
from providers.gemini_live.audio import SPEECH_PEAK, ActivityGate, peak_level
from providers.toolkit.backlog import AudioBacklog
from providers.toolkit.batch import AudioBatcher
from providers.toolkit.watchdog import StallWatchdog

JsonObject = dict[str, Any]
Send = Callable[[JsonObject | bytes], Awaitable[bool]]
"""Sends one message (a dict, or its JSON already encoded)."""
TurnSource = Literal["server", "client", "gate"]

MAX_PREROLL_MS = 1_000
"""Most pre-roll replayed after ``activityStart``: the gateway's VAD confirms an onset a few
hundred ms after it began, and a second covers that with room while bounding memory (32 kB
of 16 kHz audio)."""


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
        batch_ms: int = 0,
    ) -> None:
        self.live = False
        self._send = send
        self._watchdog = watchdog
        self._bytes_per_ms = audio_format.bytes_per_ms
        self._backlog = AudioBacklog(max_backlog_ms * self._bytes_per_ms)
        self._gate = (
            ActivityGate(audio_format.sample_rate_hz, silence_ms) if turns == "gate" else None
        )
        self._preroll = (
            AudioBacklog(MAX_PREROLL_MS * self._bytes_per_ms) if turns == "client" else None
        )
        # Client-marked turns send each chunk as it comes: activityEnd must not overtake audio.
        self._batch = AudioBatcher(batch_ms * self._bytes_per_ms if turns != "client" else 0)
        self._turn_open = False  # the gateway says the caller is speaking
        self._announced = False  # activityStart went out on the current connection
        self._end_pending = False  # the turn ended while its audio waited for a connection

    async def audio(self, chunk: bytes) -> None:
        """Caller audio: sent, held for the next connection, or kept as pre-roll."""
        if self._preroll is not None and not self._turn_open:
            self._preroll.append(chunk)
            return
        batch = self._batch.add(chunk)
        if batch is None:
            return
        chunk = batch
        # Behind a backlog, audio waits its turn: the order on the wire is the caller's order.
        if not (self.live and not self._backlog and await self._send_audio(chunk)):
            self._backlog.append(chunk)

    async def begin_turn(self, started_ms_ago: int) -> None:
        """The caller started speaking ``started_ms_ago`` before the end of the audio so far."""
        if self._preroll is None or self._turn_open:
            return
        self._turn_open = True
        self._end_pending = False  # two turns within one reconnect go out as one activity
        preroll_ms = min(max(started_ms_ago, 0), MAX_PREROLL_MS)
        preroll = self._preroll.drain_last(preroll_ms * self._bytes_per_ms)
        if self.live and not self._backlog:
            await self._announce()  # at once, even before audio: it stops the model's reply
        for chunk in preroll:
            await self.audio(chunk)

    async def end_turn(self, ended_ms_ago: int) -> None:
        """The caller stopped speaking: end the activity, so Gemini answers the turn."""
        del ended_ms_ago  # the audio since is already in the activity: Gemini cannot unhear it
        if self._preroll is None or not self._turn_open:
            return
        self._turn_open = False
        if self.live and not self._backlog:
            await self._end_activity()
        else:
            self._end_pending = True  # after the turn's audio, on the next connection

    def new_connection(self) -> None:
        """A new connection has seen no activity yet."""
        self._announced = False
        if self._gate is not None:
            self._gate.reset()

    async def flush(self) -> bool:
        """Send what waited for a connection, in order; False if this one failed as well."""
        while self._backlog or self._end_pending:
            if not self._backlog:
                self._end_pending = False
                await self._end_activity()
                continue
            chunk = self._backlog.popleft()
            if not await self._send_audio(chunk):
                self._backlog.appendleft(chunk)
                return False
        return True

    async def _send_audio(self, chunk: bytes) -> bool:
        """Send one chunk inside the right activity signals; False if the connection is gone."""
        if self._preroll is not None and not await self._announce():
            return False
        voiced = peak_level(chunk) >= SPEECH_PEAK
        edge = self._gate.feed(chunk, voiced=voiced) if self._gate is not None else None
        messages: list[JsonObject | bytes] = [wire.audio_input_json(chunk)]
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

    async def _announce(self) -> bool:
        """``activityStart`` on the current connection, once per activity."""
        if self._announced:
            return True
        self._announced = await self._send(wire.activity_start())
        return self._announced

    async def _end_activity(self) -> None:
        if not self._announced:
            return  # this connection never saw the activity begin
        self._announced = False
        if await self._send(wire.activity_end()):
            self._watchdog.client_active()  # a finished turn calls for a reply
            self._watchdog.expect_audio()
