"""The engine's side of the session plan's audio routes: at most one conversion per direction.

A route whose port and provider formats match costs nothing (a call on OpenAI passes µ-law
through; an app on OpenAI passes PCM16 24 kHz through). Otherwise one streaming converter per
direction per session, created once: decode G.711 if needed, resample, encode G.711 if needed.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.sessions.plan import AudioRoute, SessionPlan
from kinds.audio import AudioFormat
from media.g711 import alaw_to_pcm16, pcm16_to_alaw, pcm16_to_ulaw, ulaw_to_pcm16
from media.resample import StreamResampler

Codec = Callable[[bytes], bytes]
_DECODE: dict[str, Codec] = {"pcmu": ulaw_to_pcm16, "pcma": alaw_to_pcm16}
_ENCODE: dict[str, Codec] = {"pcmu": pcm16_to_ulaw, "pcma": pcm16_to_alaw}


class AudioConverter:
    """One direction, ``source`` → ``target``; the identity when they match."""

    def __init__(self, source: AudioFormat, target: AudioFormat) -> None:
        self._decode = _DECODE.get(source.encoding)
        self._encode = _ENCODE.get(target.encoding)
        same_rate = source.sample_rate_hz == target.sample_rate_hz
        self._resampler = (
            None if same_rate else StreamResampler(source.sample_rate_hz, target.sample_rate_hz)
        )
        self.identity = source == target

    @classmethod
    def for_route(cls, route: AudioRoute, *, towards_provider: bool) -> AudioConverter:
        if towards_provider:
            return cls(route.port, route.provider)
        return cls(route.provider, route.port)

    def convert(self, audio: bytes) -> bytes:
        if self.identity:
            return audio
        pcm = self._decode(audio) if self._decode is not None else audio
        if self._resampler is not None:
            pcm = self._resampler.process(pcm)
        return self._encode(pcm) if self._encode is not None else pcm

    def flush(self) -> bytes:
        """What the resampler still holds (the end of an agent response)."""
        if self._resampler is None:
            return b""
        pcm = self._resampler.flush()
        return self._encode(pcm) if self._encode is not None else pcm


class SessionAudio:
    """The plan's two routes, as the engine runs them."""

    def __init__(self, plan: SessionPlan) -> None:
        self._inbound = AudioConverter.for_route(plan.inbound, towards_provider=True)
        self._outbound = AudioConverter.for_route(plan.outbound, towards_provider=False)

    def to_provider(self, audio: bytes) -> bytes:
        return self._inbound.convert(audio)

    def from_provider(self, audio: bytes) -> bytes:
        return self._outbound.convert(audio)

    def flush_from_provider(self) -> bytes:
        """The rest of an agent response held in the resampler's delay line."""
        return self._outbound.flush()
