"""The per-call media chains: carrier audio in → the port's format; the port's audio out → carrier.

The carrier speaks G.711 µ-law or A-law at 8 kHz, or L16 at 8, 16 or 24 kHz
(``media.formats.CARRIER_FORMATS``); the port is what the session plan chose for the provider's
side: the carrier's own format (passed straight through) or PCM16 at the provider's rate.

Inbound, per 20 ms frame: decode → PCM16 at the carrier's rate → VAD/barge-in (at the VAD's
rate, resampled for it only when the carrier's rate differs) → resample and encode to the port,
or the carrier's bytes as they came when the port speaks them. Outbound: the port's audio (any
length) → resample → encode → 20 ms frames with marks, or frames and marks alone when the port
speaks the carrier's format. Each chain is one object per call and owns its resampler states.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Literal, Protocol

from kinds.audio import PCM16_24K, PCMU_8K, AudioFormat
from kinds.interruption import InterruptionSettings
from media.bargein import BargeIn, BargeInDetector
from media.decimate import Decimator
from media.denoise import NoiseSuppressor
from media.echo import EchoGuard
from media.formats import Codec, check_format, decoder, encoder
from media.interruption import InterruptionDecision, InterruptionPolicy, high_band_dbov
from media.playout import PlayoutBatch, PlayoutMark, PlayoutTracker
from media.resample import StreamResampler
from media.vad import VadConfig, VadEvent

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # stdlib audioop leaves in 3.13
    import audioop

__all__ = ["InboundChain", "InboundResult", "OutboundChain"]


@dataclass(slots=True)
class InboundResult:
    """One carrier frame after the inbound chain: audio in the port's format and what was heard.

    Made for every 20 ms frame of every call, so it is not frozen: frozen dataclasses set each
    field through ``object.__setattr__``, four to five times the cost of a plain one.
    """

    audio: bytes
    vad_event: VadEvent | None = None
    barge_in: BargeIn | None = None
    decision: InterruptionDecision | None = None
    """The interruption policy's pause, resume or cut (only with ``interruption`` set)."""
    kind: Literal["inbound_result"] = "inbound_result"


class InboundChain:
    """Caller audio for one call: decode, detect speech and barge-in, convert to the port.

    Frames should be the carrier's 20 ms (160 bytes of G.711); other lengths work, and any
    remainder under a VAD frame waits inside the chain for the next frame.
    """

    def __init__(
        self,
        carrier: AudioFormat = PCMU_8K,
        port: AudioFormat = PCM16_24K,
        vad_config: VadConfig | None = None,
        *,
        noise_suppression: bool = False,
        interruption: InterruptionSettings | None = None,
    ) -> None:
        config = vad_config or VadConfig()
        self.carrier, self.port = check_format(carrier), check_format(port)
        self.barge_in = BargeInDetector(config)
        self._decode = decoder(carrier)
        carrier_hz = carrier.sample_rate_hz
        # The VAD keeps its own (tuned) rate; a carrier at another rate is resampled for it.
        self._to_vad = vad_resampler(carrier_hz, config.sample_rate_hz)
        self._pending = b"" if self._to_vad is None else _filter_delay_silence(self._to_vad)
        self.resampler = StreamResampler(carrier_hz, port.sample_rate_hz)
        """Carrier rate → port rate (a no-op when they match)."""
        self.denoiser = NoiseSuppressor(carrier_hz) if noise_suppression else None
        # Denoised audio is re-encoded: the carrier's bytes no longer pass straight through.
        self._passthrough = carrier == port and self.denoiser is None
        self._encode: Codec | None = None if port.encoding == "pcm16" else encoder(port)
        self._frame_bytes = config.frame_bytes
        self.policy = InterruptionPolicy(interruption, config.frame_ms) if interruption else None
        self.echo = _AgentEcho(carrier, config) if interruption else None

    def process(self, audio: bytes, agent_audible: bool) -> InboundResult:
        """Feed one carrier frame and whether agent audio is audible (``OutboundChain.audible``)."""
        pcm = self._decode(audio)
        if self.denoiser is not None:
            pcm = self.denoiser.process(pcm)
        vad_pcm = pcm if self._to_vad is None else self._to_vad.process(pcm)
        if len(vad_pcm) == self._frame_bytes and not self._pending:
            result = self._vad_frame(vad_pcm, agent_audible)
        else:
            result = self._process_odd(vad_pcm, agent_audible)
        if self._passthrough:
            result.audio = audio
            return result
        out = self.resampler.process(pcm)
        result.audio = out if self._encode is None else self._encode(out)
        return result

    def agent_played(self, carrier_audio: bytes) -> None:
        """Agent audio in the carrier's format was sent to the carrier: the echo reference."""
        if self.echo is not None:
            self.echo.played(carrier_audio)

    def agent_cleared(self) -> None:
        """The carrier's playout was cleared: the queued agent audio will not play (no echo)."""
        if self.echo is not None:
            self.echo.guard.clear()

    def _vad_frame(self, frame: bytes, agent_audible: bool) -> InboundResult:
        """One VAD frame through barge-in detection, the echo guard and the policy."""
        detector = self.barge_in
        barge_in = detector.process_frame(frame, agent_audible)
        result = InboundResult(b"", detector.vad_event, barge_in)
        if self.policy is not None and self.echo is not None:
            guard = self.echo.guard
            guard.advance(frame)
            voiced_ms = detector.vad.frame_voiced_ms
            # Only voiced frames while the agent plays (or its echo may still return) are checked.
            listening = agent_audible or self.policy.state != "idle"
            echo = bool(voiced_ms) and listening and guard.is_echo()
            level_dbov = _dbov(audioop.rms(frame, 2)) if voiced_ms else -100.0
            result.decision = self.policy.step(
                detector.vad.position_ms,
                voiced_ms,
                level_dbov,
                echo=echo,
                agent_audible=agent_audible,
                high_dbov=high_band_dbov(frame) if voiced_ms else -100.0,
            )
        return result

    def flush(self) -> bytes:
        """The port audio still inside the resampler (the caller's last ms), as if silence
        followed; the stream may go on."""
        if self._passthrough:
            return b""
        tail = self.resampler.flush()
        return tail if self._encode is None else self._encode(tail)

    def _process_odd(self, pcm: bytes, agent_audible: bool) -> InboundResult:
        """Frame odd-sized input for the VAD; keep the last VAD event and the first barge-in
        and decision."""
        data = self._pending + pcm
        size = self._frame_bytes
        whole = len(data) - len(data) % size
        result = InboundResult(b"")
        for start in range(0, whole, size):
            found = self._vad_frame(data[start : start + size], agent_audible)
            result.barge_in = result.barge_in or found.barge_in
            result.vad_event = found.vad_event or result.vad_event
            result.decision = result.decision or found.decision
        self._pending = data[whole:]
        return result


def _dbov(rms: int) -> float:
    """Level in dBov of a PCM16 RMS value (0 dBov: a full-scale square wave)."""
    return 20 * math.log10((rms + 1) / 32768)


class VadResampler(Protocol):
    """What the VAD's side path needs of a resampler (``StreamResampler``, ``Decimator``)."""

    @property
    def in_rate_hz(self) -> int: ...

    @property
    def out_rate_hz(self) -> int: ...

    def process(self, pcm16: bytes) -> bytes: ...

    def reset(self) -> None: ...


def vad_resampler(carrier_hz: int, vad_hz: int) -> VadResampler | None:
    """Carrier rate → the VAD's rate, for the VAD alone (the provider never hears it): the
    cheap ``Decimator`` for a whole multiple (L16 at 16 or 24 kHz → 8 kHz), else the general
    resampler; ``None`` when the rates match."""
    if carrier_hz == vad_hz:
        return None
    if carrier_hz % vad_hz == 0:
        return Decimator(carrier_hz, vad_hz)
    return StreamResampler(carrier_hz, vad_hz)


def _filter_delay_silence(resampler: VadResampler) -> bytes:
    """PCM16 silence as long as the output ``resampler`` holds back from a first 20 ms frame.

    Put before the VAD's stream, it lines every later resampled carrier frame up with one VAD
    frame, so the VAD takes whole frames (no re-framing per frame); VAD times only shift by the
    filter's delay (≈ 1.7 ms), and callers use their differences, never their origin. (None
    for a ``Decimator``: it holds nothing back from a whole frame.)
    """
    frame_in = bytes(2 * resampler.in_rate_hz // 50)
    held = 2 * resampler.out_rate_hz // 50 - len(resampler.process(frame_in))
    resampler.reset()
    return bytes(held)


class _AgentEcho:
    """The echo guard fed with the agent's audio as sent, decoded to the VAD's rate."""

    def __init__(self, carrier: AudioFormat, config: VadConfig) -> None:
        self.guard = EchoGuard(config.sample_rate_hz, config.frame_ms)
        self._decode = decoder(carrier)
        # The same path as the caller's audio to the VAD, so the two line up sample for sample.
        self._resampler = vad_resampler(carrier.sample_rate_hz, config.sample_rate_hz)

    def played(self, carrier_audio: bytes) -> None:
        pcm = self._decode(carrier_audio)
        self.guard.played(pcm if self._resampler is None else self._resampler.process(pcm))


class OutboundChain:
    """Agent audio for one call: port → carrier format, 20 ms frames, marks, played position.

    ``push`` never mixes items: when the item changes, the previous item's resampler tail and
    partial frame are flushed first. ``flush`` at the end of a turn sends everything, padding the
    last frame with the carrier's silence. ``clear`` on barge-in drops it all and reports what
    was heard.
    """

    def __init__(
        self,
        port: AudioFormat = PCM16_24K,
        carrier: AudioFormat = PCMU_8K,
        mark_interval_ms: int | None = None,
    ) -> None:
        self.port, self.carrier = check_format(port), check_format(carrier)
        self.resampler = StreamResampler(port.sample_rate_hz, carrier.sample_rate_hz)
        self.tracker = (
            PlayoutTracker(mark_interval_ms, carrier)
            if mark_interval_ms is not None
            else PlayoutTracker(audio=carrier)
        )
        self._passthrough = port == carrier
        self._decode: Codec | None = None if port.encoding == "pcm16" else decoder(port)
        self._encode = encoder(carrier)
        self._item_id: str | None = None

    @property
    def audible(self) -> bool:
        """Whether agent audio sent to the carrier may still be playing."""
        return self.tracker.audible

    def push(self, item_id: str, audio: bytes) -> list[PlayoutBatch]:
        """Add agent audio in the port's format (any length; PCM16 even); return the frames
        ready to send."""
        batches = self.flush() if item_id != self._item_id and self._item_id is not None else []
        self._item_id = item_id
        if not self._passthrough:
            pcm = audio if self._decode is None else self._decode(audio)
            audio = self._encode(self.resampler.process(pcm))
        ready = self.tracker.push(item_id, audio)
        return batches + ready if batches else ready

    def push_carrier(self, item_id: str, audio: bytes) -> list[PlayoutBatch]:
        """Add audio already in the carrier's format (a prerecorded prompt)."""
        batches = self.flush() if item_id != self._item_id and self._item_id is not None else []
        self._item_id = item_id
        return batches + self.tracker.push(item_id, audio)

    def hold(self, item_id: str, audio: bytes) -> bytes:
        """Agent audio of ``item_id`` in the port's format, converted to the carrier's but kept
        back (the agent is paused): ``resume`` plays it later."""
        self._item_id = item_id
        if self._passthrough:
            return audio
        pcm = audio if self._decode is None else self._decode(audio)
        return self._encode(self.resampler.process(pcm))

    def resume(self, item_id: str, start_ms: int, carrier_audio: bytes) -> list[PlayoutBatch]:
        """After a ``clear``: play ``item_id`` on from ``start_ms`` with its audio from there
        (carrier format); the played position goes on in the item's own time."""
        self._item_id = item_id
        return self.tracker.resume(item_id, start_ms, carrier_audio)

    def flush(self) -> list[PlayoutBatch]:
        """End of an agent turn: drain the resampler and pad the last frame, holding nothing."""
        if self._item_id is None:
            return []
        tail = b"" if self._passthrough else self._encode(self.resampler.flush())
        batches = self.tracker.push(self._item_id, tail) if tail else []
        return batches + self.tracker.flush()

    def on_mark(self, name: str) -> PlayoutMark | None:
        """The carrier echoed a mark: record the played position."""
        return self.tracker.on_mark(name)

    def clear(self) -> dict[str, int]:
        """Barge-in: drop queued audio and the resampler state; return heard ms per cut item."""
        self.resampler.reset()
        self._item_id = None
        return self.tracker.clear()
