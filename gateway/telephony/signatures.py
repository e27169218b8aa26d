"""Twilio request signatures (``X-Twilio-Signature``) and the public URLs they are made over.

SignalWire's compatibility API signs the same way, keyed by the project's Signing Key, with its
own ``X-SignalWire-Signature`` header (and ``X-Twilio-Signature`` beside it): one class serves
both, told its carrier's path prefix and header names.

Twilio signs the exact URL it requested. Behind a TLS-terminating proxy the request we see has
another scheme, host or port, and ``X-Forwarded-*`` headers can be forged by anyone, so the URL
is always rebuilt from the configured public base URL (``KURA_PUBLIC_URL``) plus the raw path
and query we received. The same builders make the URLs we hand Twilio in TwiML, so what we
publish and what we verify cannot drift apart. ``twilio.request_validator.RequestValidator``
does the HMAC and accepts the URL with and without an explicit default port (protocols.md §1.4).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twilio.request_validator import RequestValidator

from config import Settings

TWILIO_PREFIX = "/telephony/twilio"
VOICE_PATH = f"{TWILIO_PREFIX}/voice"
STATUS_PATH = f"{TWILIO_PREFIX}/status"
ACTION_PATH = f"{TWILIO_PREFIX}/action"
MEDIA_PATH = f"{TWILIO_PREFIX}/media"
SIGNATURE_HEADER = "X-Twilio-Signature"
MAX_SIGNATURE_CHARS = 128  # base64 of a SHA-1 or SHA-256 digest is 28 or 44 characters


def _as_ws(url: str) -> str:
    if url.startswith("https://"):
        return "wss://" + url[len("https://") :]
    if url.startswith("http://"):
        return "ws://" + url[len("http://") :]
    return url


class TwilioSignatures:
    """Checks Twilio's signatures for one auth token and one public base URL (or, with another
    ``prefix`` and ``headers``, a Twilio-compatible carrier's, such as SignalWire's)."""

    def __init__(
        self,
        auth_token: str,
        public_url: str,
        *,
        prefix: str = TWILIO_PREFIX,
        headers: tuple[str, ...] = (SIGNATURE_HEADER,),
    ) -> None:
        self._validator = RequestValidator(auth_token)
        self._public_url = public_url.rstrip("/")
        self._media_path = prefix + "/media"
        self._headers = headers

    def signature_of(self, headers: Mapping[str, str]) -> str | None:
        """The request's signature: the first of this carrier's signature headers present."""
        for name in self._headers:
            if value := headers.get(name):
                return value
        return None

    @classmethod
    def from_settings(cls, settings: Settings) -> TwilioSignatures | None:
        """``None`` when no auth token is configured: webhooks must then refuse, never trust."""
        token = settings.twilio_auth_token
        if token is None or not token.get_secret_value():
            return None
        return cls(token.get_secret_value(), settings.effective_public_url)

    def http_url(self, raw_path_qs: str) -> str:
        """The public ``https://`` URL of a path (with its raw, still-encoded query)."""
        return self._public_url + raw_path_qs

    def media_url(self, path: str | None = None) -> str:
        """The ``wss://`` URL of the media socket, as put in ``<Stream url>`` (no query)."""
        return _as_ws(self._public_url) + (path or self._media_path)

    def webhook_is_valid(
        self, raw_path_qs: str, params: Mapping[str, Any], signature: str | None
    ) -> bool:
        """Whether a form-POST webhook to ``raw_path_qs`` with ``params`` was signed by Twilio.

        ``params`` must hold every received field (a multidict keeps repeated names)."""
        if not _plausible(signature):
            return False
        return bool(self._validator.validate(self.http_url(raw_path_qs), params, signature))

    def media_handshake_is_valid(self, signature: str | None, path: str | None = None) -> bool:
        """Whether the media WebSocket upgrade was signed by Twilio: over the ``wss://`` URL
        from ``<Stream url>``, with no parameters (an ``https://`` URL never matches)."""
        if not _plausible(signature):
            return False
        return bool(self._validator.validate(self.media_url(path), {}, signature))


def _plausible(signature: str | None) -> bool:
    return bool(signature) and len(signature or "") <= MAX_SIGNATURE_CHARS
