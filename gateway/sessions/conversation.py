"""The Conversation engine: runs one session between a client and a ``ProviderSession``.

It does not know whether its client is an app socket or a phone call: client messages come in
through ``receive`` and everything for the client goes out through a ``ConversationClient``.
Audio stays raw ``bytes`` here; only the app socket adapter base64-encodes it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from gateway.sessions.audio_format import SESSION_AUDIO, ProviderAudio
from gateway.sessions.protocol import (
    AudioChunk,
    InterruptMessage,
    ProtocolError,
    ServerMessage,
    SessionError,
    SessionTimeout,
    StopSession,
    TextMessage,
    TranscriptionUpdate,
    TurnComplete,
    decode_pcm16,
)
from gateway.sessions.transcripts import TurnRecord
from gateway.sessions.turn_marks import TurnMarker
from kinds.audio import AudioFormat
from kinds.clock import Clock
from providers.base import ProviderSession
from providers.events import (
    AgentAudio,
    CallerSpeechStarted,
    OutputTruncated,
    ProviderEvent,
    ProviderFailed,
    ResponseDone,
    ToolCall,
    ToolCallsCancelled,
    TranscriptDelta,
)

log = logging.getLogger(__name__)

ClientMessage = AudioChunk | TextMessage | InterruptMessage | StopSession
ToolHandler = Callable[[ToolCall], Awaitable[dict[str, Any]]]


class TurnStore(Protocol):
    """Where finished utterances go (the transcript writer, keyed to one session)."""

    def add(self, first_seq: int, records: tuple[TurnRecord, ...], completed: bool) -> None:
        """Store utterances numbered from ``first_seq``; ``completed`` counts a whole turn."""

    def amend(self, seq: int, text: str) -> None:
        """Replace utterance ``seq``'s text with what the caller really heard (cut off)."""


class ConversationClient(Protocol):
    """Where a conversation's output goes (app socket adapter or phone call bridge)."""

    async def deliver(self, message: ServerMessage) -> None:
        """A protocol message other than audio."""

    async def deliver_audio(self, pcm16: bytes, item_id: str) -> None:
        """Agent speech in the agreed client format (PCM16 24 kHz unless the client and the
        provider share another), tagged with the response item it belongs to."""

    async def caller_speech_started(self) -> bool:
        """The provider heard the caller start talking (a barge-in signal).

        Returns True if the client handles barge-in itself (the phone bridge clears the carrier
        and interrupts with the played position); False lets the Conversation interrupt.
        """


@dataclass(frozen=True, slots=True)
class ConversationLimits:
    idle_timeout_s: float = 120.0
    max_turns: int | None = None
    max_duration_s: float | None = None


@dataclass(slots=True)
class _TurnState:
    """What has been said since the last ``turnComplete``."""

    started_at: datetime | None = None
    item_id: str | None = None
    input_text: list[str] = field(default_factory=list)
    output_text: list[str] = field(default_factory=list)
    agent_spoke: bool = False

    def touch(self, now: datetime) -> None:
        if self.started_at is None:
            self.started_at = now


class Conversation:
    """One session's engine; ``run`` returns the end reason once the session is over."""

    def __init__(
        self,
        *,
        provider: ProviderSession,
        client: ConversationClient,
        clock: Clock,
        mode: str,
        limits: ConversationLimits,
        turns: TurnStore,
        on_reply_latency: Callable[[float], None] | None = None,
        tool_handler: ToolHandler | None = None,
        client_audio: AudioFormat = SESSION_AUDIO,
        turn_marker: TurnMarker | None = None,
    ) -> None:
        self._provider = provider
        self._client = client
        self._clock = clock
        self._mode = mode
        self._limits = limits
        self._turns = turns
        self._on_reply_latency = on_reply_latency
        self._caller_done_s: float | None = None  # when the caller's turn ended, if awaiting
        self._next_seq = 0
        self._assistant_seq: dict[str, int] = {}  # item id → stored utterance, for amendments
        self._responding = False
        self._tool_handler = tool_handler
        self._audio = ProviderAudio(provider.capabilities, client_audio)
        # A provider without server VAD of its own needs the client's turn marks; an app client
        # has no VAD, so ``turn_marker`` makes them from its audio.
        self._client_turns = mode == "voice" and not provider.capabilities.server_vad
        self._turn_marker = turn_marker if self._client_turns else None
        self._audio_item: str | None = None
        self._turn = _TurnState()
        self._turns_completed = 0
        self._ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._end_after_response: str | None = None
        self._last_activity_s = clock.monotonic()
        self._started_s = clock.monotonic()
        self._group: asyncio.TaskGroup | None = None
        self._tool_tasks: dict[str, asyncio.Task[None]] = {}  # by call id, while running

    @property
    def turns_completed(self) -> int:
        return self._turns_completed

    @property
    def ended(self) -> bool:
        return self._ended.done()

    @property
    def end_reason(self) -> str | None:
        """Why the session ended (the first reason given), or None while it runs."""
        return self._ended.result() if self._ended.done() else None

    def caller_turn_ended(self) -> None:
        """The caller finished a turn (the phone bridge's VAD heard speech stop); the time to
        the assistant's first output is the turn latency."""
        self._caller_done_s = self._clock.monotonic()

    async def caller_began_speaking(self, ms_ago: int) -> None:
        """The client's VAD heard the caller start talking ``ms_ago`` before the end of the
        audio it has sent; passed on to a provider that relies on the client's turns."""
        if self._client_turns:
            await self._provider.begin_turn(ms_ago)

    async def caller_stopped_speaking(self, ms_ago: int) -> None:
        """The client's VAD heard the caller stop ``ms_ago`` before the end of its audio."""
        self.caller_turn_ended()
        if self._client_turns:
            await self._provider.end_turn(ms_ago)

    def _replying(self) -> None:
        if self._caller_done_s is not None and self._on_reply_latency is not None:
            self._on_reply_latency(self._clock.monotonic() - self._caller_done_s)
        self._caller_done_s = None

    def end_after_response(self, reason: str) -> None:
        """End once the current response is complete (a goodbye or transfer line is heard)."""
        self._end_after_response = reason

    def end(self, reason: str) -> None:
        """Ask the session to end; the first reason given is the one recorded."""
        if not self._ended.done():
            self._ended.set_result(reason)

    async def run(self) -> str:
        """Drive the provider and the timers until something ends the session."""
        async with asyncio.TaskGroup() as group:
            self._group = group
            pump = group.create_task(self._pump_provider(), name="conversation-pump")
            timers = group.create_task(self._watch_timers(), name="conversation-timers")
            reason = await self._ended
            # Tool calls in flight are abandoned with the session, like the pump and the timers.
            for task in (pump, timers, *self._tool_tasks.values()):
                task.cancel()
        self._group = None
        self._flush_turn(interrupted=True, completed=False)
        return reason

    # --- client → provider -------------------------------------------------------------------

    async def receive(self, message: ClientMessage) -> None:
        """Act on one client message; raises ``ProtocolError`` for input it must refuse."""
        match message:
            case AudioChunk(audio=audio):
                if self._mode == "chat":
                    raise ProtocolError("audioChunk is not accepted in chat mode; send textMessage")
                pcm16 = decode_pcm16(audio)
                await self._provider.send_audio(self._audio.to_provider(pcm16))
                if self._turn_marker is not None:
                    for mark in self._turn_marker.feed(pcm16):
                        if mark.edge == "began":
                            await self.caller_began_speaking(mark.ms_ago)
                        else:
                            await self.caller_stopped_speaking(mark.ms_ago)
            case TextMessage(text=text):
                self.caller_turn_ended()
                self._mark_activity()
                self._turn.touch(self._clock.now())
                self._turn.input_text.append(text)
                await self._provider.send_text(text)
            case InterruptMessage(played_ms=played_ms):
                self._mark_activity()
                await self.interrupt(played_ms)
            case StopSession():
                self.end("client_stop")

    async def receive_audio(self, audio: bytes) -> None:
        """Raw caller audio, in the agreed client format, from an in-process client (the phone
        bridge): no base64 round trip."""
        await self._provider.send_audio(self._audio.to_provider(audio))

    async def send_text_note(self, text: str) -> None:
        """Text the client did not type but the assistant should hear (e.g. a DTMF digit)."""
        self.caller_turn_ended()
        self._mark_activity()
        self._turn.touch(self._clock.now())
        self._turn.input_text.append(text)
        await self._provider.send_text(text)

    async def interrupt(self, played_ms: int | None = None) -> None:
        """Stop the agent now; ``played_ms`` is what the client really played of the item."""
        await self._provider.interrupt(played_ms)

    # --- provider → client -------------------------------------------------------------------

    async def _pump_provider(self) -> None:
        try:
            async for event in self._provider:
                await self._on_event(event)
                if self._ended.done():
                    return
        except Exception:
            log.exception("provider session failed")
            await self._client.deliver(SessionError(error="the AI provider failed"))
            self.end("provider_error")
            return
        self.end("provider_closed")

    async def _on_event(self, event: ProviderEvent) -> None:
        match event:
            case AgentAudio(audio=audio, item_id=item_id):
                self._replying()
                self._mark_activity()
                self._turn.touch(self._clock.now())
                self._turn.agent_spoke = True
                self._turn.item_id = item_id
                self._responding = True
                self._audio_item = item_id
                pcm = self._audio.from_provider(audio)
                if pcm:
                    await self._client.deliver_audio(pcm, item_id)
            case TranscriptDelta(source=source, text=text, item_id=item_id):
                self._mark_activity()
                self._turn.touch(self._clock.now())
                if source == "output":
                    self._replying()
                    if item_id is not None:
                        self._turn.item_id = item_id
                parts = self._turn.input_text if source == "input" else self._turn.output_text
                parts.append(text)
                await self._client.deliver(TranscriptionUpdate(source=source, text=text))
            case CallerSpeechStarted():
                self._mark_activity()
                handled = await self._client.caller_speech_started()
                if not handled and self._responding:
                    await self._provider.interrupt(None)
            case OutputTruncated(item_id=item_id, text=text):
                self._amend_output(item_id, text)
            case ResponseDone(interrupted=interrupted):
                self._responding = False
                tail = self._audio.flush_from_provider()
                if tail and self._audio_item is not None and not interrupted:
                    await self._client.deliver_audio(tail, self._audio_item)
                await self._complete_turn(interrupted)
            case ToolCall():
                self._mark_activity()
                self._start_tool(event)
            case ToolCallsCancelled(call_ids=call_ids):
                self._cancel_tools(call_ids)
            case ProviderFailed(message=message, code=code):
                log.warning("provider failed", extra={"code": code})
                await self._client.deliver(SessionError(error=f"AI provider error: {message}"))
                self.end("provider_error")

    async def _complete_turn(self, interrupted: bool) -> None:
        full_input = "".join(self._turn.input_text)
        full_output = "".join(self._turn.output_text)
        self._flush_turn(interrupted=interrupted, completed=True)
        self._turns_completed += 1
        await self._client.deliver(
            TurnComplete(full_input=full_input, full_output=full_output, interrupted=interrupted)
        )
        if self._end_after_response is not None:
            self.end(self._end_after_response)
        elif self._limits.max_turns and self._turns_completed >= self._limits.max_turns:
            self.end("max_turns")

    def _flush_turn(self, *, interrupted: bool, completed: bool) -> None:
        """Hand the turn's utterances to the transcript sink and start a new turn."""
        turn, self._turn = self._turn, _TurnState()
        if turn.started_at is None:
            return
        now = self._clock.now()
        records: list[TurnRecord] = []
        if turn.input_text:
            records.append(TurnRecord("user", "".join(turn.input_text), turn.started_at, now))
        if turn.output_text or turn.agent_spoke:
            text = "".join(turn.output_text)
            if turn.item_id is not None:
                self._remember_item(turn.item_id, self._next_seq + len(records))
            records.append(TurnRecord("assistant", text, turn.started_at, now, interrupted))
        if records or completed:
            self._turns.add(self._next_seq, tuple(records), completed)
            self._next_seq += len(records)

    def _remember_item(self, item_id: str, seq: int) -> None:
        self._assistant_seq[item_id] = seq
        if len(self._assistant_seq) > 8:  # truncation only ever concerns the latest items
            del self._assistant_seq[next(iter(self._assistant_seq))]

    def _amend_output(self, item_id: str, text: str) -> None:
        """The caller heard only ``text`` of this item: store that, not what was generated."""
        if self._turn.item_id == item_id:
            self._turn.output_text = [text]
        elif item_id in self._assistant_seq:
            self._turns.amend(self._assistant_seq[item_id], text)

    # --- tools -------------------------------------------------------------------------------

    def _start_tool(self, call: ToolCall) -> None:
        if self._group is not None:
            task = self._group.create_task(self._run_tool(call), name="conversation-tool")
            self._tool_tasks[call.call_id] = task
            task.add_done_callback(lambda _: self._forget_tool(call.call_id, task))

    def _forget_tool(self, call_id: str, task: asyncio.Task[None]) -> None:
        if self._tool_tasks.get(call_id) is task:
            del self._tool_tasks[call_id]

    def _cancel_tools(self, call_ids: tuple[str, ...]) -> None:
        """The model withdrew these calls: abandon their webhooks (the result has no taker)."""
        for call_id in call_ids:
            task = self._tool_tasks.get(call_id)
            if task is not None and not task.done():
                log.info("tool call cancelled by the model", extra={"call_id": call_id})
                task.cancel()

    async def _run_tool(self, call: ToolCall) -> None:
        try:
            await self._provider.send_tool_result(call.call_id, await self._tool_result(call))
        except Exception:
            log.exception("tool result not delivered", extra={"tool": call.name})

    async def _tool_result(self, call: ToolCall) -> dict[str, Any]:
        if call.name in {"end_session", "end_call"}:
            self._end_after_response = "assistant_ended"
            return {"ok": True}
        if self._tool_handler is None:
            return {"error": f"tool {call.name!r} is not available"}
        try:
            return await self._tool_handler(call)
        except Exception as exc:
            log.warning("tool failed", extra={"tool": call.name})
            return {"error": f"tool {call.name!r} failed: {type(exc).__name__}"}

    # --- timers ------------------------------------------------------------------------------

    def _mark_activity(self) -> None:
        self._last_activity_s = self._clock.monotonic()

    async def _watch_timers(self) -> None:
        idle_s = self._limits.idle_timeout_s
        max_s = self._limits.max_duration_s
        while True:
            now = self._clock.monotonic()
            idle_left = self._last_activity_s + idle_s - now
            duration_left = (self._started_s + max_s - now) if max_s else float("inf")
            if duration_left <= 0:
                self.end("max_duration")
                return
            if idle_left <= 0:
                await self._client.deliver(SessionTimeout(timeout_seconds=round(idle_s)))
                self.end("idle_timeout")
                return
            await self._clock.sleep(min(idle_left, duration_left))
