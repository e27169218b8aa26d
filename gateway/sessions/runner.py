"""Runs a connected session: opens its provider, drives the Conversation, records the end.

Used by every client door (the app socket now, the phone bridge later), so a session ends,
releases its provider and stores its transcript the same way whatever its channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any

from gateway import metrics, tracing
from gateway.sessions.caller_context import describe_caller
from gateway.sessions.conversation import Conversation, ConversationLimits
from gateway.sessions.dead_air import hold_connect, tool_holds
from gateway.sessions.early_connect import EarlyConnects
from gateway.sessions.events import PostCallEvents
from gateway.sessions.failover import Failover, at_connect
from gateway.sessions.failover_setup import as_connected, failover_for
from gateway.sessions.greeting_cache import GreetingCache
from gateway.sessions.greeting_replay import connect_greeting
from gateway.sessions.live import LiveSessions
from gateway.sessions.plan import ClientTraits, SessionPlan, plan_session
from gateway.sessions.port import SessionClient
from gateway.sessions.protocol import SessionError, SessionOpen
from gateway.sessions.recordings_store import RecordingStorage
from gateway.sessions.service import SessionService
from gateway.sessions.session_recording import recorder_for, run_recorded
from gateway.sessions.session_spec import overrides_of, plan_mode, session_spec
from gateway.sessions.tool_calls import WebhookHandler
from gateway.sessions.tools import CallContext, ToolEndpoint, WebhookTools
from gateway.sessions.transcripts import SessionTurns, TranscriptWriter
from gateway.sessions.transfer_spec import can_transfer, transfer_tool
from gateway.sessions.wrap_up import complete_despite_cancel
from gateway.store import Store
from gateway.store.models import Assistant, Session
from kinds.clock import Clock
from providers.base import ProviderSession
from providers.errors import ProviderError
from providers.events import ToolCall
from providers.registry import ProviderRegistry
from providers.spec import HistoryItem, SessionContext

log = logging.getLogger(__name__)

ClientReader = Callable[[Conversation], Coroutine[Any, Any, None]]
"""Feeds client input to the conversation until the client goes away."""
TRANSCRIPT_SETTLE_S = 3.0  # session.ended waits this long at most for the last turns to be stored

ToolObserver = Callable[[ToolCall], dict[str, Any] | None]
"""Told of each webhook tool call before it is delivered (the REST chat door streams it);
returns metadata of the current turn to merge into the webhook's ``metadata``, if any."""


class SessionRunner:
    """Plans a claimed session, connects it to its provider and runs it to the end."""

    def __init__(
        self,
        *,
        store: Store,
        service: SessionService,
        providers: ProviderRegistry,
        transcripts: TranscriptWriter,
        live: LiveSessions,
        clock: Clock,
        tools: WebhookTools,
        recordings: RecordingStorage | None = None,
        events: PostCallEvents | None = None,
        greetings: GreetingCache | None = None,
    ) -> None:
        self._tools = tools
        self._greetings = greetings
        self._events = events
        self._recordings = recordings
        self._store = store
        self._service = service
        self._providers = providers
        self._transcripts = transcripts
        self._live = live
        self._clock = clock
        self.early = EarlyConnects(clock)

    @property
    def recordings(self) -> RecordingStorage | None:
        """Where sessions are recorded (None: recording is off on this gateway)."""
        return self._recordings

    async def run(
        self,
        session: Session,
        client: SessionClient,
        reader: ClientReader,
        *,
        assistant: Assistant | None = None,
        tool_observer: ToolObserver | None = None,
    ) -> str:
        """Run the session until it ends; returns (and records) the end reason.

        A door that has just read the session's assistant passes it to save the query."""
        await self._live.reserve(session.id)
        try:
            if assistant is None or assistant.id != session.assistant_id:
                assistant = await self._store.assistants.get(
                    session.assistant_id, include_deleted=True
                )
            if assistant is None:  # the row is referenced by a foreign key: only a broken DB
                await self._service.finish(session.id, "assistant_missing")
                return "assistant_missing"
            with tracing.span("session", session_id=session.id, channel=session.channel):
                reason = await self._run(session, client, reader, assistant, tool_observer)
                tracing.annotate(outcome=reason)
                return reason
        finally:
            await self._live.remove(session.id)

    def connect_early(self, session_id: str, traits: ClientTraits) -> None:
        """Open the session's provider now (a call's voice webhook), for the media socket's
        ``run`` to take: the greeting is ready when the call connects."""
        self.early.start(session_id, self._open_early(session_id, traits))

    async def _open_early(self, session_id: str, traits: ClientTraits) -> ProviderSession:
        session = await self._store.sessions.get(session_id)
        if session is None:
            raise LookupError("no such session")
        assistant = await self._store.assistants.get(session.assistant_id, include_deleted=True)
        if assistant is None:
            raise LookupError("no such assistant")
        plan = self.plan_for(session, traits, assistant)
        return await self._connect(session, assistant, plan, assistant.provider)

    def plan(self, session: Session, client: SessionClient, assistant: Assistant) -> SessionPlan:
        """The session plan: formats, turns and built-ins, decided once (``plan_session``)."""
        return self.plan_for(session, client.traits, assistant)

    def plan_for(self, session: Session, traits: ClientTraits, assistant: Assistant) -> SessionPlan:
        mode = plan_mode(session)
        provider = self._providers.get(assistant.provider)
        return plan_session(
            traits,
            provider.capabilities(mode),
            session_spec(assistant, session),
            mode,
            can_transfer=can_transfer(assistant),
            transfer_tool=transfer_tool(assistant),
        )

    async def _run(
        self,
        session: Session,
        client: SessionClient,
        reader: ClientReader,
        assistant: Assistant,
        tool_observer: ToolObserver | None,
    ) -> str:
        plan = self.plan(session, client, assistant)
        failover = self._failover(session, assistant, client, plan)
        try:
            provider_session = await hold_connect(
                self._clock, client, self._connecting(session, assistant, plan)
            )
            plan = as_connected(plan, provider_session)
        except ProviderError as exc:
            log.warning("provider connect failed", extra={"code": exc.code})
            metrics.PROVIDER_ERRORS.labels(assistant.provider).inc()
            switched = await at_connect(failover, exc.code)
            if switched is None:
                await client.deliver(SessionError(error=f"AI provider unavailable: {exc}"))
                await self._service.finish(session.id, "provider_error")
                return "provider_error"
            (provider_session, plan), failover = switched, None
        client.session_planned(plan)
        conversation = Conversation(
            provider=provider_session,
            client=client,
            plan=plan,
            clock=self._clock,
            limits=ConversationLimits(
                idle_timeout_s=assistant.idle_timeout_s,
                max_turns=overrides_of(session).max_turns or assistant.max_turns,
                max_duration_s=assistant.max_duration_s,
                tool_hold_after_s_by_tool=tool_holds(assistant.tools),
            ),
            turns=SessionTurns(self._transcripts, session.id),
            on_reply_latency=metrics.TURN_LATENCY.labels(session.channel).observe,
            webhooks=self._webhooks(session, assistant, tool_observer),
            silence_ms=session_spec(assistant, session).turn_detection.silence_ms,
            greeting=bool(session_spec(assistant, session).greeting),
            failover=failover,
        )
        return await self._recorded(session, assistant, client, conversation, reader, plan)

    async def _recorded(
        self,
        session: Session,
        assistant: Assistant,
        client: SessionClient,
        conversation: Conversation,
        reader: ClientReader,
        plan: SessionPlan,
    ) -> str:
        """Converse, recording the session if this gateway and its assistant record."""
        recorder = recorder_for(self._recordings, session, assistant, plan)
        if self._recordings is None or recorder is None:
            return await self._converse(session, assistant, client, conversation, reader)
        conversation.tap.recorder = recorder
        return await run_recorded(
            self._recordings,
            recorder,
            session.id,
            lambda: self._converse(session, assistant, client, conversation, reader),
        )

    def _failover(
        self, session: Session, assistant: Assistant, client: SessionClient, plan: SessionPlan
    ) -> Failover | None:
        """How this session moves to the assistant's fallback provider (``failover_for``)."""
        return failover_for(
            session,
            assistant,
            client.traits,
            plan,
            providers=self._providers,
            store=self._store,
            clock=self._clock,
            connect=lambda own, name, history: self._connect(
                session, assistant, own, name, history=history
            ),
        )

    async def _connecting(
        self, session: Session, assistant: Assistant, plan: SessionPlan
    ) -> ProviderSession:
        """The connect begun at the call's webhook if there is one, else a new one."""
        early = self.early.take(session.id)
        if early is not None:
            try:
                return await early
            except ProviderError:
                raise
            except Exception:  # the early attempt failed for our own reasons: try afresh
                log.warning("early provider connect failed", extra={"session_id": session.id})
        return await self._connect(session, assistant, plan, assistant.provider)

    async def _connect(
        self,
        session: Session,
        assistant: Assistant,
        plan: SessionPlan,
        provider_name: str,
        *,
        history: tuple[HistoryItem, ...] = (),
    ) -> ProviderSession:
        spec = session_spec(assistant, session, plan.offered_tools)
        if provider_name != assistant.provider:  # a fallback: its own default model and voice
            spec = replace(spec, provider=provider_name, model=None, voice=None)
        if history:  # taking over mid-call: the caller has been greeted already
            spec = replace(spec, greeting=None)
        context = SessionContext(
            session_id=session.id,
            mode=plan.mode,
            language_code=session.language_code,
            caller_context=await self._caller_context(session),
            history=history,
            input_audio=plan.inbound.provider,
            output_audio=plan.outbound.provider,
            client_turns=plan.provider_takes_turn_marks,
            history_window=overrides_of(session).context_window,
        )
        provider = self._providers.get(provider_name)
        with tracing.span("provider.connect", session_id=session.id, provider=provider_name):
            if self._greetings is not None:  # a cached greeting plays while it connects
                return await connect_greeting(self._greetings, provider, spec, context)
            return await provider.connect(spec, context)

    async def _converse(
        self,
        session: Session,
        assistant: Assistant,
        client: SessionClient,
        conversation: Conversation,
        reader: ClientReader,
    ) -> str:
        await self._live.add(session.id, conversation)
        reason = "internal_error"
        active = metrics.SESSIONS_ACTIVE.labels(session.channel, assistant.provider)
        active.inc()
        try:
            await client.deliver(SessionOpen(provider=assistant.provider, mode=plan_mode(session)))
            await self._emit("session.started", session, assistant)
            try:
                reason = await _drive(conversation, reader)
            except asyncio.CancelledError:
                # The door's task was cancelled (its connection was lost, or the server stops):
                # keep the reason the conversation already had, if any.
                reason = conversation.end_reason or "cancelled"
                raise
        finally:
            active.dec()
            if reason == "provider_error":
                metrics.PROVIDER_ERRORS.labels(assistant.provider).inc()
            await complete_despite_cancel(self._wrap_up(conversation.provider, session.id, reason))
            await complete_despite_cancel(
                self._emit("session.ended", session, assistant, conversation.tools_called)
            )
        metrics.SESSIONS_ENDED.labels(session.channel, reason).inc()
        log.info("session ended", extra={"session_id": session.id, "reason": reason})
        return reason

    async def _wrap_up(
        self, provider_session: ProviderSession, session_id: str, reason: str
    ) -> None:
        await provider_session.aclose()
        await self._service.finish(session_id, reason)

    async def _emit(
        self,
        kind: str,
        session: Session,
        assistant: Assistant,
        tools_called: list[str] | None = None,
    ) -> None:
        """Store a post-call event; failing to costs the event (logged), never the session."""
        if self._events is None or not assistant.events_url:
            return
        try:
            if kind == "session.started":
                await self._events.session_started(session, assistant)
            else:
                # The transcript writer stores the last turns first (bounded wait).
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._transcripts.drain(), TRANSCRIPT_SETTLE_S)
                await self._events.session_ended(session.id, assistant, tools_called or [])
        except Exception:
            log.exception("post-call event not stored", extra={"session_id": session.id})

    async def _caller_context(self, session: Session) -> str | None:
        """What we know of the caller; a failure here costs the assistant a hint, not the call."""
        try:
            return await describe_caller(self._store, session)
        except Exception:
            log.exception("caller context failed", extra={"session_id": session.id})
            return None

    def _webhooks(
        self, session: Session, assistant: Assistant, observer: ToolObserver | None
    ) -> WebhookHandler:
        chosen = overrides_of(session).tools
        endpoints = {
            tool["name"]: ToolEndpoint(tool["name"], tool["webhook_url"])
            for tool in assistant.tools
            if tool.get("webhook_url") and (chosen is None or tool["name"] in chosen)
        }
        context = CallContext(session.id, assistant.id, session.phone_number, session.meta)

        async def handle(call: ToolCall) -> dict[str, Any]:
            turn_metadata = observer(call) if observer is not None else None
            endpoint = endpoints.get(call.name)
            if endpoint is None:
                return {"error": f"tool {call.name!r} has no webhook"}
            called = context
            if turn_metadata:
                called = replace(context, metadata={**(context.metadata or {}), **turn_metadata})
            return await self._tools.call(endpoint, call, called)

        return handle


async def _drive(conversation: Conversation, reader: ClientReader) -> str:
    async with asyncio.TaskGroup() as group:
        reading = group.create_task(reader(conversation), name="session-reader")
        reason = await conversation.run()
        reading.cancel()
    return reason
