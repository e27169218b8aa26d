"""Runs a connected session: opens its provider, drives the Conversation, records the end.

Used by every client door (the app socket now, the phone bridge later), so a session ends,
releases its provider and stores its transcript the same way whatever its channel.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from gateway import metrics
from gateway.sessions.audio_format import SESSION_AUDIO
from gateway.sessions.caller_context import describe_caller
from gateway.sessions.conversation import (
    Conversation,
    ConversationClient,
    ConversationLimits,
    ToolHandler,
)
from gateway.sessions.protocol import SessionError, SessionOpen
from gateway.sessions.service import SessionService
from gateway.sessions.tools import CallContext, ToolEndpoint, WebhookTools
from gateway.sessions.transcripts import TranscriptWriter, TurnRecord
from gateway.sessions.turn_marks import TurnMarker
from gateway.state.control import ControlBus, SessionDirectory
from gateway.store import Store
from gateway.store.models import Assistant, Session
from kinds.audio import AudioFormat
from kinds.clock import Clock
from providers.base import ProviderSession
from providers.capabilities import ProviderCapabilities
from providers.errors import ProviderError
from providers.events import ToolCall
from providers.registry import ProviderRegistry
from providers.spec import AssistantSpec, SessionContext, SessionMode, ToolSpec, TurnDetection

log = logging.getLogger(__name__)

ClientReader = Callable[[Conversation], Coroutine[Any, Any, None]]
"""Feeds client input to the conversation until the client goes away."""


@dataclass(frozen=True, slots=True)
class BuiltinTool:
    """A tool the client door answers itself, offered to the model with ``spec``."""

    spec: ToolSpec
    handler: ToolHandler


def assistant_spec(assistant: Assistant, extra_tools: tuple[ToolSpec, ...] = ()) -> AssistantSpec:
    """The provider-neutral view of a stored assistant (plus the door's built-in tools)."""
    tools = extra_tools + tuple(
        ToolSpec(
            name=tool["name"],
            description=tool.get("description", ""),
            parameters=tool.get("parameters") or {"type": "object", "properties": {}},
        )
        for tool in assistant.tools
    )
    return AssistantSpec(
        name=assistant.name,
        instructions=assistant.instructions,
        provider=assistant.provider,
        model=assistant.model,
        voice=assistant.voice,
        language_code=assistant.language_code,
        greeting=assistant.greeting,
        tools=tools,
        turn_detection=TurnDetection(**assistant.turn_detection),
        temperature=assistant.temperature,
    )


def _agreed_audio(native: AudioFormat | None, caps: ProviderCapabilities) -> AudioFormat:
    """The client's own format when the provider takes and gives it, else PCM16 24 kHz."""
    if native is not None and caps.input_audio == native and caps.output_audio == native:
        return native
    return SESSION_AUDIO


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


class LiveSessions:
    """The conversations this node holds, so an end request can reach them."""

    def __init__(self, directory: SessionDirectory, bus: ControlBus, node_id: str) -> None:
        self._directory = directory
        self._node_id = node_id
        self._conversations: dict[str, Conversation] = {}
        self._reserved: set[str] = set()
        bus.on_end(self._end_local)

    def __len__(self) -> int:
        return len(self._reserved)

    async def reserve(self, session_id: str) -> None:
        """Record this node as the owner as soon as the session is claimed, before its
        provider connects, so no other node takes it for lost meanwhile."""
        self._reserved.add(session_id)
        await self._directory.claim(session_id, self._node_id)

    async def add(self, session_id: str, conversation: Conversation) -> None:
        self._conversations[session_id] = conversation

    async def remove(self, session_id: str) -> None:
        self._conversations.pop(session_id, None)
        self._reserved.discard(session_id)
        await self._directory.release(session_id, self._node_id)

    def end_all(self, reason: str) -> None:
        for conversation in list(self._conversations.values()):
            conversation.end(reason)

    async def _end_local(self, session_id: str, reason: str) -> bool:
        conversation = self._conversations.get(session_id)
        if conversation is None:
            return False
        conversation.end(reason)
        return True


class SessionRunner:
    """Connects a claimed session to its provider and runs it to the end."""

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
        client: ConversationClient,
        reader: ClientReader,
        builtins: Mapping[str, BuiltinTool] | None = None,
        *,
        assistant: Assistant | None = None,
    ) -> str:
        """Run the session until it ends; returns (and records) the end reason.

        ``builtins`` are tools the door itself answers (the phone's ``transfer_call``). A door
        that has just read the session's assistant passes it to save the query."""
        await self._live.reserve(session.id)
        try:
            return await self._run(session, client, reader, builtins or {}, assistant)
        finally:
            await self._live.remove(session.id)

    async def _run(
        self,
        session: Session,
        client: ConversationClient,
        reader: ClientReader,
        builtins: Mapping[str, BuiltinTool],
        assistant: Assistant | None,
    ) -> str:
        if assistant is None or assistant.id != session.assistant_id:
            assistant = await self._store.assistants.get(session.assistant_id, include_deleted=True)
        if assistant is None:  # the row is referenced by a foreign key, so only a broken DB
            await self._service.finish(session.id, "assistant_missing")
            return "assistant_missing"
        mode: SessionMode = "chat" if session.mode == "chat" else "voice"
        native: AudioFormat | None = getattr(client, "native_audio", None)
        detects_turns = bool(getattr(client, "detects_turns", False))
        spec = assistant_spec(assistant, tuple(tool.spec for tool in builtins.values()))
        caps = self._providers.get(assistant.provider).capabilities(mode)
        context = SessionContext(
            session_id=session.id,
            mode=mode,
            language_code=session.language_code,
            caller_context=await self._caller_context(session),
            input_audio=native if native in caps.input_formats else None,
            output_audio=native if native in caps.output_formats else None,
            # The bridge marks every call's turns; for an app the gateway marks them only when
            # the assistant turns the provider's VAD off (see ``turn_marks``).
            client_turns=(detects_turns and caps.vad_runs_locally)
            or not spec.turn_detection.server_vad,
        )
        try:
            provider_session = await self._providers.get(assistant.provider).connect(spec, context)
        except ProviderError as exc:
            log.warning("provider connect failed", extra={"code": exc.code})
            metrics.PROVIDER_ERRORS.labels(assistant.provider).inc()
            await client.deliver(SessionError(error=f"AI provider unavailable: {exc}"))
            await self._service.finish(session.id, "provider_error")
            return "provider_error"
        client_audio = _agreed_audio(native, provider_session.capabilities)
        agree = getattr(client, "audio_agreed", None)
        if agree is not None:
            agree(client_audio)
        conversation = Conversation(
            provider=provider_session,
            client_audio=client_audio,
            client=client,
            clock=self._clock,
            mode=session.mode,
            limits=ConversationLimits(
                idle_timeout_s=assistant.idle_timeout_s,
                max_turns=assistant.max_turns,
                max_duration_s=assistant.max_duration_s,
            ),
            turns=SessionTurns(self._transcripts, session.id),
            on_reply_latency=metrics.TURN_LATENCY.labels(session.channel).observe,
            tool_handler=self._tool_handler(session, assistant, builtins),
            turn_marker=None
            if detects_turns or mode != "voice" or provider_session.capabilities.server_vad
            else TurnMarker(client_audio.sample_rate_hz, spec.turn_detection.silence_ms),
        )
        await self._live.add(session.id, conversation)
        reason = "internal_error"
        active = metrics.SESSIONS_ACTIVE.labels(session.channel, assistant.provider)
        active.inc()
        try:
            await client.deliver(SessionOpen(provider=assistant.provider, mode=mode))
            try:
                reason = await self._converse(conversation, reader)
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

    async def _converse(self, conversation: Conversation, reader: ClientReader) -> str:
        async with asyncio.TaskGroup() as group:
            reading = group.create_task(reader(conversation), name="session-reader")
            reason = await conversation.run()
            reading.cancel()
        return reason

    def _tool_handler(
        self, session: Session, assistant: Assistant, builtins: Mapping[str, BuiltinTool]
    ) -> ToolHandler:
        endpoints = {
            tool["name"]: ToolEndpoint(tool["name"], tool["webhook_url"])
            for tool in assistant.tools
            if tool.get("webhook_url")
        }
        context = CallContext(session.id, assistant.id, session.phone_number)

        async def handle(call: ToolCall) -> dict[str, Any]:
            if call.name in builtins:
                return await builtins[call.name].handler(call)
            endpoint = endpoints.get(call.name)
            if endpoint is None:
                return {"error": f"tool {call.name!r} has no webhook"}
            return await self._tools.call(endpoint, call, context)

        return handle
