"""A leaner resampler for the VAD's side path: PCM16 down by a whole factor (24 or 16 → 8 kHz).

The VAD runs at 8 kHz; a wideband carrier (L16 at 16 or 24 kHz) is brought down for it alone
(this audio never reaches the provider). ``StreamResampler`` serves any ratio, zero-phase, and
so holds samples back and re-blocks its buffer; for a whole factor the work is simpler:

- output ``n`` is the low-pass centred ``lag`` inputs before the end of its group of
  ``factor`` inputs, with ``lag`` the filter's half-length rounded up to whole output samples:
  a 20 ms frame in gives a 20 ms frame out from the first frame on, nothing held back, and each
  output is the very sample the VAD saw before (``StreamResampler`` behind the silence that
  lined its frames up, ``chains._filter_delay_silence``);
- the same kernel as ``StreamResampler``'s for this ratio (65 dB, 3.4-4.6 kHz). The VAD's
  decisions hinge on that band: a shorter kernel (45 dB from 5 kHz, half the taps) moved a
  speech start or end by a frame on 16 of 37 corpus signals, this one on none
  (``tests/media/test_decimate.py``);
- one batched BLAS product per call over a banded block matrix (32 outputs a block), on a
  float32 buffer that input runs along (moved back to its start once in a while, not on
  every frame), with the views of the usual frame sizes made once.
"""

from __future__ import annotations

import warnings

import numpy as np
import numpy.typing as npt

from media.resample import design_lowpass

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # stdlib audioop leaves in 3.13
    import audioop

__all__ = ["Decimator"]

_TRANSITION_FRACTION = 0.15  # of the output rate, as StreamResampler: 3.4-4.6 kHz at 8 kHz
_BLOCK_OUTPUTS = 32  # as in resample: amortises the product without wasting work on zeros
_PIECE_OUTPUTS = 1024  # outputs per pass; bounds the buffers, not the input length
_RUN_INPUTS = 16384  # input runs this far along the buffer before its history moves back

Float32Array = npt.NDArray[np.float32]
_Views = tuple[int, Float32Array, Float32Array, npt.NDArray[np.int16]]
"""Blocks, products, outputs and PCM for one output count."""


class Decimator:
    """PCM16 at ``in_rate_hz`` → PCM16 at ``out_rate_hz``, a whole factor lower.

    ``process`` takes any even number of bytes; every whole group of ``factor`` inputs gives one
    output at once, and a partial group waits for the next call. ``reset`` starts afresh.
    """

    def __init__(self, in_rate_hz: int, out_rate_hz: int) -> None:
        if out_rate_hz <= 0 or in_rate_hz % out_rate_hz or in_rate_hz <= out_rate_hz:
            raise ValueError(f"{in_rate_hz} Hz is not a whole multiple of {out_rate_hz} Hz")
        self.in_rate_hz, self.out_rate_hz = in_rate_hz, out_rate_hz
        factor = self.factor = in_rate_hz // out_rate_hz
        kernel = design_lowpass(in_rate_hz, out_rate_hz / 2, _TRANSITION_FRACTION * out_rate_hz)
        half = (len(kernel) - 1) // 2
        shortest = half - (factor - 1)  # centred this far back, output n needs no later input
        lag = -(-shortest // factor) * factor
        # kernel[j] weighs the input j before the group's last: leading zeros (the newest
        # inputs) centre it ``lag`` back without holding outputs back.
        kernel = np.concatenate([np.zeros(lag - shortest), kernel])
        self.delay_ms = 1000.0 * lag / in_rate_hz
        """How far the output lags the input, in milliseconds."""
        self._history = len(kernel) - factor  # inputs before group n that output n reads
        self._build(kernel[::-1])
        # Outputs cannot leave the int16 range while inputs stay under this; louder input
        # (rare in speech) switches the clipping passes on for the call that carries it.
        self._safe_peak = int(32767 / float(np.abs(kernel).sum())) - 1
        self._piece_bytes = 2 * _PIECE_OUTPUTS * factor
        self._views: dict[int, _Views] = {}
        self._start = self._fill = 0
        self.reset()

    def _build(self, reversed_kernel: npt.NDArray[np.float64]) -> None:
        """The block matrix and the work buffers (no allocation per call after this)."""
        factor, taps = self.factor, len(reversed_kernel)
        block_in = _BLOCK_OUTPUTS * factor
        width = (_BLOCK_OUTPUTS - 1) * factor + taps
        # matrix[w, i]: the weight of window input w in block output i, whose window is the
        # block's inputs i*factor .. i*factor + taps - 1.
        matrix = np.zeros((width, _BLOCK_OUTPUTS), np.float32)
        for i in range(_BLOCK_OUTPUTS):
            matrix[i * factor : i * factor + taps, i] = reversed_kernel
        self._matrix = matrix
        blocks = -(-_PIECE_OUTPUTS // _BLOCK_OUTPUTS)
        self._buffer: Float32Array = np.zeros(
            _RUN_INPUTS + blocks * block_in + width + factor, np.float32
        )
        item = self._buffer.itemsize
        # windows[s, b]: block b's window when output 0's window starts at buffer[s].
        self._windows: Float32Array = np.lib.stride_tricks.as_strided(
            self._buffer,
            (_RUN_INPUTS + 1, blocks, 1, width),
            (item, block_in * item, width * item, item),
        )
        self._blocks: Float32Array = np.zeros((blocks, 1, _BLOCK_OUTPUTS), np.float32)
        self._pcm = np.zeros(blocks * _BLOCK_OUTPUTS, np.int16)
        self._low, self._high = np.array(-32768.0, np.float32), np.array(32767.0, np.float32)

    def reset(self) -> None:
        """Silence before the next input, nothing pending."""
        self._buffer[: self._history] = 0.0
        self._start, self._fill = 0, self._history

    def process(self, pcm16: bytes) -> bytes:
        """Feed PCM16 at ``in_rate_hz``; all PCM16 at ``out_rate_hz`` computable so far."""
        if len(pcm16) % 2:
            raise ValueError("PCM16 input must have an even number of bytes")
        if len(pcm16) <= self._piece_bytes:
            return self._process_piece(pcm16)
        step = self._piece_bytes
        return b"".join(
            self._process_piece(pcm16[start : start + step]) for start in range(0, len(pcm16), step)
        )

    def _views_for(self, count: int) -> _Views:
        """The blocks, products, outputs and PCM views for ``count`` outputs; a call's frames
        come in one or two sizes, so these are sliced once, not fifty times a second."""
        views = self._views.get(count)
        if views is None:
            blocks = -(-count // _BLOCK_OUTPUTS)
            products = self._blocks[:blocks]
            views = (blocks, products, products.reshape(-1)[:count], self._pcm[:count])
            if len(self._views) < 8:
                self._views[count] = views
        return views

    def _process_piece(self, pcm16: bytes) -> bytes:
        if self._fill + len(pcm16) // 2 > len(self._buffer) - self.factor:
            self._move_back()
        fill, end = self._fill, self._fill + len(pcm16) // 2
        self._buffer[fill:end] = np.frombuffer(pcm16, np.int16)
        count = (end - self._start - self._history) // self.factor
        if count == 0:
            self._fill = end
            return b""
        blocks, products, values, out = self._views_for(count)
        np.matmul(self._windows[self._start, :blocks], self._matrix, out=products)
        if audioop.max(pcm16, 2) > self._safe_peak:
            np.maximum(values, self._low, out=values)
            np.minimum(values, self._high, out=values)
        np.rint(values, out=values)
        out[...] = values  # exact: whole numbers within the int16 range
        self._start += count * self.factor
        self._fill = end
        if self._start > _RUN_INPUTS:
            self._move_back()
        return out.tobytes()

    def _move_back(self) -> None:
        """Move the next output's history and any partial group to the buffer's start."""
        keep = self._fill - self._start
        self._buffer[:keep] = self._buffer[self._start : self._fill]
        self._start, self._fill = 0, keep
