"""Static files of ``gateway/web/static``: read once, served from memory with an ETag and a
gzip copy, so a page load costs no disk read and no compression per request."""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

STATIC_DIR = Path(__file__).with_name("static")
CSS_MARKER = '/*@css@*/""'
VOICE_MARKER = "/*@voice@*/"
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    gzipped: bytes
    content_type: str
    etag: str

    @classmethod
    def load(cls, relative: str) -> Asset:
        path = STATIC_DIR / relative
        return cls.of(path.read_bytes(), CONTENT_TYPES[path.suffix])

    @classmethod
    def of(cls, body: bytes, content_type: str) -> Asset:
        return cls(
            body=body,
            # mtime=0: the same bytes on every start and node, so the ETag holds behind a balancer.
            gzipped=gzip.compress(body, compresslevel=9, mtime=0),
            content_type=content_type,
            etag='"' + hashlib.sha256(body).hexdigest()[:20] + '"',
        )

    def respond(self, request: web.Request, headers: dict[str, str]) -> web.Response:
        common = {"ETag": self.etag, "Vary": "Accept-Encoding", **headers}
        if request.headers.get("If-None-Match") == self.etag:
            return web.Response(status=304, headers=common)
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            common["Content-Encoding"] = "gzip"
            body = self.gzipped
        else:
            body = self.body
        response = web.Response(body=body, headers=common)
        response.content_type, _, _ = self.content_type.partition(";")
        response.charset = "utf-8" if "charset" in self.content_type else None
        return response


def spliced_widget() -> Asset:
    """``chat-widget.js`` with its stylesheet and voice code put in place: pages get the one
    script the Kura documentation shows, while each source file stays small and readable."""
    core = (STATIC_DIR / "chat-widget.js").read_text()
    css = (STATIC_DIR / "chat-widget.css").read_text()
    voice = (STATIC_DIR / "chat-widget-voice.js").read_text()
    for marker in (CSS_MARKER, VOICE_MARKER):
        if core.count(marker) != 1:
            raise RuntimeError(f"chat-widget.js must hold {marker} exactly once")
    body = core.replace(CSS_MARKER, json.dumps(css)).replace(VOICE_MARKER, voice)
    return Asset.of(body.encode(), CONTENT_TYPES[".js"])
