"""Which browser origins may use the API: one rule for REST (CORS) and the session WebSocket.

An origin is allowed when it is

- the gateway's own public origin (its console, and clients such as ``websocket-client`` that
  send ``Origin: http://<gateway host:port>`` by default), always;
- listed by a publishable key, for that key (a publishable key is allowed nowhere else);
- listed in ``KURA_ALLOWED_ORIGINS`` or by a secret key, for that secret key;
- anything, for a secret key when neither it nor ``KURA_ALLOWED_ORIGINS`` lists any origin: a
  secret key is no ambient credential (a page can only use one it already holds), so without a
  list nothing is gained by refusing, and server-made sessions keep working from any page.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

from gateway.store.models import ApiKey

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


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

    @classmethod
    def create(cls, public_url: str, allowed_origins: list[str]) -> OriginPolicy:
        own = normalise_origin(public_url) or public_url.rstrip("/")
        listed = {normalise_origin(origin) or origin for origin in allowed_origins}
        return cls(own=own, listed=frozenset(listed))

    def allows(self, origin: str, key: ApiKey | None) -> bool:
        """May a page on ``origin`` use ``key`` (None: a request that names no key)?"""
        wanted = normalise_origin(origin)
        if wanted is None:
            return False  # "null" (sandboxed frames, file://) and junk are never allowed
        if wanted == self.own:
            return True
        if key is not None and key.kind == "publishable":
            return wanted in key.allowed_origins
        key_origins = key.allowed_origins if key is not None else []
        if not key_origins and not self.listed:
            return True
        return wanted in self.listed or wanted in key_origins

    def may_preflight(self, origin: str, key_origins: set[str]) -> bool:
        """Answer a preflight (which carries no key) for ``origin``, given every origin that
        live keys list; the request that follows is checked against its own key."""
        wanted = normalise_origin(origin)
        if wanted is None:
            return False
        if wanted == self.own or not self.listed or wanted in self.listed:
            return True
        return wanted in key_origins


ORIGINS = web.AppKey("kura_origins", OriginPolicy)


def origin_policy(request: web.Request) -> OriginPolicy:
    return request.app[ORIGINS]
