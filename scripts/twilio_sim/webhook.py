"""What Twilio sends over HTTP for a call: signed form webhooks, and the TwiML it reads back.

A call gets a fresh ``CallSid`` (``CA`` + 32 hex) and ``StreamSid`` (``MZ`` + 32 hex). Webhooks
are signed exactly as Twilio does (protocols.md §1.4) with the official ``RequestValidator``
over the *public* URL the gateway believes it has; the request itself always goes to the
loopback gateway, so a gateway configured with ``KURA_PUBLIC_URL=https://gw.example.com`` can be
exercised locally (its URLs are signed as given and rebased onto ``--gateway`` for sending).
"""

from __future__ import annotations

import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from twilio.request_validator import RequestValidator

from .loopback import is_loopback_url, require_loopback

VOICE_PATH = "/telephony/twilio/voice"
SIGNATURE_HEADER = "X-Twilio-Signature"
MAX_TWIML_CHARS = 64 * 1024  # a TwiML answer is a few hundred bytes; refuse to parse more


@dataclass(frozen=True, slots=True)
class CallIdentity:
    """The ids and numbers of one simulated call."""

    call_sid: str
    account_sid: str
    stream_sid: str
    from_number: str
    to_number: str

    @classmethod
    def new(cls, from_number: str, to_number: str, account_sid: str | None = None) -> CallIdentity:
        return cls(
            call_sid="CA" + uuid.uuid4().hex,
            account_sid=account_sid or "AC" + uuid.uuid5(uuid.NAMESPACE_URL, "kura-sim").hex,
            stream_sid="MZ" + uuid.uuid4().hex,
            from_number=from_number,
            to_number=to_number,
        )

    def fields(self, call_status: str) -> dict[str, str]:
        """The standard fields of every call webhook (protocols.md §1.1), Twilio's legacy
        duplicates included: the signature must cover every field, so send a realistic set."""
        return {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": self.call_sid,
            "CallStatus": call_status,
            "Called": self.to_number,
            "Caller": self.from_number,
            "Direction": "inbound",
            "From": self.from_number,
            "FromCountry": "US",
            "To": self.to_number,
            "ToCountry": "US",
        }


@dataclass(frozen=True, slots=True)
class ConnectStream:
    """The parts of a ``<Connect><Stream>`` answer the simulator acts on."""

    stream_url: str
    action_url: str | None
    action_method: str
    parameters: dict[str, str] = field(default_factory=dict)
    codec: str | None = None
    """The ``<Stream codec>`` asked for (SignalWire's ``L16@24000h``), ``None`` without one."""


@dataclass(frozen=True, slots=True)
class WebhookReply:
    """One webhook's HTTP outcome and how long the gateway took to answer it."""

    status: int
    text: str
    elapsed_ms: float


def parse_twiml(text: str) -> ConnectStream | None:
    """The ``<Connect><Stream>`` of a TwiML answer, or ``None`` when it has none (a refusal)."""
    if len(text) > MAX_TWIML_CHARS:
        raise ValueError("TwiML answer is too large")
    # The text comes from the loopback gateway under test, bounded above; expat refuses
    # external entities and limits entity expansion.
    root = ET.fromstring(text)  # noqa: S314
    connect = root.find("Connect")
    stream = connect.find("Stream") if connect is not None else None
    if connect is None or stream is None or not stream.get("url"):
        return None
    parameters = {
        p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter") if p.get("name")
    }
    return ConnectStream(
        stream_url=stream.get("url", ""),
        action_url=connect.get("action"),
        action_method=(connect.get("method") or "POST").upper(),
        parameters=parameters,
        codec=stream.get("codec"),
    )


def spoken_text(twiml_text: str) -> list[str]:
    """The ``<Say>`` texts and ``<Dial>`` numbers of a TwiML answer, for printing."""
    root = ET.fromstring(twiml_text)  # noqa: S314 - loopback gateway, bounded by the caller
    return [f"{el.tag}: {(el.text or '').strip()}" for el in root if el.tag in {"Say", "Dial"}]


def rebase(url: str, gateway_url: str) -> str:
    """Where to send a request for ``url``: itself when it is loopback, else the same path and
    query on the loopback gateway (ws/wss URLs keep a WebSocket scheme)."""
    if is_loopback_url(url):
        return url
    base = urlsplit(require_loopback(gateway_url, "--gateway"))
    parts = urlsplit(url)
    scheme = base.scheme
    if parts.scheme in {"ws", "wss"}:
        scheme = "wss" if base.scheme == "https" else "ws"
    return urlunsplit((scheme, base.netloc, parts.path, parts.query, ""))


def sign(validator: RequestValidator, url: str, params: dict[str, str] | None = None) -> str:
    """``X-Twilio-Signature`` for a request to ``url`` (form ``params``; none for the socket)."""
    return str(validator.compute_signature(url, params or {}))


async def post_signed(
    http: aiohttp.ClientSession,
    validator: RequestValidator,
    signed_url: str,
    gateway_url: str,
    params: dict[str, str],
) -> WebhookReply:
    """POST ``params`` form-encoded, signed over ``signed_url``, to the gateway; time the answer."""
    headers = {SIGNATURE_HEADER: sign(validator, signed_url, params)}
    started = time.perf_counter()
    async with http.post(rebase(signed_url, gateway_url), data=params, headers=headers) as reply:
        text = await reply.text()
        return WebhookReply(reply.status, text, (time.perf_counter() - started) * 1000)
