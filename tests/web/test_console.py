"""The admin console in real Chromium: every step an API call a key could make."""

from __future__ import annotations

import json
from typing import Any

from gateway.bootstrap import generate_api_key
from tests.gateway.conftest import ADMIN_KEY, Gateway
from tests.web.conftest import screenshot_path

FIRST_PAINT_MAX_MS = 1000.0


async def _console(browser: Any, gateway: Gateway) -> tuple[Any, list[str]]:
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    await page.goto(gateway.url.rstrip("/") + "/admin")  # redirected to /admin/
    return page, problems


async def test_first_paint_and_sign_in(browser: Any, gateway: Gateway) -> None:
    page, problems = await _console(browser, gateway)
    await page.get_by_label("API key").wait_for()
    paint = await page.evaluate(
        "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null"
    )
    print(f"console first contentful paint: {paint:.0f} ms")
    assert paint is not None and paint <= FIRST_PAINT_MAX_MS
    await page.get_by_label("API key").fill(generate_api_key())
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("alert").get_by_text("invalid or revoked").wait_for()
    await page.get_by_label("API key").fill(ADMIN_KEY)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", name="Overview").wait_for()
    assert "kura_live" not in page.url
    stored = await page.evaluate("sessionStorage.getItem('kura.adminKey')")
    assert stored == ADMIN_KEY
    assert await page.evaluate("localStorage.length") == 0
    await page.screenshot(path=screenshot_path("console-overview"))
    assert not [p for p in problems if "401" not in p], problems


async def _nav(page: Any, name: str) -> None:
    await page.get_by_role("navigation").get_by_role("link", name=name).click()


async def _sign_in(page: Any) -> None:
    await page.get_by_label("API key").fill(ADMIN_KEY)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", name="Overview").wait_for()


async def test_assistant_key_and_number(browser: Any, gateway: Gateway) -> None:
    page, problems = await _console(browser, gateway)
    await _sign_in(page)
    # An assistant.
    await _nav(page, "Assistants")
    await page.get_by_role("link", name="+ New assistant").click()
    form = page.get_by_role("form", name="Assistant")
    await form.get_by_label("Name", exact=True).fill("Support bot")
    await form.get_by_label("Greeting").fill("Hi from support")
    await form.get_by_label("Silence (ms)").fill("700")
    await form.get_by_role("button", name="Create").click()
    await page.get_by_role("heading", name="Support bot").wait_for()
    assistant_id = int(page.url.rsplit("/", 1)[1])
    row = await gateway.ctx.store.assistants.get(assistant_id)
    assert row is not None and row.greeting == "Hi from support"
    assert row.turn_detection["silence_ms"] == 700
    # A key: the secret is shown once, and it works.
    await _nav(page, "API keys")
    new_key = page.get_by_role("form", name="New key")
    await new_key.get_by_label("Name", exact=True).fill("backend")
    await new_key.get_by_label("sessions:create").check()
    await new_key.get_by_label("Allowed origins").fill("https://app.example")
    await new_key.get_by_role("button", name="Create key").click()
    secret = await page.locator("[data-new-key]").inner_text()
    assert secret.startswith("kura_live_")
    await page.screenshot(path=screenshot_path("console-key-created"))
    created = await gateway.create_session(key=secret, mode="chat")
    assert created["session_id"]
    await page.reload()
    await page.get_by_role("cell", name="backend").wait_for()
    assert secret not in await page.content()  # never shown again
    # A publishable key for a web page: scoped to the new assistant and one origin.
    new_key = page.get_by_role("form", name="New key")
    await new_key.get_by_label("Name", exact=True).fill("website")
    await new_key.get_by_label("Kind").select_option("publishable")
    await new_key.get_by_label("Support bot").check()
    await new_key.get_by_label("Allowed origins").fill("https://www.example.com")
    await new_key.get_by_role("button", name="Create key").click()
    publishable = await page.locator("[data-new-key]").inner_text()
    assert publishable.startswith("kura_pk_")
    row = await gateway.ctx.store.keys.find_by_secret(publishable)
    assert row is not None and row.assistant_ids == [assistant_id]
    assert row.allowed_origins == ["https://www.example.com"] and row.session_modes == ["chat"]
    # A number, assigned to the new assistant, then disabled.
    await _nav(page, "Numbers")
    assign = page.get_by_role("form", name="Assign a number")
    await assign.get_by_label("Number").fill("+15550002222")
    await assign.get_by_label("Assistant").select_option(str(assistant_id))
    await assign.get_by_role("button", name="Assign").click()
    await page.get_by_role("cell", name="+15550002222").wait_for()
    await page.get_by_role("button", name="Disable").click()
    await page.get_by_role("cell", name="disabled").wait_for()
    number = await gateway.ctx.store.numbers.get_by_number("+15550002222")
    assert number is not None and number.assistant_id == assistant_id and not number.enabled
    await page.screenshot(path=screenshot_path("console-numbers"))
    assert not problems, problems


async def test_live_transcript_then_finished_session(browser: Any, gateway: Gateway) -> None:
    page, problems = await _console(browser, gateway)
    await _sign_in(page)
    created = await gateway.create_session(mode="chat")
    session_id = created["session_id"]
    async with gateway.http.ws_connect(created["websocket_url"]) as ws:
        assert (await ws.receive_json())["type"] == "sessionOpen"
        await _nav(page, "Live")
        await page.get_by_role("link", name=session_id[:8]).click()
        transcript = page.get_by_role("cell", name="live hello", exact=False)
        await ws.send_str(json.dumps({"type": "textMessage", "text": "live hello"}))
        await transcript.first.wait_for()  # appears without a reload
        await page.get_by_text('You wrote: "live hello"').wait_for()
        await page.screenshot(path=screenshot_path("console-live"))
        await ws.send_str(json.dumps({"type": "stopSession"}))
        while not ws.closed:
            await ws.receive()
    # The finished session, found through the history filters.
    await _nav(page, "Sessions")
    await page.get_by_label("Status").select_option("ended")
    await page.get_by_label("Channel").select_option("api")
    await page.get_by_role("button", name="Filter").click()
    await page.get_by_role("link", name=session_id[:8]).click()
    await page.get_by_text("client_stop").wait_for()
    await page.get_by_text('You wrote: "live hello"').wait_for()
    assert await page.get_by_text(" ms", exact=False).count() >= 1  # a reply latency
    await page.screenshot(path=screenshot_path("console-session-detail"))
    assert not problems, problems
