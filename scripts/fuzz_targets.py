"""The parsers hostile input reaches first, as fuzz targets: each takes raw bytes and raises
only when the parser breaks its contract (``scripts/fuzz.py`` runs them under atheris).

A target's contract: the parser's own refusal (``ProtocolError``, ``BadRequest``, ``None``,
``False``) is fine; any other exception, or a forged signature accepted, is a finding.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
from collections.abc import Callable

from gateway.api.session_socket import decode_client_event
from gateway.errors import BadRequest
from gateway.sessions.protocol import ProtocolError
from gateway.telephony import form_fields, plivo_codec, telnyx_codec, twilio_codec, vonage_codec
from gateway.telephony.plivo_signatures import PlivoSignatures
from gateway.telephony.signatures import TwilioSignatures
from gateway.telephony.telnyx_signatures import TelnyxSignatures
from gateway.telephony.telnyx_webhooks import _fields as telnyx_fields
from gateway.telephony.vonage_signatures import VonageSignatures
from kinds.clock import SystemClock

PUBLIC_URL = "https://gw.example.com"
TOKEN = "0123456789abcdef0123456789abcdef"
TELNYX_PUBLIC = base64.b64encode(hashlib.sha256(b"kura fuzz").digest()).decode()
"""Any 32 bytes are an Ed25519 public key nobody holds the private half of."""
CALL_SID = re.compile(r"CA[0-9a-f]{32}")


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _split(data: bytes, parts: int) -> list[bytes]:
    """``data`` cut at its first ``parts - 1`` NUL bytes (missing parts are empty)."""
    pieces = data.split(b"\0", parts - 1)
    return pieces + [b""] * (parts - len(pieces))


def app_socket(data: bytes) -> None:
    for mode in ("voice", "chat"):
        with contextlib.suppress(ProtocolError):
            decode_client_event(_text(data), mode)


def _carrier(decode: Callable[[str | bytes], object]) -> Callable[[bytes], None]:
    def target(data: bytes) -> None:
        decode(data)  # binary frames (Vonage's audio; refused by the others)
        decode(_text(data))

    return target


twilio_media = _carrier(twilio_codec.decode)
telnyx_media = _carrier(telnyx_codec.TelnyxCodec("32DE0DEA-53CB-4B21-89A4-9E1819C043BC").decode)
vonage_media = _carrier(vonage_codec.decode)
plivo_media = _carrier(plivo_codec.decode)


def webhook_bodies(data: bytes) -> None:
    for content_type in ("application/x-www-form-urlencoded", "application/json"):
        try:
            fields = telnyx_fields(data, content_type)
        except BadRequest:
            continue
        form_fields.count(fields.get("CallDuration"))
        with contextlib.suppress(BadRequest):
            form_fields.call_sid(fields, CALL_SID)


_TWILIO = TwilioSignatures(TOKEN, PUBLIC_URL)
_TELNYX = TelnyxSignatures(TELNYX_PUBLIC, PUBLIC_URL, SystemClock())
_PLIVO = PlivoSignatures(TOKEN, PUBLIC_URL)


def signatures(data: bytes) -> None:
    """No made-up signature passes, and none makes a checker raise."""
    path, body, signature, extra = (_text(p) for p in _split(data, 4))
    params = dict(item.partition("=")[::2] for item in body.split("&") if item)
    path = "/" + path.lstrip("/")
    assert not _TWILIO.webhook_is_valid(path, params, signature or None)
    assert not _TWILIO.media_handshake_is_valid(signature or None)
    assert not _TELNYX.is_valid(extra or None, signature or None, body.encode())
    assert not _PLIVO.is_valid(path, list(params.items()), extra or None, signature or None)


def vonage_jwt(data: bytes) -> None:
    """Any bearer token but one signed with the secret is refused (HS256 only: no ``none``)."""
    checker = VonageSignatures(TOKEN, None, PUBLIC_URL, SystemClock())
    authorization, body = _split(data, 2)
    assert not checker.is_valid(_text(authorization), body)
    unsigned = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=")
    assert not checker.is_valid(f"Bearer {unsigned.decode()}.{_text(body)}.", body)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "app-socket": app_socket,
    "twilio-media": twilio_media,
    "telnyx-media": telnyx_media,
    "vonage-media": vonage_media,
    "plivo-media": plivo_media,
    "webhook-bodies": webhook_bodies,
    "signatures": signatures,
    "vonage-jwt": vonage_jwt,
}
