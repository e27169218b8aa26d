"""The console and widget files: served from the package, with the headers that guard them."""

from __future__ import annotations

from gateway.web.assets import CSS_MARKER, STATIC_DIR, VOICE_MARKER
from gateway.web.routes import CONSOLE_FILES
from tests.gateway.conftest import Gateway


def test_every_console_file_is_listed_and_present() -> None:
    on_disk = {path.name for path in (STATIC_DIR / "admin").iterdir()}
    assert on_disk == set(CONSOLE_FILES)


async def test_console_page_and_assets(gateway: Gateway) -> None:
    response = await gateway.request("GET", "/admin", key=None, allow_redirects=False)
    assert response.status == 308 and response.headers["Location"] == "/admin/"
    page = await gateway.request("GET", "/admin/", key=None)
    assert page.status == 200 and page.content_type == "text/html"
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["X-Frame-Options"] == "DENY"
    for name in CONSOLE_FILES:
        response = await gateway.request("GET", f"/admin/{name}", key=None)
        assert response.status == (404 if name == "index.html" else 200), name
    script = await gateway.request("GET", "/admin/console.js", key=None)
    assert script.content_type == "text/javascript"
    for missing in ("/admin/nothing.js", "/admin/..%2Fchat-widget.js"):
        response = await gateway.request("GET", missing, key=None)
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "not_found"


async def test_no_file_references_the_network(gateway: Gateway) -> None:
    """Nothing is fetched from a CDN at run time: no absolute URLs in what browsers load."""
    for path in [*STATIC_DIR.glob("chat-widget*"), *(STATIC_DIR / "admin").iterdir()]:
        text = path.read_text()
        for scheme in ("https://cdn", "//unpkg", "//fonts.", "googleapis", "jsdelivr"):
            assert scheme not in text, (path.name, scheme)


async def test_the_widget_is_one_script_with_its_parts_spliced_in(gateway: Gateway) -> None:
    response = await gateway.request("GET", "/embed/chat-widget.js", key=None)
    text = await response.text()
    assert CSS_MARKER not in text and VOICE_MARKER not in text
    assert ".launcher{" in text and "registerProcessor('kura-mic'" in text
