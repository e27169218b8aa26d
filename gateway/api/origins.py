"""Which browser origins may use the API: one rule for REST (CORS) and the session WebSocket.

Only requests that carry an ``Origin`` header (browsers) are checked; servers, native apps and
the CLI send none and are not affected. An origin is allowed when it is

- the gateway's own public origin (its console, and clients such as ``websocket-client`` that
  send ``Origin: http://<gateway host:port>`` by default), always;
- listed by a publishable key, for that key (a publishable key is allowed nowhere else);
- listed in ``KURA_ALLOWED_ORIGINS`` or by a secret key, for that secret key (or for a request
  that names no key);
- anything, for a secret key, only when ``KURA_ALLOWED_ORIGINS`` is ``["*"]`` (an explicit
  opt-out).

The default is deny: an unlisted origin gets 403 at the WebSocket handshake and on keyed REST
calls (and no CORS headers). Browsers apply no same-origin policy to WebSockets, so the
handshake's ``Origin`` is the one thing that stops a page elsewhere from using a session URL
(and its token) that leaked, as OWASP's ASVS asks; a secret key has no business in a page on
another site (publishable keys are for that). An app that makes sessions on its server and
connects from its own pages lists those pages' origin once (the 403 says where).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

from gateway.store.models import ApiKey

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
ANY_ORIGIN = "*"  # KURA_ALLOWED_ORIGINS='["*"]': any origin for secret keys (not publishable)


def normalise_origin(text: str) -> str | None:
    """``scheme://host[:port]`` in lower case without a default port, or None when ``text``
    is not an http(s) origin (a path, query, user or wildcard makes it none)."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in {"http", "https"} or not host or "*" in host:
        return None
    if parts.username or parts.password or parts.query or parts.fragment:
        return None
    if parts.path not in {"", "/"}:
        return None
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal keeps its brackets in an origin
    suffix = "" if port is None or port == DEFAULT_PORTS[scheme] else f":{port}"
    return f"{scheme}://{host}{suffix}"


@dataclass(frozen=True, slots=True)
class OriginPolicy:
    """The gateway's own origin and ``KURA_ALLOWED_ORIGINS``, both normalised."""

    own: str
    listed: frozenset[str]
    any_for_secret_keys: bool = False

    @classmethod
    def create(cls, public_url: str, allowed_origins: list[str]) -> OriginPolicy:
        own = normalise_origin(public_url) or public_url.rstrip("/")
        any_origin = ANY_ORIGIN in allowed_origins
        listed = {
            normalise_origin(origin) or origin for origin in allowed_origins if origin != ANY_ORIGIN
        }
        return cls(own=own, listed=frozenset(listed), any_for_secret_keys=any_origin)

    def allows(self, origin: str, key: ApiKey | None) -> bool:
        """May a page on ``origin`` use ``key`` (None: a request that names no key)?"""
        wanted = normalise_origin(origin)
        if wanted is None:
            return False  # "null" (sandboxed frames, file://) and junk are never allowed
        if wanted == self.own:
            return True
        if key is not None and key.kind == "publishable":
            return wanted in key.allowed_origins
        if self.any_for_secret_keys:
            return True
        key_origins = key.allowed_origins if key is not None else []
        return wanted in self.listed or wanted in key_origins

    def may_preflight(self, origin: str, key_origins: set[str]) -> bool:
        """Answer a preflight (which carries no key) for ``origin``, given every origin that
        live keys list; the request that follows is checked against its own key."""
        wanted = normalise_origin(origin)
        if wanted is None:
            return False
        if wanted == self.own or self.any_for_secret_keys or wanted in self.listed:
            return True
        return wanted in key_origins


ORIGINS = web.AppKey("kura_origins", OriginPolicy)


def origin_policy(request: web.Request) -> OriginPolicy:
    return request.app[ORIGINS]
