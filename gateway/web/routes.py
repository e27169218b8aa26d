"""``/embed/chat-widget.js`` and the admin console at ``/admin``.

The console is a static page that signs in with an admin API key and calls the public REST API
like any client (no private route); its headers forbid framing and any script or connection
that is not the gateway's own.
"""

from __future__ import annotations

import functools

from aiohttp import web

from gateway.web.assets import Asset, spliced_widget

WIDGET_CACHE_S = 300  # pages embed the widget: a fix reaches them within minutes
CONSOLE_FILES = (
    "index.html",
    "console.css",
    "console.js",
    "api.js",
    "dom.js",
    "sessions.js",
    "assistants.js",
    "keys.js",
    "directory.js",
)
CONSOLE_HEADERS = {
    "Cache-Control": "no-cache",  # revalidated by ETag on each load: a deploy shows at once
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
WIDGET_HEADERS = {
    "Cache-Control": f"public, max-age={WIDGET_CACHE_S}",
    # Any page may load it, also with <script crossorigin>; it holds nothing secret.
    "Access-Control-Allow-Origin": "*",
    "X-Content-Type-Options": "nosniff",
}


@functools.cache
def _asset(relative: str) -> Asset:
    return Asset.load(relative)


@functools.cache
def _widget() -> Asset:
    return spliced_widget()


async def chat_widget(request: web.Request) -> web.Response:
    return _widget().respond(request, WIDGET_HEADERS)


async def console_page(request: web.Request) -> web.Response:
    return _asset("admin/index.html").respond(request, CONSOLE_HEADERS)


async def console_asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in CONSOLE_FILES or name == "index.html":
        raise web.HTTPNotFound()
    return _asset(f"admin/{name}").respond(request, CONSOLE_HEADERS)


async def console_redirect(request: web.Request) -> web.Response:
    raise web.HTTPPermanentRedirect("/admin/")


def add_web_routes(app: web.Application) -> None:
    app.router.add_get("/embed/chat-widget.js", chat_widget)
    app.router.add_get("/admin", console_redirect)
    app.router.add_get("/admin/", console_page)
    app.router.add_get("/admin/{name}", console_asset)
