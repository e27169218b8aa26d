"""Which connection a Gemini session opens next, and how hard it tries.

With a resumable handle from the server, the new connection resumes that session (Gemini
keeps its context); without one, or when the server refuses the handle, a fresh session is
opened and seeded with the conversation so far. Attempts are retried inside the session's
``RetryPolicy`` (``providers.toolkit.retry``); a refused handle is retried fresh at once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import aiohttp

from kinds.clock import Clock
from providers.errors import ProviderError, ProviderUnavailable
from providers.gemini_live import wire
from providers.gemini_live.connection import (
    ConnectSettings,
    LiveConnection,
    ResumeRejected,
    open_connection,
)
from providers.spec import AssistantSpec, HistoryItem, SessionContext
from providers.toolkit.retry import RetryPolicy, connect_with_retry

log = logging.getLogger(__name__)


class Dialer:
    """Opens set-up connections for one session; ``resume_handle`` is the latest usable one."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        settings: ConnectSettings,
        retry: RetryPolicy,
        clock: Clock,
        *,
        assistant: AssistantSpec,
        context: SessionContext,
        model: str,
        voice: str,
    ) -> None:
        self.resume_handle: str | None = None
        self._http, self._settings, self._retry, self._clock = http, settings, retry, clock
        self._assistant, self._context = assistant, context
        self._model, self._voice = model, voice

    @property
    def greets(self) -> bool:
        """The first connection asks the model to greet the caller."""
        return bool(self._assistant.greeting)

    async def connect(
        self,
        history: Sequence[HistoryItem],
        *,
        fresh_code: str,
        greet: bool = False,
        retry: RetryPolicy | None = None,
    ) -> LiveConnection:
        """A set-up connection within the retry policy (``retry``, else the session's);
        running out raises a retryable ``ProviderUnavailable`` with ``fresh_code``, a fatal
        error propagates as it is."""
        policy = retry or self._retry
        try:
            return await connect_with_retry(
                lambda: self._open(history, greet=greet),
                policy,
                self._clock,
                provider="gemini_live",
                # A refused handle says nothing about the server's health: retry fresh at once.
                pause_after=lambda error: not isinstance(error, ResumeRejected),
            )
        except ProviderError as exc:
            if not exc.retryable:
                raise
            raise ProviderUnavailable(
                f"Gemini unreachable after {policy.max_attempts} attempts ({exc.code})",
                code=fresh_code,
            ) from exc

    async def _open(self, history: Sequence[HistoryItem], *, greet: bool) -> LiveConnection:
        """One attempt: resumed if we hold a handle, else fresh and seeded."""
        handle = self.resume_handle
        setup = wire.build_setup(
            self._assistant,
            self._context,
            model=self._model,
            voice=self._voice,
            resume_handle=handle,
        )
        try:
            conn = await open_connection(self._http, self._settings, setup)
        except ResumeRejected:
            log.warning("gemini.resume_rejected")
            self.resume_handle = None
            raise
        if handle is None:
            try:
                await self._seed(conn, history, greet=greet)
            except BaseException:
                await conn.close()
                raise
        return conn

    async def _seed(
        self, conn: LiveConnection, history: Sequence[HistoryItem], *, greet: bool
    ) -> None:
        """A fresh session learns the conversation so far; the first one may greet."""
        seed = wire.history_seed(history)
        if seed is not None:
            await conn.send(seed)
        if greet and self._assistant.greeting:
            await conn.send(wire.greeting_request(self._assistant.greeting))
