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
    """The caller's speech is transcribed (``TranscriptDelta(source="input")`` events)."""
    other_input_audio: tuple[AudioFormat, ...] = ()
    """Formats it also takes when ``SessionContext.input_audio`` asks (G.711 for a call)."""
    other_output_audio: tuple[AudioFormat, ...] = ()
    """Formats it also speaks when ``SessionContext.output_audio`` asks."""
    speech_end_events: bool = True
    """Its own turn detection says when the caller's turn ended (``CallerSpeechStopped``);
    Gemini's says nothing, so an app's reply latency is timed by the gateway's VAD."""
    turn_marks: bool = True
    """It can be told the caller's turns (``begin_turn``/``end_turn``) instead of finding them."""
    vad_runs_locally: bool = False
    """Its own turn detection runs on the gateway's CPU (the local provider): a client that
    already runs a VAD on the same audio should mark the turns instead."""
    voices: bool = False
    """``AssistantSpec.voice`` chooses how it sounds (a session may override it)."""
    vad_threshold: bool = False
    """Its turn detection honours ``TurnDetection.threshold`` (a session may override it)."""
    history_window: bool = False
    """A re-seeded connection replays at most ``SessionContext.history_window`` earlier
    utterances."""

    @property
    def input_formats(self) -> tuple[AudioFormat, ...]:
        """Every input format, the preferred one first."""
        return (self.input_audio, *self.other_input_audio)

    @property
    def output_formats(self) -> tuple[AudioFormat, ...]:
        """Every output format, the preferred one first."""
        return (self.output_audio, *self.other_output_audio)
