"""The espeak-ng synthesiser: real espeak-ng when installed, and fake commands for failures."""

from __future__ import annotations

import asyncio
import logging
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from providers.local.speech import EspeakSynthesiser, resolve_tts_command, voice_for_language
from tests.virtual_clock import VirtualClock

ESPEAK = shutil.which("espeak-ng")
needs_espeak = pytest.mark.skipif(
    ESPEAK is None, reason="espeak-ng is not installed (apt install espeak-ng to run this test)"
)


def fake_command(tmp_path: Path, body: str) -> str:
    """An executable Python script that stands in for espeak-ng."""
    script = tmp_path / "fake-tts"
    script.write_text(f"#!{sys.executable}\nimport sys, time\n{body}\n")
    script.chmod(0o755)
    return str(script)


class SignallingClock(VirtualClock):
    """A virtual clock that says when someone starts sleeping on it."""

    def __init__(self) -> None:
        super().__init__()
        self.slept = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        self.slept.set()
        await super().sleep(seconds)


@pytest.mark.parametrize(
    ("code", "voice"),
    [("en-US", "en-us"), ("de-DE", "de-de"), ("fr", "fr"), (" EN-gb ", "en-gb"), ("", "en-us")],
)
def test_voice_follows_the_language_code(code: str, voice: str) -> None:
    assert voice_for_language(code) == voice


def test_tts_command_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    assert resolve_tts_command(None) == "/usr/bin/espeak-ng"
    assert resolve_tts_command("/opt/tts") == "/opt/tts"
    for disabled in ("", "none", "OFF"):
        assert resolve_tts_command(disabled) is None
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert resolve_tts_command(None) is None


@needs_espeak
async def test_espeak_speaks_pcm16_at_24k() -> None:
    assert ESPEAK is not None
    audio = await EspeakSynthesiser(ESPEAK).synthesise("Hello from Kura.", "en-US")
    assert audio is not None and len(audio) % 2 == 0
    duration_ms = len(audio) / 48
    assert 400 < duration_ms < 3000


@needs_espeak
async def test_text_that_looks_like_options_is_spoken_not_parsed() -> None:
    assert ESPEAK is not None
    synthesiser = EspeakSynthesiser(ESPEAK)
    audio = await synthesiser.synthesise('--version "quoted" -v xx', "en-US")
    # Were the text on the command line, espeak-ng would print its version or fail on voice xx.
    assert audio is not None and len(audio) > 24_000


async def test_failing_command_gives_none_and_logs_without_the_text(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    command = fake_command(tmp_path, "sys.stdin.read(); sys.exit(3)")
    with caplog.at_level(logging.INFO, logger="providers.local.speech"):
        assert await EspeakSynthesiser(command).synthesise("secret words", "en-US") is None
    [record] = caplog.records
    assert record.reason == "nonzero_exit"  # type: ignore[attr-defined]
    assert "secret" not in record.getMessage()
    assert all("secret" not in str(value) for value in vars(record).values())


async def test_garbage_output_gives_none(tmp_path: Path) -> None:
    command = fake_command(tmp_path, "sys.stdin.read(); sys.stdout.write('not a wav')")
    assert await EspeakSynthesiser(command).synthesise("hello", "en-US") is None


async def test_missing_command_gives_none(tmp_path: Path) -> None:
    synthesiser = EspeakSynthesiser(str(tmp_path / "no-such-tts"))
    assert await synthesiser.synthesise("hello", "en-US") is None


async def test_hanging_command_is_killed_at_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spawned: list[asyncio.subprocess.Process] = []
    real_exec = asyncio.create_subprocess_exec

    async def recording_exec(*args: Any, **kwargs: Any) -> asyncio.subprocess.Process:
        proc = await real_exec(*args, **kwargs)
        spawned.append(proc)
        return proc

    monkeypatch.setattr(asyncio, "create_subprocess_exec", recording_exec)
    command = fake_command(tmp_path, "sys.stdin.read(); time.sleep(60)")
    clock = SignallingClock()
    synthesiser = EspeakSynthesiser(command, timeout_s=5.0, clock=clock)
    result = asyncio.ensure_future(synthesiser.synthesise("hello", "en-US"))
    await clock.slept.wait()
    await clock.advance(5.0)
    assert await result is None
    # Killed and reaped before synthesise returned: no process outlives the call.
    [proc] = spawned
    assert proc.returncode is not None
