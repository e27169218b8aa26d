"""Per-session changes to an assistant: persona, voice, tools, limits and turn detection.

``POST /api/v1/sessions`` may change the assistant for one session only. Each override is
checked against the assistant and the provider's capability record when the session is
created, and refused there with a message naming it, never silently dropped at connect time.
The overrides are stored with the session (JSON) so any node that runs it applies them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from gateway.errors import ValidationFailed
from kinds.audio import AudioEncoding
from providers.capabilities import ProviderCapabilities
from providers.spec import AssistantSpec, SessionMode

DEFAULT_CONTEXT_WINDOW = 50
"""Earlier utterances a re-seeded provider connection is given (the peers' default)."""


@dataclass(frozen=True, slots=True)
class SessionOverrides:
    """What one session changes of its assistant; ``None`` keeps the assistant's value."""

    instructions: str | None = None
    greeting: str | None = None
    voice: str | None = None
    tools: tuple[str, ...] | None = None
    """A subset of the assistant's tools, by name (empty: none)."""
    max_turns: int | None = None
    context_window: int = DEFAULT_CONTEXT_WINDOW
    vad_threshold: float | None = None
    silence_ms: int | None = None
    turn_events: bool = False
    """The client asked for ``turnStarted`` messages."""
    audio_encoding: AudioEncoding | None = None
    """An app's audio format on its socket, fixed at creation or at the first connect
    (``gateway.api.app_audio``); None: not chosen yet (PCM16 24 kHz)."""
    audio_rate_hz: int | None = None
    resume_grace_s: float | None = None
    """How long the session waits for a resume after its app socket drops (None: the
    gateway's ``KURA_RESUME_GRACE_S``)."""

    def to_json(self) -> dict[str, Any]:
        """The fields that differ from the defaults (what the session row stores)."""
        defaults = SessionOverrides()
        stored: dict[str, Any] = {}
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            if value != getattr(defaults, spec.name):
                stored[spec.name] = list(value) if isinstance(value, tuple) else value
        return stored

    @classmethod
    def from_json(cls, stored: dict[str, Any] | None) -> SessionOverrides:
        known = {spec.name for spec in dataclasses.fields(cls)}
        fields = {name: value for name, value in (stored or {}).items() if name in known}
        if fields.get("tools") is not None:
            fields["tools"] = tuple(fields["tools"])
        return cls(**fields)


def _refuse(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", details=[{"field": field, "message": message}])


def check_overrides(
    overrides: SessionOverrides,
    assistant: AssistantSpec,
    capabilities: ProviderCapabilities,
    mode: SessionMode,
) -> None:
    """Refuse an override this assistant's provider cannot honour (``ValidationFailed``)."""
    provider = assistant.provider
    if overrides.tools is not None:
        known = {tool.name for tool in assistant.tools}
        unknown = sorted(set(overrides.tools) - known)
        if unknown:
            raise _refuse("tools", f"the assistant has no tool named {', '.join(unknown)}")
        if overrides.tools and not capabilities.tools:
            raise _refuse("tools", f"provider {provider!r} cannot call tools")
    voice_only = ("voice", "vad_threshold", "silence_ms")
    for field in voice_only:
        if mode == "chat" and getattr(overrides, field) is not None:
            raise _refuse(field, "has no effect in chat mode")
    if mode == "chat" and overrides.audio_encoding is not None:
        raise _refuse("audio", "a chat session carries no audio")
    if overrides.voice is not None and not capabilities.voices:
        raise _refuse("voice", f"provider {provider!r} has no choice of voice")
    if overrides.vad_threshold is not None and not capabilities.vad_threshold:
        raise _refuse("vad_threshold", f"provider {provider!r} has no VAD threshold to set")
    window_changed = overrides.context_window != DEFAULT_CONTEXT_WINDOW
    if window_changed and not capabilities.history_window:
        raise _refuse("context_window", f"provider {provider!r} is never re-seeded with history")


def apply_overrides(spec: AssistantSpec, overrides: SessionOverrides) -> AssistantSpec:
    """The assistant as this session runs it."""
    changes: dict[str, Any] = {
        name: value
        for name in ("instructions", "greeting", "voice")
        if (value := getattr(overrides, name)) is not None
    }
    if overrides.tools is not None:
        chosen = set(overrides.tools)
        changes["tools"] = tuple(tool for tool in spec.tools if tool.name in chosen)
    turns = spec.turn_detection
    if overrides.vad_threshold is not None:
        turns = dataclasses.replace(turns, threshold=overrides.vad_threshold)
    if overrides.silence_ms is not None:
        turns = dataclasses.replace(turns, silence_ms=overrides.silence_ms)
    return dataclasses.replace(spec, **changes, turn_detection=turns)
