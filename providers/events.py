"""Provider-neutral events a ``ProviderSession`` yields, discriminated on ``kind``.

One assistant response is an *item*: its audio and output transcript carry the item id, and it
ends with ``ResponseDone``. The Conversation engine turns these into Kura protocol messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class AgentAudio:
    """A piece of the assistant's speech, in the provider's ``output_audio`` format."""

    audio: bytes
    item_id: str
    kind: Literal["agent_audio"] = "agent_audio"


@dataclass(frozen=True, slots=True)
class TranscriptDelta:
    """A transcript delta: ``input`` is the caller's speech, ``output`` the assistant's words.

    ``final`` marks the last delta of the caller's utterance (input) when the provider knows it.
    """

    source: Literal["input", "output"]
    text: str
    item_id: str | None = None
    final: bool = False
    kind: Literal["transcript"] = "transcript"


@dataclass(frozen=True, slots=True)
class CallerSpeechStarted:
    """The provider heard the caller start speaking (its own VAD): a barge-in signal."""

    kind: Literal["speech_started"] = "speech_started"


@dataclass(frozen=True, slots=True)
class CallerSpeechStopped:
    """The provider's own VAD found the end of the caller's speech: their turn is over, and
    the reply latency counts from here."""

    kind: Literal["speech_stopped"] = "speech_stopped"


@dataclass(frozen=True, slots=True)
class ResponseDone:
    """The assistant finished (or was interrupted in) the response ``item_id``: a turn ends."""

    item_id: str | None
    interrupted: bool = False
    kind: Literal["response_done"] = "response_done"


@dataclass(frozen=True, slots=True)
class OutputTruncated:
    """After ``interrupt(played_ms)`` the item ``item_id`` was cut at ``audio_end_ms``.

    ``text`` is the assistant's words as far as the caller heard them (best known), replacing the
    output transcript deltas of that item, so the stored turn holds only what was heard. It may
    come after the item's ``ResponseDone``: audio is generated faster than it is played.
    """

    item_id: str
    audio_end_ms: int
    text: str
    kind: Literal["output_truncated"] = "output_truncated"


@dataclass(frozen=True, slots=True)
class ToolCall:
    """The model asks for a function; answer with ``ProviderSession.send_tool_result``."""

    call_id: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    kind: Literal["tool_call"] = "tool_call"


@dataclass(frozen=True, slots=True)
class ToolCallsCancelled:
    """The model withdrew these ``ToolCall``s (Gemini's ``toolCallCancellation``, e.g. after
    the caller talked over it): stop any work still running for them; answers are dropped."""

    call_ids: tuple[str, ...]
    kind: Literal["tool_calls_cancelled"] = "tool_calls_cancelled"


@dataclass(frozen=True, slots=True)
class ProviderRecovering:
    """The connection was lost or stalled and the session is reconnecting (once, quickly):
    the caller may hear a holding line meanwhile. ``fault`` is False for planned switches
    (a recycle before the session cap, Gemini's ``goAway``) that the caller should not notice."""

    reason: str
    fault: bool = True
    kind: Literal["provider_recovering"] = "provider_recovering"


@dataclass(frozen=True, slots=True)
class ProviderFailed:
    """The provider session failed and will yield nothing more; ``code`` is machine-readable."""

    code: str
    message: str
    retryable: bool = False
    kind: Literal["provider_failed"] = "provider_failed"


ProviderEvent = (
    AgentAudio
    | TranscriptDelta
    | CallerSpeechStarted
    | CallerSpeechStopped
    | ResponseDone
    | OutputTruncated
    | ToolCall
    | ToolCallsCancelled
    | ProviderRecovering
    | ProviderFailed
)
