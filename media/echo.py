"""Echo guard: is the caller's sound the assistant's own voice coming back (a speakerphone)?

The agent audio sent to the carrier plays out in real time, 20 ms per frame from when it is
sent, so the guard keeps it on the caller stream's timeline: each caller frame takes the next
20 ms of what was queued for playout (silence when none). A speakerphone returns that reference
delayed (network and room, up to ``max_delay_ms``) and attenuated. For a voiced caller frame the
guard takes the last ``window_ms`` of the caller's signal and finds the best normalised
cross-correlation with the reference at every delay (one FFT); above ``threshold`` the caller's
sound is explained by the echo. A caller talking over the echo lowers the correlation to
sqrt(echo / (echo + caller)) in power, so a caller ~3 dB louder than the echo gets through.

A single-path correlation, not an adaptive canceller: a very reverberant room lowers the
correlation of the echo itself.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import numpy.typing as npt

__all__ = ["EchoGuard"]

_Floats = npt.NDArray[np.float64]
_SILENT_POWER = 4.0**2  # mean square under ~ -78 dBov: nothing to correlate
# Pre-emphasis on both signals: the phone line and the speakerphone drop what lies under
# ~300 Hz, where voiced speech has most of its energy; weighing it down makes the correlation
# measure the band the echo really shares with the reference.
_EMPHASIS = 0.95
_NEAR_LAGS = 6  # after a match, the delay is checked this many samples either side first


class EchoGuard:
    """Tells the assistant's returning voice from the caller's, for PCM16 mono at one rate."""

    def __init__(
        self,
        sample_rate_hz: int = 8000,
        frame_ms: int = 20,
        max_delay_ms: int = 400,
        window_ms: int = 60,
        threshold: float = 0.6,
    ) -> None:
        self.threshold = threshold
        self._frame = sample_rate_hz * frame_ms // 1000
        self._window = sample_rate_hz * window_ms // 1000
        self._lags = sample_rate_hz * max_delay_ms // 1000
        span = self._lags + self._window
        # Circular correlation is enough: for the delays used, reference[j : j + window] never
        # wraps when the FFT covers the span.
        self._size = 1 << (span - 1).bit_length()
        # Both timelines are kept as PCM16 bytes, one sample longer than used (the sample before
        # carries the pre-emphasis), and become float arrays only when ``is_echo`` correlates:
        # most caller frames are never checked, and numpy's per-call cost dominates arrays of
        # a frame's size, so the per-frame bookkeeping stays in bytes (memmove, no numpy).
        self._span = span
        self._reference = bytearray(2 * (span + 1))  # played agent audio, the newest last
        self._caller = bytearray(2 * (self._window + 1))
        self._reference_array: _Floats = np.zeros(span)  # pre-emphasised, made by ``is_echo``
        self._queued: deque[bytes] = deque()  # sent, not yet played
        self._queued_samples = 0
        self._lag: int | None = None  # reference offset of the last match (fixed delay)
        self.last_correlation = 0.0
        # Samples of silence played in a row: once more than the reference holds, it is all
        # zeros and stays so until the agent plays again, so most caller frames (the agent is
        # silent most of a call) skip its bookkeeping.
        self._silent = span + 1

    def played(self, pcm16: bytes) -> None:
        """Agent audio (PCM16 at the guard's rate) sent to the carrier: it plays after what
        is already queued."""
        if len(pcm16) >= 2:
            self._queued.append(pcm16[: len(pcm16) & ~1])
            self._queued_samples += len(pcm16) // 2

    def clear(self) -> None:
        """The carrier dropped its playout buffer: what was queued will never play."""
        self._queued.clear()
        self._queued_samples = 0

    def advance(self, frame: bytes) -> None:
        """One caller frame (PCM16, ``frame_ms`` long) went by: move both timelines on."""
        step = len(frame) // 2
        _shift_in(self._caller, frame[: 2 * step])
        if self._reference_silent():
            return
        played = self._take(step)
        _shift_in(self._reference, played)
        self._silent = self._silent + step if played.count(0) == len(played) else 0

    def _reference_silent(self) -> bool:
        """Nothing queued, and only silence played for longer than the reference spans (the
        first silent sample carries the pre-emphasis of the last sound, so one more frame)."""
        return not self._queued and self._silent > self._span

    def is_echo(self) -> bool:
        """Whether the caller's last ``window_ms`` is the agent's audio at some delay."""
        self.last_correlation = 0.0
        if self._reference_silent():  # the agent's echo has died away: nothing to compare
            return False
        caller = _emphasised(self._caller)
        caller_power = float(caller @ caller)
        if caller_power < _SILENT_POWER * len(caller):
            return False
        reference = self._reference_array = _emphasised(self._reference)
        if not reference.any():
            return False
        if self._lag is not None and self._near(caller, caller_power) >= self.threshold:
            return True
        return self._search(caller, caller_power) >= self.threshold

    def _near(self, caller: _Floats, caller_power: float) -> float:
        """Best correlation within ``_NEAR_LAGS`` of the last match (a few dot products)."""
        assert self._lag is not None
        window = self._window
        first = max(0, self._lag - _NEAR_LAGS)
        last = min(self._lags, self._lag + _NEAR_LAGS)
        segment = self._reference_array[first : last + window]
        views = np.lib.stride_tricks.sliding_window_view(segment, window)
        cross = views @ caller
        energy = np.einsum("ij,ij->i", views, views)
        correlation = cross / np.sqrt(np.maximum(energy, _SILENT_POWER * window) * caller_power)
        best = int(correlation.argmax())
        self._lag = first + best
        self.last_correlation = float(correlation[best])
        return self.last_correlation

    def _search(self, caller: _Floats, caller_power: float) -> float:
        """Best correlation over every delay, by one FFT cross-correlation."""
        reference = self._reference_array
        size, window = self._size, self._window
        spectrum = np.fft.rfft(reference, size) * np.conj(np.fft.rfft(caller, size))
        cross = np.fft.irfft(spectrum, size)[: self._lags + 1]  # [j]: reference[j : j + window]
        energy = np.concatenate(([0.0], np.cumsum(reference * reference)))
        windows = energy[window : window + self._lags + 1] - energy[: self._lags + 1]
        correlation = cross / np.sqrt(np.maximum(windows, _SILENT_POWER * window) * caller_power)
        best = int(correlation.argmax())
        self.last_correlation = float(correlation[best])
        self._lag = best if self.last_correlation >= self.threshold else None
        return self.last_correlation

    def _take(self, count: int) -> bytes:
        """The next ``count`` samples of queued playout (PCM16), silence once it runs out."""
        wanted = 2 * count
        head = self._queued[0] if self._queued else b""
        if len(head) == wanted:  # the usual case: the agent's frames match the caller's
            self._queued.popleft()
            self._queued_samples -= count
            return head
        out = bytearray()
        while len(out) < wanted and self._queued:
            head = self._queued[0]
            take = min(wanted - len(out), len(head))
            out += head[:take]
            if take == len(head):
                self._queued.popleft()
            else:
                self._queued[0] = head[take:]
        self._queued_samples -= len(out) // 2
        return bytes(out) + bytes(wanted - len(out))


def _shift_in(history: bytearray, samples: bytes) -> None:
    """Append ``samples`` to ``history``, the oldest out (a bytearray drops its head in place)."""
    history += samples
    del history[: len(samples)]


def _emphasised(history: bytearray) -> _Floats:
    """The pre-emphasised signal of ``history`` (PCM16), one sample shorter: each sample less
    ``_EMPHASIS`` times the one before (the same arithmetic as a running filter, so the same
    floats)."""
    samples = np.frombuffer(history, "<i2").astype(np.float64)
    emphasised: _Floats = samples[1:] - _EMPHASIS * samples[:-1]
    return emphasised
