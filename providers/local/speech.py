"""Speech synthesis for the local provider: ``espeak-ng`` as a subprocess, PCM16 24 kHz out.

The synthesiser is optional: ``synthesise`` returns ``None`` on any failure (missing program,
unknown voice, time-out, oversized or malformed output) and the provider falls back to text.
Text goes in on stdin, never on the command line, so input starting with ``-`` or holding quotes
cannot become an option; no shell is involved.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import shutil
import wave
from typing import Protocol

import numpy as np
import soxr

from kinds.clock import Clock, SystemClock

logger = logging.getLogger(__name__)

OUTPUT_SAMPLE_RATE_HZ = 24_000
DEFAULT_COMMAND = "espeak-ng"
DISABLED_COMMANDS = frozenset({"", "none", "off"})
"""``tts_command`` values that turn the synthesiser off (handy from ``KURA_TTS_COMMAND``)."""
MAX_TEXT_CHARS = 1_000
"""Longer text is cut: replies of the local demo are short, and this bounds synthesis time."""
MAX_OUTPUT_BYTES = 4 * 1024 * 1024
"""About 95 s of 22.05 kHz PCM16: far more than ``MAX_TEXT_CHARS`` needs; only a runaway hits it."""
READ_CHUNK_BYTES = 64 * 1024


class Synthesiser(Protocol):
    """Turns text into PCM16 mono audio at 24 kHz, or ``None`` when it cannot."""

    async def synthesise(self, text: str, language_code: str) -> bytes | None: ...


def resolve_tts_command(tts_command: str | None) -> str | None:
    """The command to run: ``None`` finds ``espeak-ng`` on PATH; disabled values give ``None``."""
    if tts_command is None:
        return shutil.which(DEFAULT_COMMAND)
    if tts_command.strip().lower() in DISABLED_COMMANDS:
        return None
    return tts_command


def voice_for_language(language_code: str) -> str:
    """The espeak-ng voice for a BCP 47 code: ``en-US`` → ``en-us`` (espeak falls back by itself,
    e.g. ``de-DE`` → ``de``)."""
    cleaned = "".join(ch for ch in language_code.strip().lower() if ch.isalnum() or ch == "-")
    return cleaned or "en-us"


class _SynthesisFailed(Exception):
    """Internal: why one synthesis failed, logged as ``reason`` (a static code)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EspeakSynthesiser:
    """``espeak-ng --stdout`` (or a compatible command) behind the ``Synthesiser`` protocol.

    ``clock`` bounds each run by ``timeout_s``; it is the real clock by default because the
    subprocess runs in real time (tests may pass a ``VirtualClock`` to test the time-out).
    """

    def __init__(
        self, command: str, *, timeout_s: float = 10.0, clock: Clock | None = None
    ) -> None:
        self._command = command
        self._timeout_s = timeout_s
        self._clock: Clock = clock or SystemClock()

    async def synthesise(self, text: str, language_code: str) -> bytes | None:
        """PCM16 24 kHz speech for ``text``; ``None`` (logged, without the text) on failure."""
        text = text.strip()[:MAX_TEXT_CHARS]
        if not text:
            return None
        voice = voice_for_language(language_code)
        try:
            wav = await self._run_with_deadline(text, voice)
            return _wav_to_pcm16_24k(wav)
        except _SynthesisFailed as exc:
            logger.warning(
                "local tts failed; replying with text only",
                extra={"reason": exc.reason, "voice": voice, "command": self._command},
            )
            return None

    async def _run_with_deadline(self, text: str, voice: str) -> bytes:
        """Run the command, killing it if ``timeout_s`` passes first."""
        try:
            proc = await asyncio.create_subprocess_exec(
                self._command,
                "--stdout",
                "-v",
                voice,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
        except OSError as exc:
            raise _SynthesisFailed("command_not_runnable") from exc
        run = asyncio.ensure_future(_collect_output(proc, text.encode("utf-8")))
        deadline = asyncio.ensure_future(self._clock.sleep(self._timeout_s))
        try:
            await asyncio.wait({run, deadline}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # Both tasks are owned here: whichever lost (or both, on cancellation) is cancelled
            # and awaited, and the process never outlives the call.
            for task in (run, deadline):
                task.cancel()
            await asyncio.gather(run, deadline, return_exceptions=True)
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if run.cancelled():
            raise _SynthesisFailed("timeout")
        return run.result()


async def _collect_output(proc: asyncio.subprocess.Process, stdin_bytes: bytes) -> bytes:
    """Feed stdin, read stdout up to ``MAX_OUTPUT_BYTES`` and wait for a clean exit."""
    assert proc.stdin is not None and proc.stdout is not None  # both are PIPEs above
    try:
        proc.stdin.write(stdin_bytes)
        await proc.stdin.drain()
        proc.stdin.close()
    except (BrokenPipeError, ConnectionResetError) as exc:
        raise _SynthesisFailed("stdin_closed") from exc
    output = bytearray()
    while chunk := await proc.stdout.read(READ_CHUNK_BYTES):
        output += chunk
        if len(output) > MAX_OUTPUT_BYTES:
            raise _SynthesisFailed("output_too_large")
    if await proc.wait() != 0:
        raise _SynthesisFailed("nonzero_exit")
    return bytes(output)


def _wav_to_pcm16_24k(wav_bytes: bytes) -> bytes:
    """Decode a mono PCM16 WAV (espeak-ng writes 22050 Hz) and resample it to 24 kHz."""
    try:
        with wave.open(io.BytesIO(wav_bytes), "rb") as wav:
            if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
                raise _SynthesisFailed("unsupported_wav_format")
            rate_hz = wav.getframerate()
            # espeak-ng streams to stdout, so its header claims a huge length: read what is there.
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise _SynthesisFailed("malformed_wav") from exc
    samples = np.frombuffer(frames[: len(frames) // 2 * 2], dtype=np.int16)
    if samples.size == 0:
        raise _SynthesisFailed("empty_audio")
    if rate_hz == OUTPUT_SAMPLE_RATE_HZ:
        return samples.tobytes()
    resampled = soxr.resample(samples, rate_hz, OUTPUT_SAMPLE_RATE_HZ)
    return np.asarray(resampled, dtype=np.int16).tobytes()
