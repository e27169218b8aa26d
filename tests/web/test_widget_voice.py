"""data-mode="voice": Chromium's fake microphone plays a recorded utterance into the widget,
which streams PCM16 24 kHz; the local provider plays it back, and the next utterance, spoken
over that playback, cuts it off (barge-in).

The local provider paces its audio in real time and detects the caller's speech itself, so
whichever side hears the overlap first cuts the reply: the widget (``interrupt`` with
``playedMs``) or the gateway (``turnComplete`` with ``interrupted``, on which the widget drops
what it still had queued). The test accepts either and says which it saw."""

from __future__ import annotations

import asyncio
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from providers.events import AgentAudio
from tests.gateway.conftest import Gateway
from tests.web.conftest import CHROMIUM, PageSite, require_browser, screenshot_path, widget_page

SPEECH = Path(__file__).parents[1] / "fixtures" / "audio" / "speech_a_24k.wav"
PROBE = (Path(__file__).parent / "widget_probe.js").read_text()
PHRASE_S = (0.5, 2.8)  # the clip's first phrase
PAUSE_S = 0.8
"""After the phrase: long enough to end the turn (silence_ms 500), short enough that the phrase
comes round again while its echo (as long as the phrase) is still playing."""


@pytest.fixture
async def voice_browser(tmp_path: Path) -> AsyncIterator[Any]:
    require_browser()
    from playwright.async_api import async_playwright

    clip = tmp_path / "utterance.wav"
    with wave.open(str(SPEECH)) as source, wave.open(str(clip), "wb") as out:
        rate = source.getframerate()
        out.setparams(source.getparams())
        source.setpos(int(PHRASE_S[0] * rate))
        out.writeframes(source.readframes(int((PHRASE_S[1] - PHRASE_S[0]) * rate)))
        out.writeframes(bytes(int(rate * PAUSE_S) * 2))
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--use-fake-ui-for-media-stream",
                  "--use-fake-device-for-media-stream",
                  f"--use-file-for-fake-audio-capture={clip}",  # looped by Chromium
                  "--autoplay-policy=no-user-gesture-required"],
        )  # fmt: skip
        try:
            yield launched
        finally:
            await launched.close()


@pytest.mark.slow
async def test_voice_round_trip_and_barge_in(
    voice_browser: Any, gateway: Gateway, site: PageSite
) -> None:
    key = await gateway.create_key(
        ["sessions:create"], kind="publishable", allowed_origins=[site.origin],
        assistant_ids=[1], session_modes=["chat", "voice"],
    )  # fmt: skip
    base = gateway.url.rstrip("/")
    site.pages["voice.html"] = widget_page(
        base, api_key=key, assistant_id="1", backend_url=base, mode="voice"
    )
    page = await voice_browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.add_init_script(PROBE)
    await page.goto(site.url("voice.html"))
    widget = page.locator("kura-chat-widget")
    await widget.get_by_role("button", name="Open").click()
    await widget.get_by_role("log").get_by_text("local demo").wait_for()
    mic = widget.get_by_role("button", name="Talk")
    await mic.click()
    await widget.get_by_role("button", name="Stop talking").wait_for()
    assert await mic.get_attribute("aria-pressed") == "true"
    # The utterance streams up, and comes back as the agent's audio.
    await page.wait_for_function("(window.__kuraProbe.received.agentAudioChunk || 0) > 10",
                                 timeout=30_000)  # fmt: skip
    assert await page.evaluate("window.__kuraProbe.sent.audioChunk") > 100
    # The utterance comes round again while the echo plays: barge-in.
    await page.wait_for_function(
        "window.__kuraProbe.interrupts.length > 0 || window.__kuraProbe.cut > 0", timeout=30_000
    )
    probe = await page.evaluate("window.__kuraProbe")
    if probe["interrupts"]:
        played = probe["interrupts"][0]["playedMs"]
        print(f"barge-in by the widget after {played} ms of the agent's reply")
        assert 0 < played < 10_000
    else:
        print("barge-in by the gateway (turnComplete interrupted)")
    await page.screenshot(path=screenshot_path("widget-voice"))
    await widget.get_by_role("button", name="Stop talking").click()
    assert await mic.get_attribute("aria-pressed") == "false"
    assert not errors, errors


@pytest.mark.slow
async def test_the_widget_cuts_off_buffered_audio_itself(
    voice_browser: Any, gateway: Gateway, site: PageSite
) -> None:
    """A provider that sends its reply faster than real time (as OpenAI does) leaves seconds of
    audio queued in the browser: the widget's own barge-in stops it and reports what played."""
    assistant_id = await gateway.use_scripted_assistant()
    key = await gateway.create_key(
        ["sessions:create"], kind="publishable", allowed_origins=[site.origin],
        assistant_ids=[assistant_id], session_modes=["voice"],
    )  # fmt: skip
    base = gateway.url.rstrip("/")
    site.pages["fast.html"] = widget_page(
        base, api_key=key, assistant_id=str(assistant_id), backend_url=base, mode="voice"
    )
    page = await voice_browser.new_page()
    await page.add_init_script(PROBE)
    await page.goto(site.url("fast.html"))
    widget = page.locator("kura-chat-widget")
    await widget.get_by_role("button", name="Open").click()
    await widget.get_by_role("button", name="Talk").click()
    await page.wait_for_function("(window.__kuraProbe.sent.audioChunk || 0) > 5")
    session = gateway.scripted.sessions[0]
    told = asyncio.Event()
    record = session.interrupt

    async def interrupt(played_ms: int | None = None) -> None:
        await record(played_ms)
        told.set()

    session.interrupt = interrupt  # type: ignore[method-assign]
    reply_s = 8
    session.emit(AgentAudio(b"\x00\x10" * 24_000 * reply_s, "reply"))
    await page.wait_for_function("window.__kuraProbe.interrupts.length > 0", timeout=20_000)
    played = (await page.evaluate("window.__kuraProbe.interrupts"))[0]["playedMs"]
    print(f"widget barge-in after {played} ms of an {reply_s} s reply")
    assert 0 < played < reply_s * 1000 - 1000
    await asyncio.wait_for(told.wait(), 5)
    assert session.interrupts == [played]  # the provider is told what the visitor heard
