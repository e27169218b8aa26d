"""The per-call media chains: carrier µ-law in → PCM16 for the AI; AI PCM16 out → carrier frames.

Inbound, per 20 ms frame: µ-law → PCM16 8 kHz → VAD/barge-in → PCM16 at the provider's rate.
Outbound: PCM16 24 kHz (any length) → 8 kHz → µ-law → 20 ms frames with marks. Each chain is one
object per call and owns its one resampler state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from media.bargein import BargeIn, BargeInDetector
from media.g711 import pcm16_to_ulaw, ulaw_to_pcm16
from media.playout import PlayoutBatch, PlayoutMark, PlayoutTracker
from media.resample import StreamResampler
from media.vad import VadConfig, VadEvent

__all__ = ["CARRIER_RATE_HZ", "InboundChain", "InboundResult", "OutboundChain"]

CARRIER_RATE_HZ = 8000


@dataclass(slots=True)
class InboundResult:
    """One carrier frame after the inbound chain: PCM16 for the provider and what was heard.

    Made for every 20 ms frame of every call, so it is not frozen: frozen dataclasses set each
    field through ``object.__setattr__``, four to five times the cost of a plain one.
    """

    pcm16: bytes
    vad_event: VadEvent | None = None
    barge_in: BargeIn | None = None
    kind: Literal["inbound_result"] = "inbound_result"


class InboundChain:
    """Caller audio for one call: decode, detect speech and barge-in, resample (24 kHz default).

    Frames should be the carrier's 20 ms (160 bytes of µ-law); other lengths work, and any
    remainder under 20 ms waits inside the VAD for the next frame.
    """

    def __init__(self, out_rate_hz: int = 24000, vad_config: VadConfig | None = None) -> None:
        config = vad_config or VadConfig()
        if config.sample_rate_hz != CARRIER_RATE_HZ:
            raise ValueError("the inbound VAD runs on the carrier's 8 kHz audio")
        self.barge_in = BargeInDetector(config)
        self.resampler = StreamResampler(CARRIER_RATE_HZ, out_rate_hz)
        self._frame_bytes = config.frame_bytes
        self._pending = b""

    def process(self, ulaw: bytes, agent_audible: bool) -> InboundResult:
        """Feed one carrier frame and whether agent audio is audible (``OutboundChain.audible``)."""
        pcm8k = ulaw_to_pcm16(ulaw)
        if len(pcm8k) == self._frame_bytes and not self._pending:
            barge_in = self.barge_in.process_frame(pcm8k, agent_audible)
            vad_event = self.barge_in.vad_event
        else:
            vad_event, barge_in = self._process_odd(pcm8k, agent_audible)
        return InboundResult(self.resampler.process(pcm8k), vad_event, barge_in)

    def _process_odd(
        self, pcm8k: bytes, agent_audible: bool
    ) -> tuple[VadEvent | None, BargeIn | None]:
        """Frame odd-sized input for the VAD; keep the last VAD event and the first barge-in."""
        data = self._pending + pcm8k
        size = self._frame_bytes
        whole = len(data) - len(data) % size
        vad_event, barge_in = None, None
        for start in range(0, whole, size):
            found = self.barge_in.process_frame(data[start : start + size], agent_audible)
            barge_in = barge_in or found
            vad_event = self.barge_in.vad_event or vad_event
        self._pending = data[whole:]
        return vad_event, barge_in


class OutboundChain:
    """Agent audio for one call: resample to 8 kHz, µ-law, 20 ms frames, marks, played position.

    ``push`` never mixes items: when the item changes, the previous item's resampler tail and
    partial frame are flushed first. ``flush`` at the end of a turn sends everything, padding the
    last frame with µ-law silence. ``clear`` on barge-in drops it all and reports what was heard.
    """

    def __init__(self, in_rate_hz: int = 24000, mark_interval_ms: int | None = None) -> None:
        self.resampler = StreamResampler(in_rate_hz, CARRIER_RATE_HZ)
        self.tracker = (
            PlayoutTracker(mark_interval_ms) if mark_interval_ms is not None else PlayoutTracker()
        )
        self._item_id: str | None = None

    @property
    def audible(self) -> bool:
        """Whether agent audio sent to the carrier may still be playing."""
        return self.tracker.audible

    def push(self, item_id: str, pcm16: bytes) -> list[PlayoutBatch]:
        """Add agent PCM16 (``in_rate_hz``, any even length); return the frames ready to send."""
        batches = self.flush() if item_id != self._item_id and self._item_id is not None else []
        self._item_id = item_id
        ulaw = pcm16_to_ulaw(self.resampler.process(pcm16))
        ready = self.tracker.push_ulaw(item_id, ulaw)
        return batches + ready if batches else ready

    def push_ulaw(self, item_id: str, ulaw: bytes) -> list[PlayoutBatch]:
        """Add agent audio that is already 8 kHz µ-law (a provider that speaks G.711)."""
        batches = self.flush() if item_id != self._item_id and self._item_id is not None else []
        self._item_id = item_id
        return batches + self.tracker.push_ulaw(item_id, ulaw)

    def flush(self) -> list[PlayoutBatch]:
        """End of an agent turn: drain the resampler and pad the last frame, holding nothing."""
        if self._item_id is None:
            return []
        tail = pcm16_to_ulaw(self.resampler.flush())
        batches = self.tracker.push_ulaw(self._item_id, tail) if tail else []
        return batches + self.tracker.flush()

    def on_mark(self, name: str) -> PlayoutMark | None:
        """The carrier echoed a mark: record the played position."""
        return self.tracker.on_mark(name)

    def clear(self) -> dict[str, int]:
        """Barge-in: drop queued audio and the resampler state; return heard ms per cut item."""
        self.resampler.reset()
        self._item_id = None
        return self.tracker.clear()
