"""The Conversation engine: runs one session between a client and a ``ProviderSession``.

It has one client port (DESIGN §1): typed events in through ``receive``, everything for the
client out through a ``SessionClient``. It never learns whether its client is an app socket or
a phone call; what differs between them was decided once, in the ``SessionPlan``. Audio stays
raw ``bytes`` here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from gateway.sessions.audio_format import SessionAudio
from gateway.sessions.conversation_timing import ReplyLatency, SessionLimitsWatch
from gateway.sessions.dead_air import TOOL_HOLD_AFTER_S, DeadAir, ToolHolds
from gateway.sessions.failover import Failover, TranscriptSoFar, switch
from gateway.sessions.monitor import SessionTap
from gateway.sessions.plan import SessionPlan
from gateway.sessions.port import (
    CallerAudio,
    CallerDigit,
    CallerText,
    CallerTurnEnded,
    CallerTurnStarted,
    ClientEvent,
    EndAfterResponse,
    EndSession,
    Interrupt,
    SessionClient,
)
from gateway.sessions.protocol import (
    ProtocolError,
    ServerMessage,
    SessionError,
    SessionTimeout,
    TranscriptionUpdate,
    TurnStarted,
)
from gateway.sessions.provider_pump import pump_once
from gateway.sessions.supervision import Supervision
from gateway.sessions.tool_calls import ToolCalls, WebhookHandler
from gateway.sessions.turn_log import TurnBegun, TurnLog, TurnStore
from gateway.sessions.turn_marks import gateway_marker
from kinds.clock import Clock
from providers.base import ProviderSession
from providers.events import (
    AgentAudio,
    CallerSpeechStarted,
    CallerSpeechStopped,
    OutputTruncated,
    ProviderEvent,
    ProviderFailed,
    ProviderRecovering,
    ResponseDone,
    ToolCall,
    ToolCallsCancelled,
    TranscriptDelta,
)

log = logging.getLogger(__name__)

BUILTIN_SETTLE_S = 3.0
"""How long a response's end waits for a built-in it called (a transfer asks the database);
past it the session goes on and the built-in still takes effect after the next response."""


@dataclass(frozen=True, slots=True)
class ConversationLimits:
    idle_timeout_s: float = 120.0
    max_turns: int | None = None
    max_duration_s: float | None = None
    tool_hold_after_s: float | None = TOOL_HOLD_AFTER_S
    """A tool that has not answered in this long gets a holding line; None: never."""
    tool_hold_after_s_by_tool: Mapping[str, float | None] = field(default_factory=dict)
    """Per tool name, overriding ``tool_hold_after_s`` (None: never)."""


class Conversation:
    """One session's engine; ``run`` returns the end reason once the session is over."""

    def __init__(
        self,
        *,
        provider: ProviderSession,
        client: SessionClient,
        plan: SessionPlan,
        clock: Clock,
        limits: ConversationLimits,
        turns: TurnStore,
        on_reply_latency: Callable[[float], None] | None = None,
        webhooks: WebhookHandler | None = None,
        silence_ms: int = 500,
        greeting: bool = False,
        failover: Failover | None = None,
    ) -> None:
        self._provider = provider
        self._client = client
        self._plan = plan
        self._clock = clock
        self._limits = limits
        self._transcript = TranscriptSoFar(turns)
        self._log = TurnLog(self._transcript, clock)
        voice = plan.mode == "voice"  # chats get no cues: there is no silence to fill
        holds = ToolHolds(limits.tool_hold_after_s, limits.tool_hold_after_s_by_tool, on=voice)
        self._dead_air = DeadAir(client, clock, owed_at_start=greeting and voice, holds=holds)
        self._failover, self._failed_over = failover, False
        self._audio = SessionAudio(plan)
        self._latency = ReplyLatency(clock, on_reply_latency)
        self._marker = gateway_marker(plan, silence_ms)  # turns found in an app's audio
        end_after = self._end_after_response
        self._tools = ToolCalls(
            plan, provider, client, webhooks, end_after, hold=self._dead_air.hold_tool
        )
        self._responding = False
        self._audio_item: str | None = None
        self._ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._end_after: str | None = None
        self._timers = SessionLimitsWatch(clock, limits.idle_timeout_s, limits.max_duration_s)
        self.tools_called: list[str] = []  # names, in order: for the session.ended event
        self.tap = SessionTap(plan)  # live monitoring; costs nothing while nobody listens
        self.supervision = Supervision(
            provider=provider,
            client=client,
            plan=plan,
            log=self._log,
            tap=self.tap,
            responding=lambda: self._responding,
        )

    @property
    def provider(self) -> ProviderSession:
        """The provider session in use (after a failover, the fallback's)."""
        return self._provider

    @property
    def failed_over(self) -> bool:
        """The session moved to its fallback provider."""
        return self._failed_over

    @property
    def turns_completed(self) -> int:
        return self._log.turns_stored

    @property
    def ended(self) -> bool:
        return self._ended.done()

    @property
    def end_reason(self) -> str | None:
        """Why the session ended (the first reason given), or None while it runs."""
        return self._ended.result() if self._ended.done() else None

    def end(self, reason: str) -> None:
        """Ask the session to end; the first reason given is the one recorded."""
        if not self._ended.done():
            self._ended.set_result(reason)

    async def run(self) -> str:
        """Drive the provider and the timers until something ends the session."""
        try:
            async with asyncio.TaskGroup() as group:
                self._tools.start(group)
                pump = group.create_task(self._pump_provider(), name="conversation-pump")
                timers = group.create_task(self._watch_timers(), name="conversation-timers")
                reason = await self._ended
                # Tool calls in flight are abandoned with the session, like the pump and timers.
                pump.cancel()
                timers.cancel()
                self._tools.cancel_all()
        finally:
            self._latency.close()
            # Also when the door's task is cancelled (its socket dropped): what was said of the
            # unfinished turn is still stored.
            self._log.close()
            await self.tap.aclose()
        return reason

    # --- client → provider -------------------------------------------------------------------

    async def receive(self, event: ClientEvent) -> None:
        """Act on one client event; raises ``ProtocolError`` for input it must refuse."""
        match event:
            case CallerAudio(audio=audio):
                await self._caller_audio(audio)
            case CallerText(text=text):
                await self._caller_text(text)
            case CallerDigit(digit=digit):
                await self._caller_text(f"The caller pressed {digit}")
            case CallerTurnStarted(ms_ago=ms_ago):
                await self._turn_started(ms_ago)
            case CallerTurnEnded(ms_ago=ms_ago):
                await self._turn_ended(ms_ago)
            case Interrupt(played_ms=played_ms):
                self._mark_activity()
                self.tap.cut(played_ms)
                await self._provider.interrupt(played_ms)
            case EndSession(reason=reason):
                self.end(reason)
            case EndAfterResponse(reason=reason):
                self._end_after_response(reason)

    async def _caller_audio(self, audio: bytes) -> None:
        if self._plan.mode == "chat":
            raise ProtocolError("audioChunk is not accepted in chat mode; send textMessage")
        self.tap.caller_audio(audio)
        if self.supervision.human:
            return  # a supervisor holds the call: the assistant hears none of it
        converted = self._audio.to_provider(audio)
        await self._provider.send_audio(converted)
        if self._marker is not None:
            for mark in self._marker.feed(converted):
                if mark.edge == "began":
                    await self._turn_started(mark.ms_ago)
                else:
                    await self._turn_ended(mark.ms_ago)

    async def _caller_text(self, text: str) -> None:
        self._mark_activity()
        await self._announce(self._log.caller_said(text, new_turn=True))
        self._caller_done()
        self._dead_air.caller_waits()
        await self._provider.send_text(text)

    async def _turn_started(self, ms_ago: int) -> None:
        self._mark_activity()  # the caller's speech keeps a session alive, whoever hears it
        self._dead_air.caller_speaks()
        await self._announce(self._log.caller_started_speaking())
        if self._plan.provider_takes_turn_marks and not self.supervision.human:
            await self._provider.begin_turn(ms_ago)

    async def _turn_ended(self, ms_ago: int) -> None:
        """The caller finished a turn: the time to the assistant's first output is the turn
        latency."""
        self._mark_activity()
        self._caller_done()
        self._dead_air.caller_waits()
        if self._plan.provider_takes_turn_marks and not self.supervision.human:
            await self._provider.end_turn(ms_ago)
        else:
            await self._provider.caller_turn_ended(ms_ago)

    def _end_after_response(self, reason: str) -> None:
        """End once the current response is complete (a goodbye or transfer line is heard)."""
        self._end_after = reason

    # --- provider → client -------------------------------------------------------------------

    async def _pump_provider(self) -> None:
        while True:
            failure = await self._pump_once()
            if self._ended.done():
                return
            if failure is None:
                self.end("provider_closed")
                return
            log.warning("provider failed", extra={"code": failure.code})
            if not await self._fail_over(failure.code):
                await self._client.deliver(SessionError(error=failure.message))
                self.end("provider_error")
                return

    async def _pump_once(self) -> ProviderFailed | None:
        """Act on the current provider's events until it fails (returned) or closes."""
        return await pump_once(self._provider, self._on_event, self._ended.done)

    async def _fail_over(self, code: str) -> bool:
        """Go on with the fallback provider (once), re-seeded with the transcript so far; the
        caller hears a short bridge line instead of the apology. False: no fallback."""
        failover = self._failover
        if failover is None or self._failed_over:
            return False
        self._failed_over = True
        await self._dead_air.play("failover")
        owed = self._dead_air.owed
        self._log.close()  # the unfinished turn is stored as it stands, and seeds the fallback
        switched = await switch(failover, self._transcript.history(), owed)
        if switched is None:
            return False
        provider, unanswered = switched.provider, switched.unanswered
        self._plan, self._audio = switched.plan, SessionAudio(switched.plan)
        old, self._provider = self._provider, provider
        self._tools.use(provider)
        self._responding, self._audio_item = False, None
        await old.aclose()
        log.warning("provider failed over", extra={"code": code, "fallback": failover.fallback})
        await failover.record(failover.primary, failover.fallback, code)
        if unanswered is not None:
            self._dead_air.caller_waits()
            self._log.caller_said(unanswered, new_turn=True)
            await provider.send_text(unanswered)
        return True

    async def _on_event(self, event: ProviderEvent) -> None:
        match event:
            case AgentAudio(audio=audio, item_id=item_id):
                await self._agent_audio(audio, item_id)
            case TranscriptDelta(source=source, text=text, item_id=item_id):
                self._mark_activity()
                if source == "output":
                    self._latency.replying()
                    await self._announce(self._log.agent_said(text, item_id))
                else:
                    await self._announce(self._log.caller_said(text, new_turn=False))
                final = event.final if source == "input" else None
                await self._deliver(TranscriptionUpdate(source=source, text=text, final=final))
            case CallerSpeechStopped():
                self._mark_activity()
                self._caller_done()  # the provider's VAD ended the caller's turn
            case CallerSpeechStarted():
                self._mark_activity()
                self._dead_air.caller_speaks()
                await self._announce(self._log.caller_started_speaking())
                handled = await self._client.caller_speech_started()
                if not handled and self._responding:
                    self.tap.cut(None)
                    await self._provider.interrupt(None)
            case OutputTruncated(item_id=item_id, text=text):
                self._log.amend(item_id, text)
            case ResponseDone(interrupted=interrupted):
                await self._response_done(interrupted)
            case ToolCall():
                self._mark_activity()
                self.tools_called.append(event.name)
                self._tools.call(event)
            case ToolCallsCancelled(call_ids=call_ids):
                self._tools.cancel(call_ids)
            case ProviderRecovering():
                await self._dead_air.recovering(event, responding=self._responding)

    async def _deliver(self, message: ServerMessage) -> None:
        self.tap.message(message)
        await self._client.deliver(message)

    async def _agent_audio(self, audio: bytes, item_id: str) -> None:
        if self.supervision.human:
            return  # said after the take-over stopped it: the caller hears the supervisor
        self._latency.replying()
        self._mark_activity()
        await self._announce(self._log.agent_audio(item_id))
        self._responding = True
        self._audio_item = item_id
        converted = self._audio.from_provider(audio)
        if converted:
            port = self._plan.outbound.port
            self._dead_air.agent_spoke(len(converted) / port.bytes_per_ms / 1000)
            self.tap.assistant_audio(converted, item_id)
            await self._client.deliver_audio(converted, item_id)

    async def _announce(self, begun: TurnBegun | None) -> None:
        if begun is not None:
            await self._client.deliver(TurnStarted(role=begun.role, turn_id=begun.turn_id))

    def _caller_done(self) -> None:
        self._log.caller_turn_ended()
        self._latency.caller_done()

    async def _response_done(self, interrupted: bool) -> None:
        self._responding = False
        self._dead_air.response_done()
        tail = self._audio.flush_from_provider()
        if tail and self._audio_item is not None and not interrupted:
            self.tap.assistant_audio(tail, self._audio_item)
            await self._client.deliver_audio(tail, self._audio_item)
        await self._tools.settle_builtins(self._clock, BUILTIN_SETTLE_S)
        done = self._log.complete(interrupted=interrupted)
        await self._deliver(done.message(interrupted=interrupted))
        if self._end_after is not None:
            self.end(self._end_after)
        elif self._limits.max_turns and self._log.turns_stored >= self._limits.max_turns:
            self.end("max_turns")

    # --- timers ------------------------------------------------------------------------------

    def _mark_activity(self) -> None:
        self._timers.mark_activity()

    def keep_alive(self) -> None:
        """The session is busy in a way the engine cannot see (a caller on hold): not idle."""
        self._timers.mark_activity()

    async def _watch_timers(self) -> None:
        reason = await self._timers.expired()
        if reason == "idle_timeout":
            idle_s = self._limits.idle_timeout_s
            await self._client.deliver(SessionTimeout(timeout_seconds=round(idle_s)))
        self.end(reason)
