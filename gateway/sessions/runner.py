"""Runs a connected session: opens its provider, drives the Conversation, records the end.

Used by every client door (the app socket now, the phone bridge later), so a session ends,
releases its provider and stores its transcript the same way whatever its channel.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any

from gateway import metrics, tracing
from gateway.sessions.caller_context import describe_caller
from gateway.sessions.conversation import Conversation, ConversationLimits
from gateway.sessions.live import LiveSessions
from gateway.sessions.plan import AudioRoute, SessionPlan, plan_session
from gateway.sessions.port import SessionClient
from gateway.sessions.protocol import SessionError, SessionOpen
from gateway.sessions.service import SessionService
from gateway.sessions.session_spec import overrides_of, plan_mode, session_spec
from gateway.sessions.tool_calls import WebhookHandler
from gateway.sessions.tools import CallContext, ToolEndpoint, WebhookTools
from gateway.sessions.transcripts import TranscriptWriter, TurnRecord
from gateway.store import Store
from gateway.store.models import Assistant, Session
from kinds.clock import Clock
from providers.base import ProviderSession
from providers.errors import ProviderError
from providers.events import ToolCall
from providers.registry import ProviderRegistry
from providers.spec import SessionContext

log = logging.getLogger(__name__)

ClientReader = Callable[[Conversation], Coroutine[Any, Any, None]]
"""Feeds client input to the conversation until the client goes away."""
ToolObserver = Callable[[ToolCall], dict[str, Any] | None]
"""Told of each webhook tool call before it is delivered (the REST chat door streams it);
returns metadata of the current turn to merge into the webhook's ``metadata``, if any."""


def _as_connected(plan: SessionPlan, provider: ProviderSession) -> SessionPlan:
    """The plan with the formats the provider really opened in: should it not honour the
    plan's choice, the engine converts rather than feed it audio it cannot read."""
    caps = provider.capabilities
    if caps.input_audio != plan.inbound.provider:
        plan = replace(plan, inbound=AudioRoute(plan.inbound.port, caps.input_audio))
    if caps.output_audio != plan.outbound.provider:
        plan = replace(plan, outbound=AudioRoute(plan.outbound.port, caps.output_audio))
    return plan


async def _complete_despite_cancel(work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` to the end even if this task is cancelled meanwhile, then re-raise.

    A session's wrap-up (release the provider, record the end) must not be cut in half: a door
    whose connection drops while its session is finishing (aiohttp cancels the handler) would
    otherwise leave the session ``active`` in the database.
    """
    task = asyncio.ensure_future(work)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    task.result()


@dataclass(frozen=True, slots=True)
class SessionTurns:
    """One session's view of the transcript writer."""

    writer: TranscriptWriter
    session_id: str

    def add(self, first_seq: int, records: tuple[TurnRecord, ...], completed: bool) -> None:
        self.writer.submit(self.session_id, first_seq, records, int(completed))

    def amend(self, seq: int, text: str) -> None:
        self.writer.amend(self.session_id, seq, text)


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
    ) -> None:
        self._tools = tools
        self._store = store
        self._service = service
        self._providers = providers
        self._transcripts = transcripts
        self._live = live
        self._clock = clock

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

    def plan(self, session: Session, client: SessionClient, assistant: Assistant) -> SessionPlan:
        """The session plan: formats, turns and built-ins, decided once (``plan_session``)."""
        mode = plan_mode(session)
        provider = self._providers.get(assistant.provider)
        return plan_session(
            client.traits,
            provider.capabilities(mode),
            session_spec(assistant, session),
            mode,
            can_transfer=bool(assistant.transfer_number),
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
        try:
            provider_session = await self._connect(session, assistant, plan)
        except ProviderError as exc:
            log.warning("provider connect failed", extra={"code": exc.code})
            metrics.PROVIDER_ERRORS.labels(assistant.provider).inc()
            await client.deliver(SessionError(error=f"AI provider unavailable: {exc}"))
            await self._service.finish(session.id, "provider_error")
            return "provider_error"
        plan = _as_connected(plan, provider_session)
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
            ),
            turns=SessionTurns(self._transcripts, session.id),
            on_reply_latency=metrics.TURN_LATENCY.labels(session.channel).observe,
            webhooks=self._webhooks(session, assistant, tool_observer),
            silence_ms=session_spec(assistant, session).turn_detection.silence_ms,
        )
        return await self._converse(
            session, assistant, client, conversation, provider_session, reader
        )

    async def _connect(
        self, session: Session, assistant: Assistant, plan: SessionPlan
    ) -> ProviderSession:
        spec = session_spec(assistant, session, plan.offered_tools)
        context = SessionContext(
            session_id=session.id,
            mode=plan.mode,
            language_code=session.language_code,
            caller_context=await self._caller_context(session),
            input_audio=plan.inbound.provider,
            output_audio=plan.outbound.provider,
            client_turns=plan.provider_takes_turn_marks,
            history_window=overrides_of(session).context_window,
        )
        with tracing.span("provider.connect", session_id=session.id, provider=assistant.provider):
            return await self._providers.get(assistant.provider).connect(spec, context)

    async def _converse(
        self,
        session: Session,
        assistant: Assistant,
        client: SessionClient,
        conversation: Conversation,
        provider_session: ProviderSession,
        reader: ClientReader,
    ) -> str:
        await self._live.add(session.id, conversation)
        reason = "internal_error"
        active = metrics.SESSIONS_ACTIVE.labels(session.channel, assistant.provider)
        active.inc()
        try:
            await client.deliver(SessionOpen(provider=assistant.provider, mode=plan_mode(session)))
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
            await _complete_despite_cancel(self._wrap_up(provider_session, session.id, reason))
        metrics.SESSIONS_ENDED.labels(session.channel, reason).inc()
        log.info("session ended", extra={"session_id": session.id, "reason": reason})
        return reason

    async def _wrap_up(
        self, provider_session: ProviderSession, session_id: str, reason: str
    ) -> None:
        await provider_session.aclose()
        await self._service.finish(session_id, reason)

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
