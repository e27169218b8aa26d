"""``GeminiLiveProvider``: Google Gemini Live (BidiGenerateContent) behind the provider contract.

Input is PCM16 16 kHz (the gateway resamples once, in a stream), output PCM16 24 kHz. Gemini
detects turns itself unless the session plan gives them to the gateway (``client_turns``: it
marks them with ``begin_turn``/``end_turn``) or the assistant turns server VAD off; it has no
truncate message (the server keeps its own context on barge-in), and transcribes both
directions.
"""

from __future__ import annotations

import dataclasses

import aiohttp

from kinds.audio import PCM16_16K, PCM16_24K
from kinds.clock import Clock
from providers.base import Provider, ProviderSession
from providers.capabilities import ProviderCapabilities
from providers.errors import ProviderAuthError
from providers.gemini_live.connection import MAX_MESSAGE_BYTES, ConnectSettings
from providers.gemini_live.session import GeminiLiveSession, SessionOptions
from providers.spec import AssistantSpec, SessionContext
from providers.toolkit.batch import DEFAULT_BATCH_MS
from providers.toolkit.retry import RetryPolicy

DEFAULT_URL = (
    "wss://generativelanguage.googleapis.com/ws/"
    "google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
)
DEFAULT_MODEL = "models/gemini-2.5-flash-native-audio-preview-09-2025"
DEFAULT_VOICE = "Kore"
BACKOFF_FIRST_S, BACKOFF_MAX_S = 0.25, 2.0
"""Pauses between connect attempts: doubling from a quarter second, never above two."""

CAPABILITIES = ProviderCapabilities(
    input_audio=PCM16_16K,
    output_audio=PCM16_24K,
    server_vad=True,
    truncation=False,
    tools=True,
    text_mode=True,
    input_transcription=True,
    voices=True,
    vad_threshold=True,
    history_window=True,
    speech_end_events=False,
)


class GeminiLiveProvider(Provider):
    """Opens Gemini Live sessions; the API key goes in a header, never in the URL."""

    name = "gemini"

    def __init__(
        self,
        api_key: str | None,
        url: str = DEFAULT_URL,
        *,
        clock: Clock,
        default_model: str = DEFAULT_MODEL,
        default_voice: str = DEFAULT_VOICE,
        connect_timeout_s: float = 2.0,
        max_connect_attempts: int = 2,
        connect_budget_s: float = 4.0,
        stall_timeout_s: float = 3.0,
        audio_stall_s: float | None = 2.0,
        max_reconnects: int = 1,
        reconnect_budget_s: float = 2.0,
        max_backlog_ms: int = 5_000,
        audio_batch_ms: int = DEFAULT_BATCH_MS,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        # The defaults bound the caller's silence on any fault to about 3 s (reliability.md
        # rows 7-10): two attempts of 2 s at the start (4 s in all, a holding line from the
        # gateway meanwhile); a stall found 3 s after unanswered speech, or 2 s after a turn
        # that calls for a reply with no output; then one reconnect of at most 2 s.
        self._api_key = api_key
        self._url = url
        self._clock = clock
        self._default_model = default_model
        self._default_voice = default_voice
        self._connect_timeout_s = connect_timeout_s
        self._max_connect_attempts = max(1, max_connect_attempts)
        self._connect_budget_s = connect_budget_s
        self._stall_timeout_s = stall_timeout_s
        self._audio_stall_s = audio_stall_s
        self._max_reconnects = max_reconnects
        self._reconnect_budget_s = reconnect_budget_s
        self._max_backlog_ms = max_backlog_ms
        self._audio_batch_ms = audio_batch_ms
        self._max_message_bytes = max_message_bytes
        self._http = session

    def __repr__(self) -> str:
        return f"GeminiLiveProvider(url={self._url!r})"  # never the key

    def capabilities(self, mode: str = "voice") -> ProviderCapabilities:
        return CAPABILITIES

    async def connect(self, assistant: AssistantSpec, context: SessionContext) -> ProviderSession:
        if not self._api_key:
            raise ProviderAuthError("Gemini API key is not configured", code="missing_api_key")
        capabilities = CAPABILITIES
        if not assistant.turn_detection.server_vad or context.client_turns:
            capabilities = dataclasses.replace(CAPABILITIES, server_vad=False)
        options = SessionOptions(
            connect=ConnectSettings(self._url, self._api_key, self._max_message_bytes),
            clock=self._clock,
            model=assistant.model or self._default_model,
            voice=assistant.voice or self._default_voice,
            capabilities=capabilities,
            retry=self._retry(self._connect_budget_s),
            stall_timeout_s=self._stall_timeout_s,
            max_backlog_ms=self._max_backlog_ms,
            audio_stall_s=self._audio_stall_s,
            reconnect_retry=self._retry(self._reconnect_budget_s),
            max_reconnects=self._max_reconnects,
            audio_batch_ms=self._audio_batch_ms,
        )
        http = self._http or aiohttp.ClientSession()
        session = GeminiLiveSession(assistant, context, options, http, owns_http=self._http is None)
        await session.start()
        return session

    def _retry(self, budget_s: float) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self._max_connect_attempts,
            attempt_timeout_s=min(self._connect_timeout_s, budget_s),
            budget_s=budget_s,
            first_backoff_s=BACKOFF_FIRST_S,
            max_backoff_s=BACKOFF_MAX_S,
            jitter=0.5,  # many calls that lost Gemini at once must not return in lock-step
        )
