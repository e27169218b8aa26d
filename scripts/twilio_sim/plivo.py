"""What Plivo sends for a call: V3-signed form webhooks, its answer XML, and its Audio Streams.

Plivo signs ``URL?`` + the sorted form (``kv`` pairs) + ``.`` + a fresh nonce with HMAC-SHA256
keyed by the auth token (written out here from Plivo's documentation, not taken from the
gateway). The answer is ``<Stream>url</Stream>`` with our values in ``extraHeaders``, then a
``<Redirect>`` that Plivo follows once the stream ends. Frames are camelCase: ``start`` (with
``extra_headers``), ``media``, ``dtmf``, ``playedStream`` once a checkpoint's audio has played,
``clearedAudio``; a ``clearAudio`` drops the queued audio *and its checkpoints*, which are never
echoed (protocols.md §2.6).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
import xml.etree.ElementTree as ET
from typing import Any

import aiohttp
import orjson

from .audio import FRAME_MS
from .media_session import MediaSession, _inner
from .webhook import MAX_TWIML_CHARS, CallIdentity, ConnectStream, WebhookReply, rebase

VOICE_PATH = "/telephony/plivo/voice"
STATUS_PATH = "/telephony/plivo/status"
EXTRA_HEADERS = "extra_headers"  # the ConnectStream parameter carrying the attribute


def new_identity(from_number: str, to_number: str) -> CallIdentity:
    return CallIdentity(
        call_sid=str(uuid.uuid4()),
        account_sid="MA" + uuid.uuid5(uuid.NAMESPACE_URL, "kura-sim-plivo").hex[:18].upper(),
        stream_sid=str(uuid.uuid4()),
        from_number=from_number,
        to_number=to_number,
    )


def fields(identity: CallIdentity, call_status: str) -> dict[str, str]:
    """An answer or hangup webhook's fields; Plivo writes numbers without the ``+``."""
    return {
        "CallUUID": identity.call_sid,
        "CallStatus": call_status,
        "Direction": "inbound",
        "Event": "Hangup" if call_status == "completed" else "StartApp",
        "From": identity.from_number.removeprefix("+"),
        "To": identity.to_number.removeprefix("+"),
    }


def signature(auth_token: str, url: str, params: dict[str, str], nonce: str) -> str:
    """The V3 signature of a form POST without a query string (our webhooks have none)."""
    signed = url + "?" + "".join(k + params[k] for k in sorted(params)) + "." + nonce
    return base64.b64encode(
        hmac.new(auth_token.encode(), signed.encode(), hashlib.sha256).digest()
    ).decode()


async def post_signed(
    http: aiohttp.ClientSession, auth_token: str, url: str, gateway_url: str, params: dict[str, str]
) -> WebhookReply:
    nonce = uuid.uuid4().hex
    headers = {
        "X-Plivo-Signature-V3": signature(auth_token, url, params, nonce),
        "X-Plivo-Signature-V3-Nonce": nonce,
    }
    started = time.perf_counter()
    async with http.post(rebase(url, gateway_url), data=params, headers=headers) as reply:
        text = await reply.text()
        return WebhookReply(reply.status, text, (time.perf_counter() - started) * 1000)


def parse_answer(text: str) -> ConnectStream | None:
    """The ``<Stream>`` (and ``<Redirect>``) of an answer, or ``None`` for a refusal."""
    if len(text) > MAX_TWIML_CHARS:
        raise ValueError("answer XML is too large")
    root = ET.fromstring(text)  # noqa: S314 - the loopback gateway under test, bounded above
    stream, redirect = root.find("Stream"), root.find("Redirect")
    if stream is None or not (stream.text or "").strip():
        return None
    return ConnectStream(
        stream_url=(stream.text or "").strip(),
        action_url=(redirect.text or "").strip() if redirect is not None else None,
        action_method="POST",
        parameters={EXTRA_HEADERS: stream.get("extraHeaders", "")},
    )


class PlivoMediaSession(MediaSession):
    """``MediaSession`` speaking Plivo's framing and checkpoint semantics."""

    def _connected_message(self) -> dict[str, Any]:
        return {}  # Plivo's first frame is start

    async def _send(self, message: dict[str, Any]) -> None:
        if message:
            await super()._send(message)

    def _start_message(self) -> dict[str, Any]:
        start = {
            "callId": self._id.call_sid, "streamId": self._id.stream_sid,
            "accountId": self._id.account_sid, "tracks": ["inbound"],
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000},
        }  # fmt: skip
        return {"event": "start", "sequenceNumber": self._next_seq(), "start": start,
                EXTRA_HEADERS: self._parameters.get(EXTRA_HEADERS, "")}  # fmt: skip

    def _media_text(self, seq: int, k: int) -> str:
        return (
            f'{{"event":"media","sequenceNumber":{seq},"streamId":"{self._id.stream_sid}",'
            f'"media":{{"track":"inbound","timestamp":"{k * FRAME_MS}","chunk":{k + 1},'
            f'"payload":"{self._plan.payload(k)}"}}}}'
        )

    def _event(self, event: str, **body: Any) -> dict[str, Any]:
        head = {"sequenceNumber": self._next_seq(), "streamId": self._id.stream_sid}
        if event == "mark":  # a checkpoint reached
            return {"event": "playedStream"} | head | {"name": body["mark"]["name"]}
        if event == "dtmf":
            body = {"dtmf": {"track": "inbound", "digit": body["dtmf"]["digit"], "timestamp": "0"}}
        elif event == "stop":
            body = {}
        return {"event": event} | head | body

    async def _on_text(self, text: str) -> None:
        try:
            message = orjson.loads(text)
        except orjson.JSONDecodeError:
            message = None
        if not isinstance(message, dict):
            self.stats.unexpected += 1
            return
        event, now_s = message.get("event"), self._clock.now_s()
        if event == "playAudio":
            self._on_media(now_s, str(_inner(message, "media").get("payload", "")))
        elif event == "checkpoint":
            self.stats.marks_received += 1
            await self._echo(self._playback.push_mark(now_s, str(message.get("name", ""))))
        elif event == "clearAudio":
            self.stats.clear_times.append(time.monotonic())
            self._playback.clear(now_s)  # its checkpoints are dropped, never echoed
            await self._send(self._event("clearedAudio"))
        else:
            self.stats.unexpected += 1
