"""The widget against a scripted provider: typing state, words shown as they stream, and a
provider failure (sessionError, then a lost session) recovered with a new session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from providers.events import ProviderFailed, ResponseDone, TranscriptDelta
from tests.gateway.conftest import Gateway
from tests.web.conftest import PageSite, widget_page

PROBE = (Path(__file__).parent / "widget_probe.js").read_text()


async def test_typing_streaming_and_a_failed_provider(
    browser: Any, gateway: Gateway, site: PageSite
) -> None:
    assistant_id = await gateway.use_scripted_assistant()
    key = await gateway.create_key(
        ["sessions:create"], kind="publishable", allowed_origins=[site.origin],
        assistant_ids=[assistant_id], session_modes=["chat"],
    )  # fmt: skip
    base = gateway.url.rstrip("/")
    site.pages["s.html"] = widget_page(
        base, api_key=key, assistant_id=str(assistant_id), backend_url=base
    )
    page = await browser.new_page()
    await page.add_init_script(PROBE)
    await page.goto(site.url("s.html"))
    widget = page.locator("kura-chat-widget")
    await widget.get_by_role("button", name="Open").click()
    await page.wait_for_function("window.__kuraProbe.received.sessionOpen === 1")
    box = widget.get_by_role("textbox", name="Message")
    await box.fill("hi")
    await box.press("Enter")
    typing = widget.get_by_role("status").get_by_text("Assistant is typing")
    await typing.wait_for()
    await page.wait_for_function("window.__kuraProbe.sent.textMessage === 1")
    session = gateway.scripted.sessions[0]
    log = widget.get_by_role("log")

    session.emit(TranscriptDelta("output", "Hello", "r1"))
    await log.get_by_text("Hello").wait_for()
    await typing.wait_for(state="hidden")
    bubble = log.locator(".assistant")
    assert await bubble.get_attribute("aria-busy") == "true"  # read out once complete
    session.emit(TranscriptDelta("output", " there, world", "r1"))
    await log.get_by_text("Hello there, world").wait_for()
    session.emit(ResponseDone("r1"))
    await page.wait_for_function(
        "!document.querySelector('kura-chat-widget').shadowRoot"
        ".querySelector('.assistant').hasAttribute('aria-busy')"
    )
    assert await bubble.count() == 1

    # The provider fails: the visitor is told, and a new session takes over.
    session.emit(ProviderFailed("upstream_down", "the model is unavailable"))
    await log.get_by_text("the model is unavailable", exact=False).wait_for()
    await log.get_by_text("Reconnecting").wait_for()
    await page.wait_for_function("window.__kuraProbe.received.sessionOpen === 2")
    assert len(gateway.scripted.sessions) == 2
    await box.fill("again")
    await box.press("Enter")
    await page.wait_for_function("window.__kuraProbe.sent.textMessage === 2")
    assert gateway.scripted.sessions[1].texts == ["again"]
