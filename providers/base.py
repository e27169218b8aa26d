"""The provider contract (DESIGN §4): ``Provider.connect`` opens a ``ProviderSession``.

A session takes audio in ``capabilities.input_audio`` format and yields ``ProviderEvent``s until
it is closed or fails. Implementations own their background tasks and cancel them in ``aclose``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Any

from providers.capabilities import ProviderCapabilities
from providers.events import ProviderEvent
from providers.spec import AssistantSpec, SessionContext


class ProviderSession(ABC):
    """One live conversation with an AI back end."""

    capabilities: ProviderCapabilities

    @abstractmethod
    async def send_audio(self, audio: bytes) -> None:
        """Stream caller audio in ``capabilities.input_audio`` format (any length)."""

    @abstractmethod
    async def send_text(self, text: str) -> None:
        """A user text turn (chat mode, or a DTMF note on a call); the assistant replies."""

    async def send_note(self, text: str) -> None:
        """Guidance for the assistant that asks for no reply (a supervisor's whisper): the
        caller hears nothing of it. Providers that cannot take one raise
        ``NotImplementedError``."""
        raise NotImplementedError

    @abstractmethod
    async def interrupt(self, played_ms: int | None = None) -> None:
        """Stop the current response at once.

        ``played_ms`` is how much of the current item's audio the caller really heard; providers
        with ``truncation`` cut the item there. ``None`` means unknown (assume all of it).
        """

    async def begin_turn(self, started_ms_ago: int) -> None:
        """The client's VAD heard the caller start speaking ``started_ms_ago`` before the end of
        the audio sent so far (``SessionContext.client_turns``).

        Sessions without server VAD of their own (``capabilities.server_vad`` False) rely on
        this and ``end_turn``; the others detect turns themselves and ignore both.
        """
        del started_ms_ago

    async def end_turn(self, ended_ms_ago: int) -> None:
        """The caller stopped speaking ``ended_ms_ago`` before the end of the audio sent so far:
        a session without server VAD takes the turn as complete and replies."""
        del ended_ms_ago

    async def caller_turn_ended(self, ended_ms_ago: int) -> None:
        """The client's VAD heard the caller's turn end, while this session finds turns itself
        (``begin_turn``/``end_turn`` are not used): nothing to send, but a reply is now owed,
        and a session may watch for it (a provider that never says when it heard a turn end,
        such as Gemini, has no other way to notice that none is coming)."""
        del ended_ms_ago

    @abstractmethod
    async def send_tool_result(self, call_id: str, result: dict[str, Any]) -> None:
        """Answer a ``ToolCall``; the model continues with the result."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release the connection and every task; idempotent; ends iteration."""

    @abstractmethod
    def __aiter__(self) -> AsyncIterator[ProviderEvent]:
        """Events until the session closes or yields ``ProviderFailed``."""


class Provider(ABC):
    """A factory of sessions for one AI back end."""

    name: str

    @abstractmethod
    def capabilities(self, mode: str = "voice") -> ProviderCapabilities:
        """What sessions of this provider can do in the given mode."""

    @abstractmethod
    async def connect(self, assistant: AssistantSpec, context: SessionContext) -> ProviderSession:
        """Open a session; raises ``ProviderError`` (see ``providers.errors``) on failure."""
