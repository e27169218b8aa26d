"""Telnyx webhook signatures (``telnyx-signature-ed25519``) and the public URLs we hand Telnyx.

Telnyx signs ``"{telnyx-timestamp}|{raw body}"`` with its Ed25519 key; we verify with the
account's public key (Mission Control: Keys & Credentials). The signature covers the exact bytes
Telnyx sent, so it is checked over the raw body before anything parses it (a re-serialised body
never verifies), and the timestamp must be within five minutes of our clock, which bounds how
long a captured request can be replayed (replays inside the window meet the call service's
idempotency instead). PyNaCl does the Ed25519 arithmetic.
"""

from __future__ import annotations

import binascii

from nacl.exceptions import BadSignatureError, CryptoError
from nacl.signing import VerifyKey

from config import Settings
from kinds.clock import Clock

TELNYX_PREFIX = "/telephony/telnyx"
VOICE_PATH = f"{TELNYX_PREFIX}/voice"
STATUS_PATH = f"{TELNYX_PREFIX}/status"
MEDIA_PATH = f"{TELNYX_PREFIX}/media"
ACTION_PATH = f"{TELNYX_PREFIX}/action"
SIGNATURE_HEADER = "telnyx-signature-ed25519"
TIMESTAMP_HEADER = "telnyx-timestamp"
TOLERANCE_S = 300  # Telnyx's SDKs accept five minutes of skew either way; so do we
SIGNATURE_BYTES = 64  # an Ed25519 signature
MAX_SIGNATURE_CHARS = 128  # base64 of 64 bytes is 88 characters
MAX_TIMESTAMP_CHARS = 12  # Unix seconds for the next thirty thousand years


class TelnyxKeyError(ValueError):
    """The configured public key is not a base64 Ed25519 public key."""


def _strict_b64(text: str) -> bytes:
    """Canonical base64 only: strict mode still ignores the unused low bits of the last
    character, so several spellings decoded to one signature (found by a property test);
    re-encoding must give back exactly ``text``."""
    encoded = text.encode("ascii")
    raw = binascii.a2b_base64(encoded, strict_mode=True)
    if binascii.b2a_base64(raw, newline=False) != encoded:
        raise ValueError("not canonical base64")
    return raw


def _as_ws(url: str) -> str:
    for http, ws in (("https://", "wss://"), ("http://", "ws://")):
        if url.startswith(http):
            return ws + url[len(http) :]
    return url


class TelnyxSignatures:
    """Checks Telnyx's signatures for one account public key, on the gateway's clock."""

    def __init__(self, public_key_b64: str, public_url: str, clock: Clock) -> None:
        try:
            self._key = VerifyKey(_strict_b64(public_key_b64.strip()))
        except (binascii.Error, ValueError, UnicodeEncodeError, CryptoError) as exc:
            raise TelnyxKeyError(
                "KURA_TELNYX_PUBLIC_KEY is not a base64 Ed25519 public key"
            ) from exc
        self._public_url = public_url.rstrip("/")
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock) -> TelnyxSignatures | None:
        """``None`` when no public key is configured: webhooks must then refuse, never trust."""
        if not settings.telnyx_public_key:
            return None
        return cls(settings.telnyx_public_key, settings.effective_public_url, clock)

    def media_url(self) -> str:
        """The ``wss://`` URL of Telnyx's media socket, as put in ``<Stream url>``."""
        return _as_ws(self._public_url) + MEDIA_PATH

    def http_url(self, path: str) -> str:
        """The public URL of one of our webhooks, as put in TeXML and REST requests."""
        return self._public_url + path

    def is_valid(self, timestamp: str | None, signature: str | None, body: bytes) -> bool:
        """Whether ``body`` was signed by Telnyx at ``timestamp``, within the tolerance."""
        if not timestamp or not signature or len(signature) > MAX_SIGNATURE_CHARS:
            return False
        digits = timestamp.isascii() and timestamp.isdigit()
        if not digits or len(timestamp) > MAX_TIMESTAMP_CHARS:
            return False
        if abs(self._clock.now().timestamp() - int(timestamp)) > TOLERANCE_S:
            return False
        try:
            raw_signature = _strict_b64(signature)
        except (binascii.Error, ValueError, UnicodeEncodeError):
            return False
        if len(raw_signature) != SIGNATURE_BYTES:
            return False
        try:
            self._key.verify(timestamp.encode() + b"|" + body, raw_signature)
        except (BadSignatureError, CryptoError):
            return False
        return True
