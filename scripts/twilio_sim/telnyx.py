"""What Telnyx sends for a TeXML call: Ed25519-signed form webhooks and its media framing.

Telnyx signs ``"{telnyx-timestamp}|{raw body}"`` with Ed25519; the simulator holds a signing key
(``--telnyx-signing-key``, a base64 32-byte seed) whose public half the gateway is given as
``KURA_TELNYX_PUBLIC_KEY``. Its media socket upgrade is unsigned; its frames are snake_case
(``stream_id``, ``sequence_number``, ``start.call_control_id``, ``start.media_format``,
``custom_parameters``), and its marks and clear behave as Twilio's, so the paced stream,
playout and mark echoes are ``MediaSession``'s. TeXML has no ``<Connect action>``: once the
stream is over, Telnyx reports the call's end to the status URL, and so does the simulator.
"""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import aiohttp
from nacl.signing import SigningKey

from .audio import FRAME_MS
from .media_session import MediaSession
from .webhook import CallIdentity, WebhookReply, rebase

VOICE_PATH = "/telephony/telnyx/voice"
STATUS_PATH = "/telephony/telnyx/status"


def signing_key(seed_b64: str) -> SigningKey:
    """The simulator's Telnyx signing key from its base64 seed."""
    return SigningKey(base64.b64decode(seed_b64, validate=True))


def public_key(key: SigningKey) -> str:
    """What to give the gateway as ``KURA_TELNYX_PUBLIC_KEY``."""
    return base64.b64encode(bytes(key.verify_key)).decode()


def new_identity(from_number: str, to_number: str) -> CallIdentity:
    """A TeXML call: a ``v3:`` CallSid (the Call Control id form) and a UUID stream id."""
    return CallIdentity(
        call_sid="v3:" + uuid.uuid4().hex + uuid.uuid4().hex[:12],
        account_sid=str(uuid.uuid5(uuid.NAMESPACE_URL, "kura-sim-telnyx")),
        stream_sid=str(uuid.uuid4()),
        from_number=from_number,
        to_number=to_number,
    )


def fields(identity: CallIdentity, call_status: str, sequence: int = 0) -> dict[str, str]:
    """The fields of a TeXML webhook (as in Telnyx's TexmlCallAnswered reference)."""
    return {
        "AccountSid": identity.account_sid,
        "CallSid": identity.call_sid,
        "CallSidLegacy": identity.call_sid,
        "CallStatus": call_status,
        "ConnectionId": "1234567890",
        "Direction": "inbound",
        "From": identity.from_number,
        "SequenceNumber": str(sequence),
        "To": identity.to_number,
    }


async def post_signed(
    http: aiohttp.ClientSession,
    key: SigningKey,
    url: str,
    gateway_url: str,
    params: dict[str, str],
) -> WebhookReply:
    """POST ``params`` form-encoded and signed as Telnyx does; time the answer."""
    body = urlencode(params).encode()
    stamp = str(int(time.time()))
    signature = key.sign(stamp.encode() + b"|" + body).signature
    headers = {
        "telnyx-timestamp": stamp,
        "telnyx-signature-ed25519": base64.b64encode(signature).decode(),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    started = time.perf_counter()
    async with http.post(rebase(url, gateway_url), data=body, headers=headers) as reply:
        text = await reply.text()
        return WebhookReply(reply.status, text, (time.perf_counter() - started) * 1000)


class TelnyxMediaSession(MediaSession):
    """``MediaSession`` speaking Telnyx's framing."""

    def _connected_message(self) -> dict[str, Any]:
        return {"event": "connected", "version": "1.0.0"}

    def _start_message(self) -> dict[str, Any]:
        media_format = {"encoding": "PCMU", "sample_rate": 8000, "channels": 1}
        start = {
            "user_id": self._id.account_sid,
            "call_control_id": self._id.call_sid,
            "from": self._id.from_number,
            "to": self._id.to_number,
            "custom_parameters": self._parameters,
            "media_format": media_format,
        }
        return self._event("start", start=start)

    def _media_text(self, seq: int, k: int) -> str:
        return (
            f'{{"event":"media","sequence_number":"{seq}","stream_id":"{self._id.stream_sid}",'
            f'"media":{{"track":"inbound","chunk":"{k + 1}","timestamp":"{k * FRAME_MS}",'
            f'"payload":"{self._plan.payload(k)}"}}}}'
        )

    def _event(self, event: str, **body: Any) -> dict[str, Any]:
        head = {"sequence_number": str(self._next_seq()), "stream_id": self._id.stream_sid}
        if event == "dtmf":
            body = {"dtmf": {"digit": body["dtmf"]["digit"]}}
        elif event == "stop":
            body = {"stop": {"call_control_id": self._id.call_sid}}
        return {"event": event} | head | body
