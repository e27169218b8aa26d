"""The local provider: the provider contract with no network, so Kura runs out of the box.

Chat turns get a deterministic reply that says it comes from the local demo. In voice mode the
caller's utterances (found with webrtcvad) are played back as the assistant's audio: an honest
loopback that never pretends to transcribe. The greeting and chat replies are spoken with
``espeak-ng`` when it is installed, and written only otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

from kinds.audio import PCM16_24K, PCMA_8K, PCMU_8K, AudioFormat
from kinds.clock import Clock, SystemClock
from media.formats import Codec, convert, decoder, encoder
from providers.base import Provider, ProviderSession
from providers.capabilities import ProviderCapabilities
from providers.events import (
    AgentAudio,
    CallerSpeechStarted,
    CallerSpeechStopped,
    ProviderEvent,
    ProviderFailed,
    ResponseDone,
    TranscriptDelta,
)
from providers.local.replies import chat_reply, transcript_deltas
from providers.local.speech import EspeakSynthesiser, Synthesiser, resolve_tts_command
from providers.local.utterance import (
    UtteranceDetector,
    UtteranceEnded,
    UtteranceEvent,
    UtteranceSettings,
    UtteranceStarted,
)
from providers.spec import AssistantSpec, SessionContext, TurnDetection
from providers.toolkit.channel import EventChannel

logger = logging.getLogger(__name__)

LOCAL_CAPABILITIES = ProviderCapabilities(
    input_audio=PCM16_24K,
    output_audio=PCM16_24K,
    server_vad=True,
    truncation=True,
    tools=False,
    text_mode=True,
    input_transcription=False,
    other_input_audio=(PCMU_8K, PCMA_8K),
    other_output_audio=(PCMU_8K, PCMA_8K),
    vad_runs_locally=True,
)
CHUNK_MS = 60
"""Agent audio per event: small enough to stop promptly, large enough to keep events few."""
LEAD_MS = 200
"""How far ahead of real time audio may be sent: absorbs scheduling jitter downstream."""
MAX_QUEUED_RESPONSES = 8
"""Bounds memory (each loopback holds up to 20 s of audio) if turns arrive faster than played."""


def _g711_capabilities(law: AudioFormat) -> ProviderCapabilities:
    """For a phone call: the caller's G.711 is heard and played back as is, with no resampling."""
    return replace(
        LOCAL_CAPABILITIES,
        input_audio=law,
        output_audio=law,
        other_input_audio=(PCM16_24K,),
        other_output_audio=(PCM16_24K,),
    )


LOCAL_ULAW_CAPABILITIES = _g711_capabilities(PCMU_8K)
LOCAL_ALAW_CAPABILITIES = _g711_capabilities(PCMA_8K)
_G711 = {PCMU_8K: LOCAL_ULAW_CAPABILITIES, PCMA_8K: LOCAL_ALAW_CAPABILITIES}


@dataclass(frozen=True, slots=True)
class _Response:
    """One assistant item to produce: ``text`` to write (and maybe speak), or ``audio`` to play."""

    item_id: str
    text: str | None = None
    audio: bytes | None = None
    speak: bool = False


@dataclass(frozen=True, slots=True)
class _Playing:
    item_id: str
    task: asyncio.Task[None]


def _new_item_id() -> str:
    return f"local_{uuid.uuid4().hex}"


def _utterance_settings(turn_detection: TurnDetection) -> UtteranceSettings:
    """Honour the assistant's turn-detection timings, clamped to what suits a loopback."""
    return UtteranceSettings(
        silence_ms=min(max(turn_detection.silence_ms, 200), 5_000),
        preroll_ms=min(max(turn_detection.prefix_padding_ms, 0), 1_000),
    )


class LocalSession(ProviderSession):
    """One local conversation; construct it inside a running event loop (it starts a worker).

    Responses are produced one at a time, in order, by a worker task the session owns. After
    ``aclose`` every ``send_*`` is a no-op (the gateway may race a last chunk against the close)
    and iteration ends without the events still queued.
    """

    def __init__(
        self,
        assistant: AssistantSpec,
        context: SessionContext,
        *,
        clock: Clock,
        synthesiser: Synthesiser | None,
    ) -> None:
        # G.711 (µ-law or A-law) both ways or not at all: the loopback plays back what it heard.
        voice = context.mode == "voice"
        self._law = context.input_audio if voice and context.input_audio in _G711 else None
        # A client that marks turns with its own VAD spares us running a second one on the
        # same audio, on the same CPU: the phone bridge's VAD then finds the utterances.
        self._client_turns = context.mode == "voice" and context.client_turns
        capabilities = _G711[self._law] if self._law else LOCAL_CAPABILITIES
        if self._client_turns:
            capabilities = replace(capabilities, server_vad=False)
        self.capabilities = capabilities
        self._bytes_per_ms = capabilities.output_audio.bytes_per_ms
        # Only our own VAD needs PCM16: with the client's turns a call's G.711 is kept as is.
        own_vad_law = None if self._client_turns else self._law
        self._decode: Codec | None = decoder(own_vad_law) if own_vad_law else None
        self._encode: Codec | None = encoder(own_vad_law) if own_vad_law else None
        self._clock = clock
        self.notes: list[str] = []  # supervisor whispers: the demo keeps them, says nothing
        self._language_code = context.language_code
        self._speaks = context.mode == "voice" and synthesiser is not None
        self._synthesiser = synthesiser
        self._voice = context.mode == "voice"
        self._detector = UtteranceDetector(
            self.capabilities.input_audio.sample_rate_hz,
            _utterance_settings(assistant.turn_detection),
            own_vad=not self._client_turns,
            # With no VAD here a call's G.711 is only kept and cut, never decoded.
            sample_bytes=1 if self._client_turns and self._law else 2,
        )
        self._events = EventChannel()
        self._responses: asyncio.Queue[_Response] = asyncio.Queue(MAX_QUEUED_RESPONSES)
        self._playing: _Playing | None = None
        self._closed = False
        if assistant.greeting:
            self._enqueue(_Response(_new_item_id(), text=assistant.greeting, speak=self._speaks))
        self._worker = asyncio.create_task(self._run_responses(), name="local-provider-responses")

    async def send_audio(self, audio: bytes) -> None:
        """Feed caller audio (PCM16 24 kHz, or G.711 on a call) to the utterance detector;
        ignored in chat mode."""
        if self._closed or not self._voice:
            return
        decode = self._decode
        self._on_utterances(self._detector.feed(decode(audio) if decode else audio))

    async def begin_turn(self, started_ms_ago: int) -> None:
        if self._client_turns and not self._closed:
            self._on_utterances(self._detector.started(started_ms_ago))

    async def end_turn(self, ended_ms_ago: int) -> None:
        if self._client_turns and not self._closed:
            self._on_utterances(self._detector.stopped(ended_ms_ago))

    def _on_utterances(self, events: list[UtteranceEvent]) -> None:
        for event in events:
            match event:
                case UtteranceStarted():
                    self._events.put(CallerSpeechStarted())
                case UtteranceEnded(audio=utterance, capped=capped):
                    if not self._client_turns:  # its own VAD found the end: say so
                        self._events.put(CallerSpeechStopped())
                    if capped:
                        logger.info("local utterance capped at its maximum length")
                    encode = self._encode
                    played = encode(utterance) if encode else utterance
                    self._enqueue(_Response(_new_item_id(), audio=played))

    async def send_text(self, text: str) -> None:
        """Queue the demo's deterministic reply (spoken too in voice mode with a synthesiser)."""
        if self._closed:
            return
        self._enqueue(_Response(_new_item_id(), text=chat_reply(text), speak=self._speaks))

    async def send_note(self, text: str) -> None:
        """The demo has no model to guide: it keeps the note (``notes``) and says nothing."""
        if not self._closed:
            self.notes.append(text)

    async def interrupt(self, played_ms: int | None = None) -> None:
        """Stop the current response at once; harmless when nothing is playing.

        Nothing is stored server-side, so truncating at ``played_ms`` is just stopping: the audio
        not yet delivered is taken back and no more is produced for the item.
        """
        playing = self._playing
        if playing is None or playing.task.done():
            return
        self._playing = None
        # The task only runs again to receive CancelledError, so it emits nothing more; ending
        # the item here (before awaiting) keeps ResponseDone ahead of the next response's events.
        playing.task.cancel()
        self._events.drop_audio(playing.item_id)
        self._events.put(ResponseDone(playing.item_id, interrupted=True))
        await asyncio.wait({playing.task})

    async def send_tool_result(self, call_id: str, result: dict[str, Any]) -> None:
        """A no-op: this provider has no tools and never emits ``ToolCall``."""
        logger.debug("local provider ignores tool results")

    async def aclose(self) -> None:
        """Stop the worker (and any synthesis or playback) and end iteration; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._worker.cancel()
        await asyncio.wait({self._worker})
        self._events.close(discard_pending=True)

    def __aiter__(self) -> AsyncIterator[ProviderEvent]:
        return aiter(self._events)

    def _enqueue(self, response: _Response) -> None:
        try:
            self._responses.put_nowait(response)
        except asyncio.QueueFull:
            logger.warning(
                "local response queue full; dropping a response",
                extra={"queued": MAX_QUEUED_RESPONSES},
            )

    async def _run_responses(self) -> None:
        """The worker: produce queued responses in order until cancelled by ``aclose``."""
        try:
            while True:
                await self._produce(await self._responses.get())
        except Exception:
            logger.exception("local provider session failed")
            # The channel ends after ProviderFailed, once what is queued before it is taken.
            self._events.put(ProviderFailed("local_internal_error", "local provider failed"))

    async def _produce(self, response: _Response) -> None:
        """Run one response in its own task, so ``interrupt`` can cancel just that response."""
        task = asyncio.create_task(self._perform(response), name="local-provider-response")
        self._playing = _Playing(response.item_id, task)
        try:
            await asyncio.wait({task})
        finally:
            # Reached with the task still running only when the worker itself is cancelled.
            if not task.done():
                task.cancel()
                await asyncio.wait({task})
            if self._playing is not None and self._playing.task is task:
                self._playing = None
        if not task.cancelled() and (error := task.exception()) is not None:
            raise error

    async def _perform(self, response: _Response) -> None:
        """Write, speak or play one response, then end it with ``ResponseDone``."""
        audio = response.audio
        deltas = transcript_deltas(response.text) if response.text else []
        if audio is None and response.speak and response.text and self._synthesiser:
            audio = await self._synthesiser.synthesise(response.text, self._language_code)
            if audio and self._law:
                audio = convert(audio, PCM16_24K, self._law)
        if audio:
            await self._play(response.item_id, audio, deltas)
        else:
            for delta in deltas:
                self._events.put(TranscriptDelta("output", delta, response.item_id))
        # No await after this: once ResponseDone is queued the task is done, which is what
        # ``interrupt`` relies on to never end an item twice.
        self._events.put(ResponseDone(response.item_id))

    async def _play(self, item_id: str, audio: bytes, deltas: list[str]) -> None:
        """Send ``audio`` in ``CHUNK_MS`` chunks at real time plus ``LEAD_MS``, with the
        transcript deltas spread over it so captions follow the voice."""
        chunk_bytes = CHUNK_MS * self._bytes_per_ms
        chunk_count = -(-len(audio) // chunk_bytes)
        next_delta = 0
        started_s = self._clock.monotonic()
        for index in range(chunk_count):
            while next_delta < len(deltas) and next_delta * chunk_count <= index * len(deltas):
                self._events.put(TranscriptDelta("output", deltas[next_delta], item_id))
                next_delta += 1
            # Sleep until sending this chunk keeps us at most LEAD_MS ahead of real time.
            ahead_s = ((index + 1) * CHUNK_MS - LEAD_MS) / 1000
            wait_s = ahead_s - (self._clock.monotonic() - started_s)
            if wait_s > 0:
                await self._clock.sleep(wait_s)
            chunk = audio[index * chunk_bytes : (index + 1) * chunk_bytes]
            self._events.put(AgentAudio(chunk, item_id))
        for delta in deltas[next_delta:]:
            self._events.put(TranscriptDelta("output", delta, item_id))


class LocalProvider(Provider):
    """Factory of ``LocalSession``s; needs no network and no credentials.

    ``tts_command``: ``None`` uses ``espeak-ng`` if it is on PATH; a command name or path uses
    that (an espeak-ng compatible CLI); ``""``, ``"none"`` or ``"off"`` disables speech, as does a
    command that cannot be found. ``clock`` paces the agent audio.
    """

    name = "local"

    def __init__(self, tts_command: str | None = None, *, clock: Clock | None = None) -> None:
        self._clock: Clock = clock or SystemClock()
        command = resolve_tts_command(tts_command)
        if command is not None and shutil.which(command) is None:
            logger.warning("local tts command not found; replies will be text only")
            command = None
        self._synthesiser: Synthesiser | None = EspeakSynthesiser(command) if command else None

    @property
    def speaks(self) -> bool:
        """Whether voice sessions speak their greeting and replies (a synthesiser exists)."""
        return self._synthesiser is not None

    def capabilities(self, mode: str = "voice") -> ProviderCapabilities:
        return LOCAL_CAPABILITIES

    async def connect(self, assistant: AssistantSpec, context: SessionContext) -> ProviderSession:
        return LocalSession(assistant, context, clock=self._clock, synthesiser=self._synthesiser)
