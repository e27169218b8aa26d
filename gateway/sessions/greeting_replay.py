"""A call whose greeting is cached hears it at once, while its provider still connects.

``connect_greeting`` opens a session the way the cache allows: with the greeting cached, the
provider is connected *without* being asked to greet, its history seeded with the greeting as an
assistant item (it knows it was said, and does not say it again), and a ``ReplayedGreeting`` is
returned at once. The engine sees an ordinary provider session whose first response is the
cached greeting (audio, transcript, end), so the turn log, recording, dead-air bookkeeping and
barge-in treat it like any greeting. Otherwise the session is connected as before and a
``GreetingRecorder`` keeps its greeting for the next call.

Barge-in during the replay: the bridge clears the carrier and reports the played position, as
for any response; the greeting item is truncated there (``OutputTruncated``, the words in
proportion to the audio heard) and the provider is told by a note what the caller heard.

Only providers that can be seeded with a conversation (``capabilities.history_window``) get a
replay; the local provider speaks its greeting on the gateway at once anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from gateway.sessions.greeting_cache import (
    CachedGreeting,
    GreetingCache,
    GreetingKey,
    config_digest,
)
from gateway.sessions.greeting_recorder import GreetingRecorder
from providers.base import Provider, ProviderSession
from providers.capabilities import ProviderCapabilities
from providers.errors import ProviderError
from providers.events import (
    AgentAudio,
    OutputTruncated,
    ProviderEvent,
    ProviderFailed,
    ResponseDone,
    TranscriptDelta,
)
from providers.spec import AssistantSpec, HistoryItem, SessionContext
from providers.toolkit.backlog import AudioBacklog
from providers.toolkit.channel import EventChannel

log = logging.getLogger(__name__)

__all__ = ["ReplayedGreeting", "connect_greeting", "heard_words"]

BACKLOG_MS = 5000
"""Caller audio held while the provider connects: far more than a connect takes (the
provider's own retry budget ends it sooner); the oldest is dropped beyond it."""


async def connect_greeting(
    cache: GreetingCache, provider: Provider, spec: AssistantSpec, context: SessionContext
) -> ProviderSession:
    """A session for a call that begins with ``spec.greeting`` (see the module's docstring)."""
    caps = provider.capabilities(context.mode)
    greeting = spec.greeting
    if not greeting or context.mode != "voice" or not caps.history_window or context.history:
        return await provider.connect(spec, context)
    output = context.output_audio or caps.output_audio
    key = GreetingKey(provider.name, spec.model, spec.voice, greeting, output, config_digest(spec))
    cached = cache.get(key)
    if cached is None:
        return GreetingRecorder(await provider.connect(spec, context), cache, key)
    seeded = replace(context, history=(HistoryItem("assistant", greeting),))
    connecting = asyncio.ensure_future(provider.connect(replace(spec, greeting=None), seeded))
    opened = replace(caps, input_audio=context.input_audio or caps.input_audio, output_audio=output)
    return ReplayedGreeting(connecting, cached, opened)


def heard_words(greeting: CachedGreeting, played_ms: int) -> str:
    """The greeting's words the caller heard in full, in proportion to its audio (the best
    known: the provider gives no word timings for it)."""
    words = greeting.text.split()
    share = min(1.0, max(0.0, played_ms / max(1, greeting.duration_ms)))
    return " ".join(words[: int(len(words) * share)])


class ReplayedGreeting(ProviderSession):
    """The cached greeting first, then the provider session ``connecting`` yields."""

    def __init__(
        self,
        connecting: asyncio.Future[ProviderSession],
        greeting: CachedGreeting,
        capabilities: ProviderCapabilities,
    ) -> None:
        self.capabilities = capabilities
        self._connecting = connecting
        self._greeting = greeting
        self._item_id = f"greeting_{uuid.uuid4().hex[:16]}"
        self._events = EventChannel()
        for chunk in greeting.chunks:
            self._events.put(AgentAudio(chunk, self._item_id))
        self._events.put(TranscriptDelta("output", greeting.text, self._item_id))
        self._events.put(ResponseDone(self._item_id))
        self._backlog = AudioBacklog(capabilities.input_audio.bytes_per_ms * BACKLOG_MS)
        self._session: ProviderSession | None = None
        self._greeting_current = True  # interrupts cut the greeting until the provider speaks
        self._heard: str | None = None  # the greeting's words heard, when it was cut
        self._ready = asyncio.Event()  # connected and the backlog sent, or failed
        self._forward = asyncio.ensure_future(self._forward_events())

    async def _forward_events(self) -> None:
        try:
            try:
                session = await self._open()
            finally:
                self._ready.set()
            if session is None:
                return
            async for event in session:
                if isinstance(event, AgentAudio):
                    self._greeting_current = False
                self._events.put(event)
        except Exception:  # the engine must hear of it, not wait for events forever
            log.exception("provider session failed behind a replayed greeting")
            self._events.put(ProviderFailed("internal_error", "provider session failed"))
        finally:
            self._events.close()

    async def _open(self) -> ProviderSession | None:
        """The connected session with the caller's audio so far sent; None: it failed (an
        event says why)."""
        try:
            session = await self._connecting
        except ProviderError as exc:
            self._events.put(ProviderFailed(exc.code, str(exc), exc.retryable))
            return None
        except Exception:
            log.exception("provider connect failed after a replayed greeting")
            self._events.put(ProviderFailed("connect_failed", "provider connect failed"))
            return None
        while self._backlog:  # audio sent meanwhile joins the backlog: order is kept
            await session.send_audio(self._backlog.popleft())
        self._session = session
        if self._heard is not None:
            await _tell_heard(session, self._heard)
        return session

    async def _connected(self) -> ProviderSession | None:
        """The provider session, once connected (None if it failed: its failure is an event)."""
        await self._ready.wait()
        return self._session

    def __aiter__(self) -> AsyncIterator[ProviderEvent]:
        return self._events.__aiter__()

    async def send_audio(self, audio: bytes) -> None:
        if self._session is None:
            self._backlog.append(audio)
        else:
            await self._session.send_audio(audio)

    async def interrupt(self, played_ms: int | None = None) -> None:
        if self._greeting_current:
            self._greeting_current = False
            if played_ms is None or played_ms >= self._greeting.duration_ms:
                return  # all of it was heard: nothing to take back
            self._heard = heard_words(self._greeting, played_ms)
            self._events.put(OutputTruncated(self._item_id, played_ms, self._heard))
            if self._session is not None:
                await _tell_heard(self._session, self._heard)
            return
        session = await self._connected()
        if session is not None:
            await session.interrupt(played_ms)

    async def send_text(self, text: str) -> None:
        if (session := await self._connected()) is not None:
            await session.send_text(text)

    async def send_note(self, text: str) -> None:
        if (session := await self._connected()) is not None:
            await session.send_note(text)

    async def begin_turn(self, started_ms_ago: int) -> None:
        if (session := await self._connected()) is not None:
            await session.begin_turn(started_ms_ago)

    async def end_turn(self, ended_ms_ago: int) -> None:
        if (session := await self._connected()) is not None:
            await session.end_turn(ended_ms_ago)

    async def caller_turn_ended(self, ended_ms_ago: int) -> None:
        if (session := await self._connected()) is not None:
            await session.caller_turn_ended(ended_ms_ago)

    async def send_tool_result(self, call_id: str, result: dict[str, Any]) -> None:
        if (session := await self._connected()) is not None:
            await session.send_tool_result(call_id, result)

    async def aclose(self) -> None:
        self._events.close(discard_pending=True)
        self._forward.cancel()
        with contextlib.suppress(BaseException):
            await self._forward
        if not self._connecting.done():
            self._connecting.cancel()
        with contextlib.suppress(BaseException):
            session = await self._connecting
            await session.aclose()


async def _tell_heard(session: ProviderSession, heard: str) -> None:
    """The provider's history holds the whole greeting: say how much the caller heard."""
    note = f"The caller interrupted your greeting; they heard only: {heard!r}."
    with contextlib.suppress(NotImplementedError):
        await session.send_note(note)
