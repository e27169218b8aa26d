"""Provider-neutral description of what a session asks of its provider.

The gateway maps its stored assistant to an ``AssistantSpec`` and its session to a
``SessionContext``; providers never see database rows or HTTP requests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from kinds.audio import AudioFormat

SessionMode = Literal["voice", "chat"]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call; ``parameters`` is a JSON schema object."""

    name: str
    description: str
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})


@dataclass(frozen=True, slots=True)
class TurnDetection:
    """Server-side turn detection settings (used where the provider has server VAD)."""

    server_vad: bool = True
    threshold: float = 0.5
    silence_ms: int = 500
    prefix_padding_ms: int = 300


@dataclass(frozen=True, slots=True)
class AssistantSpec:
    """The assistant behind a session, as a provider needs it."""

    name: str
    instructions: str = ""
    provider: str = "local"
    model: str | None = None
    voice: str | None = None
    language_code: str = "en-US"
    greeting: str | None = None
    tools: tuple[ToolSpec, ...] = ()
    turn_detection: TurnDetection = field(default_factory=TurnDetection)
    temperature: float | None = None


@dataclass(frozen=True, slots=True)
class HistoryItem:
    """One finished utterance, replayed to a provider when a connection is re-seeded."""

    role: Literal["user", "assistant"]
    text: str


def recent_history(items: list[HistoryItem], window: int) -> list[HistoryItem]:
    """The last ``window`` utterances (none for 0): what a re-seeded connection is given."""
    return items[max(len(items) - window, 0) :] if window > 0 else []


@dataclass(frozen=True, slots=True)
class SessionContext:
    """What a provider knows about the session it serves."""

    session_id: str
    mode: SessionMode = "voice"
    language_code: str = "en-US"
    caller_context: str | None = None
    """Facts about the caller (returning or new, ...) to append to the instructions."""
    history: tuple[HistoryItem, ...] = ()
    history_window: int = 50
    """At most this many earlier utterances are replayed when a connection is re-seeded."""
    input_audio: AudioFormat | None = None
    """The format the session plan chose for caller audio, one of the provider's
    ``input_formats`` (a call's 8 kHz µ-law where the provider takes it); None: its default."""
    output_audio: AudioFormat | None = None
    """The format the plan chose for agent audio, one of its ``output_formats``."""
    client_turns: bool = False
    """The plan gives turn detection to the gateway (the phone bridge's VAD, or one the engine
    runs on an app's audio): the session runs no turn detection of its own and takes the
    caller's turns from ``begin_turn``/``end_turn``."""
