"""A live Gemini conversation that survives its connections.

The session owns one background task (``_run``), which owns the watchdog task and reads the
current connection. When a connection ends it reconnects (``providers.toolkit.retry``): with
the latest resumable handle where there is one (also ahead of an announced ``goAway``),
otherwise as a fresh session re-seeded with the conversation so far. Caller audio sent
meanwhile is held (``realtime_input``) and sent, in order, once the new connection is set up.
Fatal errors end the session with ``ProviderFailed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp

from kinds.clock import Clock
from providers.base import ProviderSession
from providers.capabilities import ProviderCapabilities
from providers.errors import ProviderError, ProviderUnavailable
from providers.events import ProviderEvent, ProviderFailed, ProviderRecovering, ResponseDone
from providers.gemini_live import wire
from providers.gemini_live.connection import ConnectSettings, LiveConnection, ResumeRejected
from providers.gemini_live.decode import (
    FunctionCall,
    GoAway,
    Interrupted,
    ModelAudio,
    ModelText,
    ResumptionUpdate,
    ServerNote,
    ServerTurnComplete,
    SetupComplete,
    decode_message,
)
from providers.gemini_live.dialer import Dialer
from providers.gemini_live.realtime_input import RealtimeInput, TurnSource
from providers.gemini_live.turns import TurnTracker
from providers.spec import AssistantSpec, HistoryItem, SessionContext, recent_history
from providers.toolkit.channel import EventChannel
from providers.toolkit.retry import RetryPolicy
from providers.toolkit.watchdog import Alarm, StallWatchdog

log = logging.getLogger(__name__)

JsonObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class SessionOptions:
    """Everything a session needs besides the assistant and its context."""

    connect: ConnectSettings
    clock: Clock
    model: str
    voice: str
    capabilities: ProviderCapabilities
    retry: RetryPolicy
    """Connect attempts at the start."""
    stall_timeout_s: float
    max_backlog_ms: int
    audio_stall_s: float | None = None
    """A turn calls for a reply (the caller's turn ended, text, a tool result) and no model
    output came this long: a stall. None: not watched."""
    reconnect_retry: RetryPolicy | None = None
    """One reconnect's attempts (while the caller hears a holding line); None: ``retry``."""
    max_reconnects: int = 2
    """Connection losses in a row, the first after output and the rest barren, that are
    reconnected; the next one fails the session."""
    audio_batch_ms: int = 0
    """Caller audio goes out in messages of at least this much (``providers.toolkit.batch``)."""


class GeminiLiveSession(ProviderSession):
    """One conversation with Gemini Live; see the module docstring for its life cycle."""

    def __init__(
        self,
        assistant: AssistantSpec,
        context: SessionContext,
        options: SessionOptions,
        http: aiohttp.ClientSession,
        *,
        owns_http: bool,
    ) -> None:
        self.capabilities = options.capabilities
        self._context = context
        self._options = options
        self._http = http
        self._owns_http = owns_http
        self._dialer = Dialer(
            http,
            options.connect,
            options.retry,
            options.clock,
            assistant=assistant,
            context=context,
            model=options.model,
            voice=options.voice,
        )
        self._tracker = TurnTracker(context.history)
        self._events = EventChannel()
        self._watchdog = StallWatchdog(
            options.clock,
            options.stall_timeout_s,
            audio_stall_s=options.audio_stall_s if context.mode == "voice" else None,
        )
        self._input = RealtimeInput(
            self._try_send,
            self._watchdog,
            audio_format=options.capabilities.input_audio,
            max_backlog_ms=options.max_backlog_ms,
            turns=_turn_source(context, options.capabilities),
            silence_ms=assistant.turn_detection.silence_ms,
            batch_ms=options.audio_batch_ms,
        )
        self._pending_text: list[str] = []
        self._conn: LiveConnection | None = None
        self._ended = False
        self._go_away = False
        self._model_spoke = False
        self._main: asyncio.Task[None] | None = None

    @property
    def pending_events(self) -> int:
        """Events produced but not yet taken by the consumer (for tests and metrics)."""
        return len(self._events)

    def _recent_history(self) -> list[HistoryItem]:
        return recent_history(self._tracker.history, self._context.history_window)

    async def start(self) -> None:
        """Open the first connection (bounded retries) and start serving it."""
        if self._dialer.greets:
            self._watchdog.expect_audio()
        try:
            conn = await self._dialer.connect(
                self._recent_history(), fresh_code="connect_failed", greet=True
            )
        except BaseException:
            await self._release_http()
            raise
        await self._adopt(conn)
        self._main = asyncio.create_task(
            self._run(), name=f"gemini-live:{self._context.session_id}"
        )

    # -- the caller's side ------------------------------------------------------------------

    async def send_audio(self, audio: bytes) -> None:
        if not self._ended:
            await self._input.audio(audio)

    async def begin_turn(self, started_ms_ago: int) -> None:
        """With ``client_turns``: ``activityStart``, then the turn's audio so far."""
        if not self._ended:
            await self._input.begin_turn(started_ms_ago)

    async def end_turn(self, ended_ms_ago: int) -> None:
        """With ``client_turns``: ``activityEnd``; Gemini answers the turn."""
        if not self._ended:
            await self._input.end_turn(ended_ms_ago)

    async def caller_turn_ended(self, ended_ms_ago: int) -> None:
        """Gemini's own VAD ends the turn and says nothing of it: watch for the reply."""
        if not self._ended and self._context.mode == "voice":
            self._watchdog.expect_audio()

    async def send_text(self, text: str) -> None:
        if self._ended:
            return
        self._watchdog.expect_audio()
        if not (self._input.live and await self._send_text_now(text)):
            self._pending_text.append(text)  # sent once a connection is up again

    async def send_note(self, text: str) -> None:
        """Guidance without a reply; dropped (not queued) while the connection is down."""
        if not self._ended and self._input.live:
            await self._try_send(wire.note(text))

    async def interrupt(self, played_ms: int | None = None) -> None:
        """Gemini has no cancel or truncate message: we end the current item ourselves, drop
        its queued audio, and drop the rest of its turn as it arrives. The server stops the
        generation itself when its VAD hears the caller (or on ``activityStart``)."""
        self._emit(self._tracker.interrupt())

    async def send_tool_result(self, call_id: str, result: dict[str, Any]) -> None:
        name = self._tracker.take_tool_call(call_id)
        if name is None or not self._input.live:
            # Cancelled by the model, or asked on a connection that is gone: no one awaits it.
            log.info("gemini.tool_result_dropped", extra={"call_id": call_id})
            return
        self._watchdog.expect_audio()
        await self._try_send(wire.tool_response(call_id, name, result))

    async def aclose(self) -> None:
        if self._ended and self._main is None:
            return
        self._ended = True
        self._input.live = False
        self._events.close(discard_pending=True)
        main, self._main = self._main, None
        if main is not None:
            main.cancel()
            await asyncio.gather(main, return_exceptions=True)
        await self._drop_connection()
        await self._release_http()

    def __aiter__(self) -> AsyncIterator[ProviderEvent]:
        return aiter(self._events)

    # -- sending ------------------------------------------------------------------------------

    async def _send_text_now(self, text: str) -> bool:
        if not await self._try_send(wire.user_text(text)):
            return False
        self._tracker.user_text(text)  # only what the model got belongs in a re-seed
        return True

    async def _try_send(self, message: JsonObject | bytes) -> bool:
        """Send on the current connection; False if it is gone (the reader will reconnect)."""
        conn = self._conn
        if conn is None:
            return False
        try:
            await conn.send(message)
        except ProviderUnavailable:
            return False
        return True

    # -- connections --------------------------------------------------------------------------

    async def _adopt(self, conn: LiveConnection) -> None:
        """Make ``conn`` current, then send what piled up while there was none."""
        self._conn = conn
        self._go_away = False
        owed = self._watchdog.audio_owed
        self._watchdog.reset()
        if owed:  # still owed: the new connection gets the whole time to answer
            self._watchdog.expect_audio()
        self._input.new_connection()
        while self._pending_text:
            if not await self._send_text_now(self._pending_text[0]):
                return
            self._pending_text.pop(0)
        if await self._input.flush():
            self._input.live = True

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    async def _release_http(self) -> None:
        if self._owns_http and not self._http.closed:
            await self._http.close()

    # -- the reader ---------------------------------------------------------------------------

    async def _run(self) -> None:
        watchdog = asyncio.create_task(self._watch(), name="gemini-live-watchdog")
        try:
            await self._serve()
        except ProviderError as exc:
            log.warning("gemini.session_failed", extra={"code": exc.code})
            self._events.put(ProviderFailed(exc.code, str(exc), exc.retryable))
        finally:
            self._ended = True
            self._input.live = False
            watchdog.cancel()
            await asyncio.gather(watchdog, return_exceptions=True)
            await self._drop_connection()
            self._events.close()

    async def _serve(self) -> None:
        """Read connections one after another until a fatal error or too many barren ones."""
        barren = 0  # connections in a row that ended before the server said anything
        while True:
            conn = self._conn
            assert conn is not None
            error, delivered = await self._pump(conn)
            if not error.retryable:
                raise error
            if isinstance(error, ResumeRejected):
                self._dialer.resume_handle = None  # re-seed a fresh session instead
            elif not delivered:
                barren += 1  # a refused handle says nothing of the server's health
            else:
                barren = 1
            if barren > self._options.max_reconnects:
                raise ProviderUnavailable("Gemini keeps closing the session", code=error.code)
            await self._reconnect(conn, error)

    async def _reconnect(self, conn: LiveConnection, error: ProviderError) -> None:
        """Replace ``conn`` (lost by ``error``); the new connection is asked for what the old
        one owed the caller: the greeting never heard, or the reply to a turn."""
        log.info("gemini.reconnecting", extra={"reason": error.code})
        fault = error.code != "go_away"
        owed = self._watchdog.audio_owed or self._tracker.in_turn
        # A GoAway between the caller's turn and the reply still owes that reply: the resumed
        # session does not answer a turn on its own (the caller heard 2 s of silence, then the
        # stall watchdog gave up on the session and the apology played).
        reply = (fault and error.code == "provider_stalled") or owed
        self._input.live = False
        self._events.put(ProviderRecovering(error.code, fault=fault))  # while still speaking
        self._emit(self._tracker.connection_lost())  # before re-seeding from the history
        # A greeting never heard is asked for again (a resumed session has it in its context).
        greet = self._dialer.greets and not self._model_spoke and not self._dialer.resume_handle
        replacement = await self._dialer.connect(
            self._recent_history(),
            fresh_code="reconnect_failed",
            greet=greet,
            retry=self._options.reconnect_retry,
        )
        await conn.close()  # after the new one is up: make before break
        await self._adopt(replacement)
        if greet or (reply and await self._try_send(wire.reply_request())):
            self._watchdog.expect_audio()

    async def _pump(self, conn: LiveConnection) -> tuple[ProviderError, bool]:
        """Apply server messages until the connection ends or should be replaced now."""
        delivered = False
        async with contextlib.aclosing(conn.messages()) as messages:
            async for message in messages:
                self._watchdog.server_active()
                try:
                    notes = decode_message(message)
                except ProviderError:
                    log.warning("gemini.bad_message")
                    continue
                delivered = delivered or any(not isinstance(n, SetupComplete) for n in notes)
                if any([self._apply(note) for note in notes]):
                    return ProviderUnavailable("Gemini is going away", code="go_away"), delivered
        error = conn.end_error or ProviderUnavailable("Gemini closed", code="connection_lost")
        return error, delivered

    def _apply(self, note: ServerNote) -> bool:
        """Act on one note; True when the connection should be replaced right now."""
        if isinstance(note, _ANSWERS):
            self._watchdog.audio_arrived()
            self._model_spoke = True
        match note:
            case ResumptionUpdate(handle=handle, resumable=True):
                self._dialer.resume_handle = handle
            case GoAway(time_left_s=time_left_s):
                self._go_away = True
                if not self._tracker.in_turn:
                    return True
                # Let the turn finish, but leave half the time for the new connection.
                self._watchdog.deadline_at(self._options.clock.monotonic() + time_left_s / 2)
            case _:
                self._emit(self._tracker.apply(note))
                if isinstance(note, ServerTurnComplete):
                    return self._go_away and not self._tracker.in_turn
        return False

    def _emit(self, events: list[ProviderEvent]) -> None:
        for event in events:
            if isinstance(event, ResponseDone) and event.interrupted:
                self._events.drop_audio(event.item_id)
            self._events.put(event)

    async def _watch(self) -> None:
        """The watchdog's task, owned by ``_run``: act on each alarm until cancelled."""
        while True:
            await self._on_alarm(await self._watchdog.wait())

    async def _on_alarm(self, alarm: Alarm) -> None:
        conn = self._conn
        if conn is None:
            return
        code = "provider_stalled" if alarm == "stalled" else "go_away"
        log.warning("gemini.alarm", extra={"alarm": alarm})
        await conn.close(ProviderUnavailable(f"Gemini connection ended: {alarm}", code=code))


_ANSWERS = (ModelAudio, ModelText, FunctionCall, Interrupted, ServerTurnComplete)
"""Model output that settles a reply owed to the caller."""


def _turn_source(context: SessionContext, capabilities: ProviderCapabilities) -> TurnSource:
    """Who finds the caller's turns: the gateway (the session plan says so), Gemini's own VAD,
    or, with that turned off and no one marking turns, our level gate."""
    if context.mode == "voice" and context.client_turns:
        return "client"
    return "server" if capabilities.server_vad else "gate"
