"""The chat widget in real Chromium, on a page of another origin, against the local provider."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.conftest import Gateway
from tests.web.conftest import PageSite, screenshot_path, widget_page

PROBE = (Path(__file__).parent / "widget_probe.js").read_text()
GREETING = "This is the Kura local demo"
WIDGET_MAX_GZIP_BYTES = 30 * 1024
FIRST_TOKEN_MAX_MS = 100.0
VIEWPORT = {"width": 1000, "height": 700}


async def _publishable(gw: Gateway, origin: str, assistant_id: int = 1) -> str:
    return await gw.create_key(
        ["sessions:create"], kind="publishable", allowed_origins=[origin],
        assistant_ids=[assistant_id], session_modes=["chat"],
    )  # fmt: skip


async def _open_page(browser: Any, url: str) -> tuple[Any, list[str]]:
    page = await browser.new_page(viewport=VIEWPORT)
    console: list[str] = []

    def record(msg: Any) -> None:
        if "favicon.ico" not in (msg.location or {}).get("url", ""):  # the test site has none
            console.append(f"{msg.type}: {msg.text}")

    page.on("console", record)
    await page.add_init_script(PROBE)
    await page.goto(url)
    return page, console


async def _chat_turn(page: Any, text: str) -> dict[str, float]:
    widget = page.locator("kura-chat-widget")
    await widget.get_by_role("button", name="Open").click()
    log = widget.get_by_role("log")
    await log.get_by_text(GREETING).wait_for()
    await page.evaluate("window.__kuraProbe.armed = true")
    box = widget.get_by_role("textbox", name="Message")
    assert await box.evaluate("el => el === el.getRootNode().activeElement")  # focus moved in
    await box.fill(text)
    await box.press("Enter")
    await log.get_by_text(f'You wrote: "{text}"').wait_for()
    await page.wait_for_function("window.__kuraProbe.paintedAt !== undefined")
    return dict(await page.evaluate("window.__kuraProbe"))


async def _style(page: Any, selector: str, prop: str) -> str:
    return str(
        await page.evaluate(
            "([s, p]) => getComputedStyle(document.querySelector('kura-chat-widget')"
            ".shadowRoot.querySelector(s)).getPropertyValue(p)",
            [selector, prop],
        )
    )


async def _box(page: Any, selector: str) -> dict[str, float]:
    return dict(
        await page.evaluate(
            "s => document.querySelector('kura-chat-widget').shadowRoot.querySelector(s)"
            ".getBoundingClientRect().toJSON()",
            selector,
        )
    )


async def test_light_bottom_right_chat_turn(browser: Any, gateway: Gateway, site: PageSite) -> None:
    key = await _publishable(gateway, site.origin)
    site.pages["shop.html"] = widget_page(
        gateway.url.rstrip("/"), api_key=key, assistant_id="1",
        backend_url=gateway.url.rstrip("/"), title="Chat Support",
    )  # fmt: skip
    page, console = await _open_page(browser, site.url("shop.html"))
    probe = await _chat_turn(page, "Hello there")
    await page.screenshot(path=screenshot_path("widget-light-bottom-right"))
    first_token_ms = probe["paintedAt"] - probe["firstAt"]
    print(f"widget first token visible {first_token_ms:.1f} ms after it arrived")
    assert first_token_ms <= FIRST_TOKEN_MAX_MS
    launcher, panel = await _box(page, ".launcher"), await _box(page, ".panel")
    assert abs(VIEWPORT["width"] - 20 - (launcher["x"] + launcher["width"])) <= 1
    assert abs(VIEWPORT["height"] - 20 - (launcher["y"] + launcher["height"])) <= 1
    assert launcher["width"] == 56  # the page's `button { width: 300px }` did not get in
    assert abs((panel["x"] + panel["width"]) - (launcher["x"] + launcher["width"])) <= 1
    assert panel["y"] + panel["height"] < launcher["y"]
    assert await _style(page, ".panel", "background-color") == "rgb(255, 255, 255)"
    assert await _style(page, ".launcher", "background-color") == "rgb(99, 102, 241)"
    assert await _style(page, ".assistant", "font-size") == "14px"  # page says 40px
    assert await _style(page, ".assistant", "color") == "rgb(17, 24, 39)"  # page says #0f0
    assert await _style(page, "header", "background-color") == "rgb(99, 102, 241)"
    assert not [line for line in console if line.startswith("error")], console
    # Closing with Escape gives focus back to the launcher.
    await page.keyboard.press("Escape")
    assert (
        await page.evaluate(
            "document.querySelector('kura-chat-widget').shadowRoot.activeElement.className"
        )
        == "launcher"
    )
    assert await _style(page, ".panel", "display") == "none"


async def test_dark_bottom_left(browser: Any, gateway: Gateway, site: PageSite) -> None:
    key = await _publishable(gateway, site.origin)
    site.pages["dark.html"] = widget_page(
        gateway.url.rstrip("/"), api_key=key, assistant_id="1",
        backend_url=gateway.url.rstrip("/"), theme="dark", position="bottom-left",
        primary_color="#10B981",
    )  # fmt: skip
    page, _ = await _open_page(browser, site.url("dark.html"))
    await _chat_turn(page, "Dark mode")
    await page.screenshot(path=screenshot_path("widget-dark-bottom-left"))
    launcher, panel = await _box(page, ".launcher"), await _box(page, ".panel")
    assert abs(launcher["x"] - 20) <= 1 and abs(panel["x"] - 20) <= 1
    assert abs(VIEWPORT["height"] - 20 - (launcher["y"] + launcher["height"])) <= 1
    assert await _style(page, ".panel", "background-color") == "rgb(17, 24, 39)"
    assert await _style(page, ".assistant", "color") == "rgb(249, 250, 251)"
    assert await _style(page, ".launcher", "background-color") == "rgb(16, 185, 129)"
    assert await _style(page, ".user", "background-color") == "rgb(16, 185, 129)"


async def test_a_page_on_another_origin_is_refused(
    browser: Any, gateway: Gateway, site: PageSite
) -> None:
    key = await _publishable(gateway, "https://the-real-shop.example")
    site.pages["copy.html"] = widget_page(
        gateway.url.rstrip("/"), api_key=key, assistant_id="1",
        backend_url=gateway.url.rstrip("/"),
    )  # fmt: skip
    page, console = await _open_page(browser, site.url("copy.html"))
    widget = page.locator("kura-chat-widget")
    await widget.get_by_role("button", name="Open").click()
    alert = widget.get_by_role("alert")
    await alert.wait_for()
    assert "allowed origins" in await alert.inner_text()
    assert any("allowed origins" in line for line in console if line.startswith("error"))
    assert await page.evaluate("window.__kuraProbe.sessions") == 0
    await page.screenshot(path=screenshot_path("widget-refused-origin"))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"api_key": "", "assistant_id": "1"}, "data-api-key is missing"),
        ({"api_key": "kura_pk_x"}, "data-assistant-id is missing"),
        ({"api_key": "kura_pk_x", "assistant_id": "1", "backend_url": "http://127.0.0.1:9"},
         "Cannot reach the chat service at http://127.0.0.1:9"),
        ({"api_key": "WRONG", "assistant_id": "1"}, "The chat key was not accepted"),
        ({"assistant_id": "2"}, "may not create sessions for this assistant"),
    ],
)  # fmt: skip
async def test_a_misconfigured_tag_says_what_is_wrong(
    browser: Any, gateway: Gateway, site: PageSite, data: dict[str, str], expected: str
) -> None:
    data.setdefault("api_key", await _publishable(gateway, site.origin))
    data.setdefault("backend_url", gateway.url.rstrip("/"))
    site.pages["bad.html"] = widget_page(gateway.url.rstrip("/"), **data)
    page, console = await _open_page(browser, site.url("bad.html"))
    widget = page.locator("kura-chat-widget")
    await widget.get_by_role("button", name="Open").click()
    alert = widget.get_by_role("alert")
    await alert.wait_for()
    assert expected in await alert.inner_text()
    assert any(expected in line for line in console if line.startswith("error")), console


async def test_reconnects_with_a_new_session_and_handles_idle_timeout(
    browser: Any, gateway: Gateway, site: PageSite
) -> None:
    assistant = await gateway.ctx.store.assistants.create(
        {"name": "Quick", "provider": "local", "greeting": "Hello! This is the Kura local demo.",
         "idle_timeout_s": 5},
        gateway.clock.now(),
    )  # fmt: skip
    key = await _publishable(gateway, site.origin, assistant.id)
    site.pages["re.html"] = widget_page(
        gateway.url.rstrip("/"), api_key=key, assistant_id=str(assistant.id),
        backend_url=gateway.url.rstrip("/"),
    )  # fmt: skip
    page, _ = await _open_page(browser, site.url("re.html"))
    await _chat_turn(page, "first")
    log = page.locator("kura-chat-widget").get_by_role("log")
    # The connection drops (1006, as when the network goes): a new session, and the chat goes on.
    await page.evaluate(
        "const s = window.__kuraProbe.sockets[0];"
        "s.dispatchEvent(new CloseEvent('close', {code: 1006})); s.close();"
    )
    await log.get_by_text("Reconnecting").wait_for()
    box = page.locator("kura-chat-widget").get_by_role("textbox", name="Message")
    await box.fill("second")
    await box.press("Enter")
    await log.get_by_text('You wrote: "second"').wait_for()
    assert await page.evaluate("window.__kuraProbe.sessions") == 2
    # Idle: the server's sessionTimeout is shown, and the next message starts a new session.
    await log.get_by_text("without messages").wait_for(timeout=15_000)
    await box.fill("third")
    await box.press("Enter")
    await log.get_by_text('You wrote: "third"').wait_for()
    assert await page.evaluate("window.__kuraProbe.sessions") == 3


async def test_the_widget_is_small_and_cached(gateway: Gateway) -> None:
    response = await gateway.request(
        "GET", "/embed/chat-widget.js", key=None, headers={"Accept-Encoding": "gzip"}
    )
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/javascript")
    assert response.headers["Content-Encoding"] == "gzip"
    body = await response.read()  # aiohttp decompresses; measure what went over the wire
    size = len(gzip.compress(body, 9))
    print(f"chat-widget.js: {len(body)} bytes, {size} gzipped")
    assert size <= WIDGET_MAX_GZIP_BYTES
    etag = response.headers["ETag"]
    again = await gateway.request(
        "GET", "/embed/chat-widget.js", key=None, headers={"If-None-Match": etag}
    )
    assert again.status == 304
