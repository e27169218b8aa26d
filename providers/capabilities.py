"""What a provider can do; callers branch on these records, never on the provider's class."""

from __future__ import annotations

from dataclasses import dataclass

from kinds.audio import AudioFormat


@dataclass(frozen=True, slots=True)
class ProviderCapabilities:
    """The provider's side of the contract, declared once per provider."""

    input_audio: AudioFormat
    output_audio: AudioFormat
    server_vad: bool
    """The provider detects the caller's turns (and barge-in) itself."""
    truncation: bool
    """``interrupt(played_ms)`` cuts the assistant's item at what the caller heard."""
    tools: bool
    text_mode: bool
    """Chat sessions get text-only replies (no audio)."""
    input_transcription: bool
    """The caller's speech is transcribed (``Transcript(source="input")`` events)."""
