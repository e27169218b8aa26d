"""Plivo's V3 webhook signatures (``X-Plivo-Signature-V3``) and the public URLs we hand Plivo.

Plivo signs each webhook with HMAC-SHA256 keyed by the account's auth token over the URL it
requested and a fresh nonce (``X-Plivo-Signature-V3-Nonce``). For a POST the signed string is the
URL without its query, then ``?`` and the query's parameters sorted (``k=v`` joined by ``&``),
a ``.`` when there were any, then the form's parameters sorted and concatenated (``kv`` for each
value), then ``.`` and the nonce; the header is the base64 digest, or several of them separated
by commas (while a token is being rotated), any of which may match. As for Twilio, the URL is
rebuilt from ``KURA_PUBLIC_URL`` plus the raw path and query we received, never from forgeable
``X-Forwarded-*`` headers. V3 carries no timestamp: a captured request stays valid, and a replay
meets the call service's idempotency (the same answer, no second session).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import parse_qs, urlsplit

from config import Settings

PLIVO_PREFIX = "/telephony/plivo"
VOICE_PATH = f"{PLIVO_PREFIX}/voice"
STATUS_PATH = f"{PLIVO_PREFIX}/status"
ACTION_PATH = f"{PLIVO_PREFIX}/action"
MEDIA_PATH = f"{PLIVO_PREFIX}/media"
SIGNATURE_HEADER = "X-Plivo-Signature-V3"
NONCE_HEADER = "X-Plivo-Signature-V3-Nonce"
MAX_HEADER_CHARS = 1024  # a few base64 SHA-256 digests (44 characters each), comma-separated
MAX_NONCE_CHARS = 128


def _as_ws(url: str) -> str:
    for http, ws in (("https://", "wss://"), ("http://", "ws://")):
        if url.startswith(http):
            return ws + url[len(http) :]
    return url


def _sorted_pairs(params: dict[str, list[str]]) -> list[tuple[str, str]]:
    return [(key, value) for key in sorted(params) for value in sorted(params[key])]


def signed_string(url: str, form: Iterable[tuple[str, str]], nonce: str) -> bytes:
    """What Plivo signs for a POST of ``form`` to ``url`` with ``nonce``."""
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}{parts.path}"
    query = "&".join(
        f"{k}={v}" for k, v in _sorted_pairs(parse_qs(parts.query, keep_blank_values=True))
    )
    posted: dict[str, list[str]] = {}
    for key, value in form:
        posted.setdefault(key, []).append(value)
    if query or posted:
        base += "?" + query
    if query and posted:
        base += "."
    base += "".join(k + v for k, v in _sorted_pairs(posted))
    return f"{base}.{nonce}".encode()


class PlivoSignatures:
    """Checks Plivo's V3 signatures for one auth token and one public base URL."""

    def __init__(self, auth_token: str, public_url: str) -> None:
        self._key = auth_token.encode()
        self._public_url = public_url.rstrip("/")

    @classmethod
    def from_settings(cls, settings: Settings) -> PlivoSignatures | None:
        """``None`` when no auth token is configured: webhooks must then refuse, never trust."""
        token = settings.plivo_auth_token
        if token is None or not token.get_secret_value():
            return None
        return cls(token.get_secret_value(), settings.effective_public_url)

    def http_url(self, raw_path_qs: str) -> str:
        return self._public_url + raw_path_qs

    def media_url(self) -> str:
        """The ``wss://`` URL of the media socket, as the ``<Stream>`` element's text."""
        return _as_ws(self._public_url) + MEDIA_PATH

    def is_valid(
        self,
        raw_path_qs: str,
        form: Iterable[tuple[str, str]],
        nonce: str | None,
        signatures: str | None,
    ) -> bool:
        """Whether a form POST to ``raw_path_qs`` was signed by Plivo."""
        if not nonce or not signatures or len(nonce) > MAX_NONCE_CHARS:
            return False
        if len(signatures) > MAX_HEADER_CHARS:
            return False
        message = signed_string(self.http_url(raw_path_qs), form, nonce)
        expected = base64.b64encode(hmac.new(self._key, message, hashlib.sha256).digest())
        return any(
            hmac.compare_digest(expected, candidate.strip().encode())
            for candidate in signatures.split(",")
            if candidate.strip().isascii()
        )
