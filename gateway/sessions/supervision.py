"""Humans in the loop on a live session: whisper to the assistant, take over, hand back.

One supervisor at a time holds the call. While one does, the assistant is stopped and hears
nothing (the caller's audio is not sent to the provider), whatever the provider still emits is
dropped, and the supervisor's PCM16 24 kHz audio goes to the caller through the door, converted
once to the plan's outbound port format. Handing back tells the assistant, as a note, that a
person spoke with the caller meanwhile; the transcript keeps a ``human`` utterance for the span.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from gateway.sessions.audio_format import AudioConverter
from gateway.sessions.monitor import SessionTap
from gateway.sessions.plan import SessionPlan
from gateway.sessions.port import SessionClient
from gateway.sessions.protocol import ProtocolError
from gateway.sessions.turn_log import TurnLog
from kinds.audio import PCM16_24K
from providers.base import ProviderSession

HAND_BACK_NOTE = (
    "A human supervisor spoke with the caller directly for a while; you did not hear that part "
    "of the call. You are back in the conversation: carry on helping the caller."
)


class Supervision:
    """Who speaks to the caller: the assistant, or the supervisor (any object) holding it."""

    def __init__(
        self,
        *,
        provider: ProviderSession,
        client: SessionClient,
        plan: SessionPlan,
        log: TurnLog,
        tap: SessionTap,
        responding: Callable[[], bool],
    ) -> None:
        self._provider = provider
        self._client = client
        self._plan = plan
        self._log = log
        self._tap = tap
        self._responding = responding
        self._to_caller: AudioConverter | None = None
        self._spans = 0
        self._span_item = ""
        self.holder: object | None = None

    @property
    def human(self) -> bool:
        """A supervisor holds the call: the assistant neither hears nor speaks."""
        return self.holder is not None

    async def whisper(self, text: str) -> None:
        """Guidance for the assistant only; no reply is asked for, the caller hears nothing."""
        try:
            await self._provider.send_note(text)
        except NotImplementedError:
            raise ProtocolError("this session's AI provider cannot take whispers") from None

    async def take_over(self, who: object) -> None:
        if self.holder is who:
            return
        if self.holder is not None:
            raise ProtocolError("another supervisor holds the call; one may take over at a time")
        self.holder = who
        self._spans += 1
        self._span_item = f"supervisor-{self._spans}"
        self._to_caller = AudioConverter(PCM16_24K, self._plan.outbound.port)
        self._log.supervisor_took_over()
        # As a barge-in: a phone bridge clears what is queued at the carrier and interrupts the
        # provider at the played position; an app's conversation interrupts the provider.
        if not await self._client.caller_speech_started() and self._responding():
            self._tap.cut(None)
            await self._provider.interrupt(None)

    async def speak(self, who: object, pcm16_24k: bytes) -> None:
        """The holding supervisor's audio, to the caller."""
        if self.holder is not who or self._to_caller is None:
            raise ProtocolError("audioChunk is accepted only after takeOver")
        audio = self._to_caller.convert(pcm16_24k)
        if audio:
            self._tap.assistant_audio(audio, self._span_item)
            await self._client.deliver_audio(audio, self._span_item)

    async def hand_back(self, who: object) -> None:
        if self.holder is not who:
            raise ProtocolError("handBack is accepted only from the supervisor holding the call")
        await self.release(who)

    async def release(self, who: object) -> None:
        """The holder hands back (or its socket went): the assistant carries on."""
        if self.holder is not who:
            return
        tail = self._to_caller.flush() if self._to_caller is not None else b""
        self.holder, self._to_caller = None, None
        if tail:
            self._tap.assistant_audio(tail, self._span_item)
            await self._client.deliver_audio(tail, self._span_item)
        self._log.supervisor_handed_back()
        # A provider that cannot take notes carries on without the hint.
        with contextlib.suppress(NotImplementedError):
            await self._provider.send_note(HAND_BACK_NOTE)
