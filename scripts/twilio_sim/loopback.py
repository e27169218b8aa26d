"""Keep the simulators' traffic on this machine: they refuse any host that is not loopback."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def is_loopback_host(host: str) -> bool:
    """``localhost`` or an address in 127.0.0.0/8 or ``::1`` (never a name that needs DNS)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str) -> bool:
    """Whether ``url`` (http, https, ws or wss) points at this machine."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in {"http", "https", "ws", "wss"} and is_loopback_host(parts.hostname or "")


def require_loopback(url: str, what: str = "URL") -> str:
    """``url`` itself, or ``ValueError`` naming ``what`` when it leaves this machine."""
    if not is_loopback_url(url):
        raise ValueError(f"{what} must be a loopback address (127.0.0.1, ::1 or localhost): {url}")
    return url
