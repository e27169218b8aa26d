"""``OpenAIRealtimeProvider``: the OpenAI Realtime back end (GA interface, server-to-server
WebSocket over aiohttp; the openai SDK is only a test dependency)."""

from __future__ import annotations

import aiohttp

from kinds.audio import PCM16_24K, AudioFormat
from kinds.clock import Clock
from providers.base import Provider, ProviderSession
from providers.capabilities import ProviderCapabilities
from providers.errors import ProviderAuthError
from providers.openai_realtime import wire
from providers.openai_realtime.connection import ConnectPolicy
from providers.openai_realtime.history import ConversationHistory
from providers.openai_realtime.session import OpenAIRealtimeSession, SessionTimings
from providers.spec import AssistantSpec, SessionContext
from providers.toolkit.batch import DEFAULT_BATCH_MS
from providers.toolkit.retry import RetryPolicy

DEFAULT_URL = "wss://api.openai.com/v1/realtime"
MAX_MESSAGE_BYTES = 1024 * 1024
"""Server messages above this end the connection. Audio deltas are tens of KiB and
``session.created`` echoes our instructions; 1 MiB leaves room while bounding memory per call."""
SESSION_CAP_S = 60 * 60.0
RECYCLE_AFTER_S = SESSION_CAP_S - 10 * 60.0
"""Recycle ten minutes before the 60-minute cap: enough to wait for a quiet moment."""


class OpenAIRealtimeProvider(Provider):
    """Sessions on OpenAI Realtime.

    The defaults bound the caller's silence on any fault to about 3 s (reliability.md rows
    7-10): a connect gives up after two attempts of 2 s; a dead socket is found within 2.5 s
    (probed at half time), a live one that owes speech and sends none within 2 s; then one
    reconnect of at most 2 s is tried (the caller hears a holding line), and the next loss
    without a completed response in between fails the session (the apology, or a failover).

    Audio formats may be chosen per session (``connect``'s ``input_audio`` /
    ``output_audio``): PCM16 24 kHz by default, or G.711 µ-law or A-law at 8 kHz so phone calls
    in either law pass straight through."""

    name = "openai"

    def __init__(
        self,
        api_key: str | None,
        url: str = DEFAULT_URL,
        *,
        clock: Clock,
        default_model: str = "gpt-realtime",
        default_voice: str = "alloy",
        transcription_model: str = wire.DEFAULT_TRANSCRIPTION_MODEL,
        connect_timeout_s: float = 2.0,
        max_connect_attempts: int = 2,
        connect_budget_s: float = 4.0,
        connect_backoff_s: float = 0.25,
        recycle_after_s: float = RECYCLE_AFTER_S,
        stall_timeout_s: float = 2.5,
        audio_stall_s: float | None = 2.0,
        max_reconnects: int = 1,
        reconnect_budget_s: float | None = 2.0,
        reconnect_buffer_ms: int = 3_000,
        audio_batch_ms: int = DEFAULT_BATCH_MS,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._api_key = api_key
        self._url = url
        self._clock = clock
        self._default_model = default_model
        self._default_voice = default_voice
        self._transcription_model = transcription_model
        self._connect = (connect_timeout_s, max_connect_attempts, connect_budget_s)
        self._backoff_s = connect_backoff_s
        self._max_message_bytes = max_message_bytes
        self._timings = SessionTimings(
            stall_timeout_s=stall_timeout_s,
            recycle_after_s=recycle_after_s,
            max_reconnects=max_reconnects,
            reconnect_buffer_ms=reconnect_buffer_ms,
            audio_stall_s=audio_stall_s,
            reconnect_budget_s=reconnect_budget_s,
            audio_batch_ms=audio_batch_ms,
        )
        self._http = session

    def __repr__(self) -> str:  # never show the key
        return f"OpenAIRealtimeProvider(url={self._url!r})"

    def capabilities(
        self,
        mode: str = "voice",
        *,
        input_audio: AudioFormat = PCM16_24K,
        output_audio: AudioFormat = PCM16_24K,
        server_vad: bool = True,
    ) -> ProviderCapabilities:
        return ProviderCapabilities(
            input_audio=input_audio,
            output_audio=output_audio,
            server_vad=server_vad and mode == "voice",
            truncation=True,
            tools=True,
            text_mode=True,
            input_transcription=mode == "voice",
            other_input_audio=tuple(f for f in wire.SUPPORTED_FORMATS if f != input_audio),
            other_output_audio=tuple(f for f in wire.SUPPORTED_FORMATS if f != output_audio),
            voices=True,
            vad_threshold=True,
            history_window=True,
        )

    async def connect(
        self,
        assistant: AssistantSpec,
        context: SessionContext,
        *,
        input_audio: AudioFormat | None = None,
        output_audio: AudioFormat | None = None,
    ) -> ProviderSession:
        """Open a session in the formats the session plan chose (``context.input_audio`` and
        ``output_audio``: ``audio/pcmu`` or ``audio/pcma`` for a call), else PCM16 24 kHz."""
        input_audio = input_audio or context.input_audio or PCM16_24K
        output_audio = output_audio or context.output_audio or PCM16_24K
        if not self._api_key:
            raise ProviderAuthError("no OpenAI API key is configured", code="missing_api_key")
        config = wire.session_config(
            assistant,
            context,
            voice=assistant.voice or self._default_voice,
            input_audio=input_audio,
            output_audio=output_audio,
            transcription_model=self._transcription_model,
        )
        http = self._http or aiohttp.ClientSession()
        session = OpenAIRealtimeSession(
            http=http,
            owns_http=self._http is None,
            policy=self._policy(assistant.model or self._default_model),
            clock=self._clock,
            capabilities=self.capabilities(
                context.mode,
                input_audio=input_audio,
                output_audio=output_audio,
                server_vad=wire.server_vad(assistant, context),
            ),
            config=config,
            greeting=assistant.greeting,
            mode=context.mode,
            history=ConversationHistory(context.history, window=context.history_window),
            timings=self._timings,
        )
        try:
            await session.start()
        except BaseException:
            await session.aclose()
            raise
        return session

    def _policy(self, model: str) -> ConnectPolicy:
        assert self._api_key is not None
        timeout_s, attempts, budget_s = self._connect
        return ConnectPolicy(
            url=self._url,
            api_key=self._api_key,
            model=model,
            retry=RetryPolicy(
                max_attempts=attempts,
                attempt_timeout_s=timeout_s,
                budget_s=budget_s,
                first_backoff_s=self._backoff_s,
            ),
            max_message_bytes=self._max_message_bytes,
        )
