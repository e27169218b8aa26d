"""Adapts the session's audio (PCM16 24 kHz both ways) to what the provider declares.

One resampler per direction per session, created once: providers whose formats already match
(OpenAI, local) cost nothing; Gemini's 16 kHz input is resampled here, in a stream.
"""

from __future__ import annotations

from kinds.audio import PCM16_24K, AudioFormat
from media.g711 import pcm16_to_ulaw, ulaw_to_pcm16
from media.resample import StreamResampler
from providers.capabilities import ProviderCapabilities


class _Direction:
    """PCM16 at one rate → the other format, or nothing at all when they already match."""

    def __init__(self, source: AudioFormat, target: AudioFormat) -> None:
        self._decode_ulaw = source.encoding == "pcmu"
        self._encode_ulaw = target.encoding == "pcmu"
        same_rate = source.sample_rate_hz == target.sample_rate_hz
        self._resampler = (
            None if same_rate else StreamResampler(source.sample_rate_hz, target.sample_rate_hz)
        )
        self.identity = same_rate and source.encoding == target.encoding

    def convert(self, audio: bytes) -> bytes:
        if self.identity:
            return audio
        pcm = ulaw_to_pcm16(audio) if self._decode_ulaw else audio
        if self._resampler is not None:
            pcm = self._resampler.process(pcm)
        return pcm16_to_ulaw(pcm) if self._encode_ulaw else pcm

    def flush(self) -> bytes:
        if self._resampler is None:
            return b""
        pcm = self._resampler.flush()
        return pcm16_to_ulaw(pcm) if self._encode_ulaw else pcm


SESSION_AUDIO = PCM16_24K


class ProviderAudio:
    """The two directions between the client's audio format and the provider's."""

    def __init__(
        self, capabilities: ProviderCapabilities, client_audio: AudioFormat = SESSION_AUDIO
    ) -> None:
        session = client_audio
        self._inbound = _Direction(session, capabilities.input_audio)
        self._outbound = _Direction(capabilities.output_audio, session)

    def to_provider(self, audio: bytes) -> bytes:
        return self._inbound.convert(audio)

    def from_provider(self, audio: bytes) -> bytes:
        return self._outbound.convert(audio)

    def flush_from_provider(self) -> bytes:
        """The rest of an agent response held in the resampler's delay line."""
        return self._outbound.flush()
