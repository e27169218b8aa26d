"""One OpenAI Realtime conversation: a ``ProviderSession`` that outlives its WebSocket.

A supervisor task owns the connection. Per connection it races a reader, the stall watchdog and
the recycle timer (``providers.toolkit``), and whichever ends first decides what happens next:
a retryable loss (drop, stall, ``session_expired``) or a planned recycle opens a new connection
and re-seeds it with instructions, tools and the conversation so far; a fatal error ends the
session with ``ProviderFailed``. ``aclose`` cancels and awaits the supervisor, which cancels
its children.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp

from kinds.clock import Clock
from providers.base import ProviderSession
from providers.capabilities import ProviderCapabilities
from providers.errors import ProviderError, ProviderProtocolError, ProviderUnavailable
from providers.events import ProviderEvent, ProviderFailed, ProviderRecovering
from providers.openai_realtime import faults, wire
from providers.openai_realtime.connection import ConnectPolicy, open_with_retry, reconnect_policy
from providers.openai_realtime.history import ConversationHistory
from providers.openai_realtime.translate import ServerEventTranslator
from providers.spec import SessionMode
from providers.toolkit.backlog import AudioBacklog
from providers.toolkit.batch import AudioBatcher
from providers.toolkit.channel import EventChannel
from providers.toolkit.race import first_of
from providers.toolkit.watchdog import StallWatchdog

log = logging.getLogger(__name__)

Recycle = Literal["recycle"]
Outcome = ProviderError | Recycle

RECYCLE_POLL_S = 0.25
"""Once a recycle is due, how often to look for a quiet moment between responses."""

# Server events that mean speech is owed to the caller (the server heard the end of a turn, or
# began a response), and those that settle the debt (speech came, or something in its place).
_AUDIO_OWED = frozenset({"input_audio_buffer.speech_stopped", "response.created"})
_AUDIO_SETTLED = frozenset(
    {
        "response.output_audio.delta",
        "response.function_call_arguments.done",
        "response.done",
        "input_audio_buffer.speech_started",
    }
)


@dataclass(frozen=True, slots=True)
class SessionTimings:
    """Timers of a live session (seconds) and the audio kept while reconnecting."""

    stall_timeout_s: float
    recycle_after_s: float
    max_reconnects: int
    """Consecutive connection losses without a completed response in between."""
    reconnect_buffer_ms: int
    audio_stall_s: float | None = None
    """The server said it is responding (or heard the turn end) and no audio came this long:
    a stall, even if the socket is otherwise alive. None: not watched."""
    reconnect_budget_s: float | None = None
    """One reconnect's time in all (attempts and pause), while the caller hears a holding
    line; None: the connect policy's own."""
    audio_batch_ms: int = 0
    """Caller audio goes out in appends of at least this much (``providers.toolkit.batch``);
    0: each chunk as it comes."""


class OpenAIRealtimeSession(ProviderSession):
    """Use ``OpenAIRealtimeProvider.connect``; this class is its result."""

    def __init__(
        self,
        *,
        http: aiohttp.ClientSession,
        owns_http: bool,
        policy: ConnectPolicy,
        clock: Clock,
        capabilities: ProviderCapabilities,
        config: wire.Event,
        greeting: str | None,
        mode: SessionMode,
        history: ConversationHistory,
        timings: SessionTimings,
    ) -> None:
        self.capabilities = capabilities
        self._http, self._owns_http = http, owns_http
        self._policy, self._clock, self._timings = policy, clock, timings
        self._config, self._greeting, self._history = config, greeting, history
        self._voice = mode == "voice"
        self._translator = ServerEventTranslator(
            history,
            wire.bytes_per_ms(capabilities.output_audio),
            server_interrupts=wire.server_interrupts(config),
        )
        # During a long mutual silence a live server says nothing: probe it at half time.
        self._watchdog = StallWatchdog(
            clock,
            timings.stall_timeout_s,
            probe=self._probe,
            audio_stall_s=timings.audio_stall_s if mode == "voice" else None,
        )
        self._reconnect_policy = reconnect_policy(policy, timings.reconnect_budget_s)
        buffer_bytes = timings.reconnect_buffer_ms * wire.bytes_per_ms(capabilities.input_audio)
        self._pending_audio = AudioBacklog(buffer_bytes)
        batch_bytes = timings.audio_batch_ms * wire.bytes_per_ms(capabilities.input_audio)
        self._batch = AudioBatcher(batch_bytes)
        self._events = EventChannel()
        self._send_lock = asyncio.Lock()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._connected_at = clock.monotonic()
        self._supervisor: asyncio.Task[None] | None = None
        self._closed = self._failed = False

    async def start(self) -> None:
        """Open the first connection (retrying within the policy) and seed it; raises
        ``ProviderError`` if that fails."""
        ws = await open_with_retry(self._http, self._policy, self._clock)
        await self._seed(ws, first=True)
        self._supervisor = asyncio.create_task(self._supervise(ws), name="openai-realtime")

    # The ProviderSession contract.

    async def send_audio(self, audio: bytes) -> None:
        if self._closed or self._failed:
            return
        if self._voice:  # chat sessions expect nothing back for audio
            self._watchdog.client_active()
        batch = self._batch.add(audio)
        if batch is not None:
            await self._send_audio_now(batch)

    async def _send_audio_now(self, audio: bytes) -> None:
        async with self._send_lock:
            if self._ws is None:
                self._pending_audio.append(audio)  # replayed after the reconnect
                return
            await self._send_frame(self._ws, wire.input_audio_append_json(audio))

    async def _flush_audio(self) -> None:
        """What the batcher holds goes out before a message that must follow it (a commit)."""
        held = self._batch.take()
        if held is not None:
            await self._send_audio_now(held)

    async def end_turn(self, ended_ms_ago: int) -> None:
        """With server VAD off nothing else ends the caller's turn: commit the audio buffer and
        ask for the reply (the gateway's VAD decides when, as OpenAI's would have)."""
        if self.capabilities.server_vad or not self._voice or self._closed or self._failed:
            return
        self._watchdog.client_active()
        await self._flush_audio()  # the turn's last frames belong in the committed buffer
        async with self._send_lock:
            if self._ws is not None:  # else the audio waits for the reconnect, uncommitted
                await self._send(self._ws, wire.input_audio_commit())
                await self._request_reply(self._ws)

    async def send_text(self, text: str) -> None:
        if self._closed or self._failed:
            return
        self._watchdog.client_active()
        async with self._send_lock:
            self._history.add_user_text(text)
            if self._ws is not None:  # else the re-seed replays it and asks for the reply
                await self._send(self._ws, wire.item_create(wire.user_text_item(text)))
                await self._request_reply(self._ws)

    async def send_note(self, text: str) -> None:
        """A system message in the conversation, with no ``response.create``: the model reads
        it at its next turn and says nothing now. Not replayed by a re-seed."""
        if self._closed or self._failed:
            return
        async with self._send_lock:
            if self._ws is not None:
                await self._send(self._ws, wire.item_create(wire.system_note_item(text)))

    async def interrupt(self, played_ms: int | None = None) -> None:
        if self._closed or self._failed:
            return
        async with self._send_lock:
            plan = self._translator.plan_interrupt(played_ms)
            if self._ws is not None:
                for event in plan.client_events:
                    await self._send(self._ws, event)
        if plan.truncated is not None:
            self._events.put(plan.truncated)

    async def send_tool_result(self, call_id: str, result: dict[str, Any]) -> None:
        if self._closed or self._failed:
            return
        output_json = json.dumps(result, ensure_ascii=False)
        self._watchdog.client_active()
        async with self._send_lock:
            self._translator.outstanding_calls.discard(call_id)
            self._history.add_function_output(call_id, output_json)
            if self._ws is not None:
                item = wire.function_call_output_item(call_id, output_json)
                await self._send(self._ws, wire.item_create(item))
                await self._request_reply(self._ws)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.gather(self._supervisor, return_exceptions=True)
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()
        if self._owns_http:
            await self._http.close()
        self._events.close()  # after what is already queued

    def __aiter__(self) -> AsyncIterator[ProviderEvent]:
        return aiter(self._events)

    # Connection lifecycle.

    async def _supervise(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        losses = 0
        try:
            while True:
                completed_before = self._translator.completed_responses
                outcome = await self._serve(ws)
                async with self._send_lock:
                    self._ws = None
                if isinstance(outcome, ProviderError):
                    made_progress = self._translator.completed_responses > completed_before
                    losses = 1 if made_progress else losses + 1
                    if not outcome.retryable or losses > self._timings.max_reconnects:
                        self._fail(outcome)  # first: the caller's apology must not wait
                        await ws.close()
                        return
                    log.warning("openai realtime reconnecting", extra={"reason": outcome.code})
                    planned = outcome.code == faults.SESSION_EXPIRED
                    self._events.put(ProviderRecovering(outcome.code, fault=not planned))
                else:
                    log.info("openai realtime recycling the connection")
                ws = await self._replace(ws, reply=self._reply_was_due(outcome))
        except ProviderError as exc:
            self._fail(exc)
        except Exception:  # a bug must still end the session visibly, never hang it
            log.exception("openai realtime supervisor crashed")
            self._fail(ProviderProtocolError("internal error", code="internal_error"))

    def _reply_was_due(self, outcome: Outcome) -> bool:
        """The lost connection owed the caller speech: the new one is asked for it."""
        if isinstance(outcome, ProviderError) and outcome.code == "provider_stalled":
            return self._watchdog.owed_at_alarm
        return self._watchdog.audio_owed or self._translator.response_active

    async def _replace(
        self, old: aiohttp.ClientWebSocketResponse, *, reply: bool
    ) -> aiohttp.ClientWebSocketResponse:
        """A new, seeded connection; the old one closes meanwhile (a stalled server may never
        answer the close, and the caller must not wait on it)."""
        closing = asyncio.ensure_future(old.close())
        try:
            ws = await open_with_retry(self._http, self._reconnect_policy, self._clock)
            await self._seed(ws, first=False, reply=reply)
        finally:
            await closing
        return ws

    async def _serve(self, ws: aiohttp.ClientWebSocketResponse) -> Outcome:
        """Run one connection until it is lost, stalls, fails or is due for a recycle."""
        return await first_of(self._read(ws), self._stalled(), self._recycle_when_due())

    async def _seed(
        self, ws: aiohttp.ClientWebSocketResponse, *, first: bool, reply: bool = False
    ) -> None:
        """Configure a new connection, replay the conversation, then make it current."""
        try:
            async with self._send_lock:
                self._translator.new_connection()
                self._watchdog.server_active()
                self._watchdog.audio_arrived()  # owed again below if a reply is due
                await self._send(ws, wire.session_update(self._config))
                for item in self._history.replay_items():
                    await self._send(ws, wire.item_create(item))
                if self._greeting and not len(self._history):  # never heard: (re)greet
                    self._translator.want_reply()
                    self._expect_audio()
                    await self._send(ws, wire.greeting_response(self._greeting))
                elif not first and (reply or self._history.awaiting_reply()):
                    await self._request_reply(ws)
                for audio in self._pending_audio.drain():
                    await self._send(ws, wire.input_audio_append(audio))
                self._ws, self._connected_at = ws, self._clock.monotonic()
        except BaseException:
            await ws.close()
            raise

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> ProviderError:
        """Translate server events until the connection ends; return why it ended."""
        try:
            async for msg in ws:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    if msg.type is aiohttp.WSMsgType.ERROR:
                        return faults.from_close_code(ws.close_code)
                    continue
                self._watchdog.server_active()
                await self._dispatch(msg.data)
        except ProviderError as exc:
            return exc
        return faults.from_close_code(ws.close_code)

    async def _dispatch(self, raw: str) -> None:
        try:
            event = wire.decode(raw)
            self._watch_audio(event)
            provider_events = self._translator.handle(event)
        except ProviderProtocolError:
            log.warning("openai realtime sent an undecodable message")
            return
        except (KeyError, TypeError, ValueError):  # a known type missing or mangling a field
            log.warning("openai realtime sent a malformed event", extra={"type": event["type"]})
            return
        for provider_event in provider_events:
            self._events.put(provider_event)
        if self._translator.take_reply_due():
            async with self._send_lock:
                if self._ws is not None:
                    await self._send(self._ws, wire.response_create())

    def _watch_audio(self, event: wire.Event) -> None:
        kind = event.get("type")
        if kind in _AUDIO_SETTLED:
            self._watchdog.audio_arrived()
        elif kind in _AUDIO_OWED:
            self._expect_audio()

    def _expect_audio(self) -> None:
        if self._voice:
            self._watchdog.expect_audio()

    async def _stalled(self) -> ProviderError:
        """Return (not raise) the stall error once it happens; the supervisor decides."""
        await self._watchdog.wait()
        return ProviderUnavailable("the provider stopped responding", code="provider_stalled")

    async def _recycle_when_due(self) -> Recycle:
        """Before the 60-minute cap, at a quiet moment (after the current response)."""
        due = self._connected_at + self._timings.recycle_after_s
        await self._clock.sleep(due - self._clock.monotonic())
        while not self._translator.is_idle():
            await self._clock.sleep(RECYCLE_POLL_S)
        return "recycle"

    async def _probe(self) -> None:
        async with self._send_lock:
            if self._ws is not None:
                await self._send(self._ws, wire.liveness_probe())

    async def _request_reply(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        if self._translator.want_reply():
            self._expect_audio()
            await self._send(ws, wire.response_create())

    async def _send(self, ws: aiohttp.ClientWebSocketResponse, event: wire.Event) -> None:
        await self._send_frame(ws, wire.encode(event))

    async def _send_frame(self, ws: aiohttp.ClientWebSocketResponse, data: bytes) -> None:
        """Send one text frame of UTF-8 JSON, ignoring a broken socket: the reader sees the
        close and reconnects."""
        try:
            await ws.send_frame(data, aiohttp.WSMsgType.TEXT)
        except (aiohttp.ClientError, ConnectionError) as exc:
            log.debug("openai realtime send failed", extra={"error": type(exc).__name__})

    def _fail(self, error: ProviderError) -> None:
        self._failed = True
        log.error("openai realtime session failed", extra={"error_code": error.code})
        self._events.put(ProviderFailed(error.code, str(error), error.retryable))  # the last
