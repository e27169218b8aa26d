"""Real headless Chromium (Debian's, driven by Playwright) against a real gateway, with pages
served from a second origin. Required under CI=true; skipped with the reason otherwise."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from kinds.clock import SystemClock
from tests.conftest import IN_CI
from tests.gateway.conftest import Gateway, free_port, start_gateway

CHROMIUM = os.environ.get("KURA_TEST_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("KURA_TEST_SCREENSHOTS", "/tmp/kura-web-screenshots"))


def require_browser() -> None:
    missing = []
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        missing.append(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing.append("the playwright package is not installed (pip install -e '.[dev]')")
    if not missing:
        return
    if IN_CI:
        pytest.fail("; ".join(missing) + " (required under CI=true)")
    pytest.skip("; ".join(missing))


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        # --no-sandbox: test containers run as root, where Chromium's sandbox cannot start.
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    async for gw in start_gateway(tmp_path, SystemClock()):
        yield gw


@dataclass
class PageSite:
    """A second origin serving test pages: the site that embeds the widget."""

    server: TestServer
    pages: dict[str, str]

    @property
    def origin(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    def url(self, name: str) -> str:
        return f"{self.origin}/{name}"


@pytest.fixture
async def site() -> AsyncIterator[PageSite]:
    pages: dict[str, str] = {}

    async def page(request: web.Request) -> web.Response:
        body = pages.get(request.match_info["name"])
        if body is None:
            raise web.HTTPNotFound()
        return web.Response(text=body, content_type="text/html")

    app = web.Application()
    app.router.add_get("/{name}", page)
    port = free_port()
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    try:
        yield PageSite(server, pages)
    finally:
        await server.close()


def widget_page(gateway_url: str, **data: str) -> str:
    """A host page whose own CSS tries hard to break the widget, with the docs' tag."""
    attributes = " ".join(
        f'data-{name.replace("_", "-")}="{value}"' for name, value in data.items()
    )
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Shop</title>
<style>
  * {{ color: #0f0 !important; font-size: 40px; box-sizing: content-box; }}
  button {{ background: #f0f !important; width: 300px; }}
  div {{ border: 5px solid red; }}
</style></head>
<body><h1>A shop page</h1>
<script src="{gateway_url}/embed/chat-widget.js" {attributes}></script>
</body></html>"""


def screenshot_path(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"
