"""What Vonage sends for a call: JWT-signed answer and event webhooks, and its websocket framing.

Vonage signs each webhook with an HS256 JWT (the account's signature secret; the simulator's
``--vonage-signature-secret`` is the gateway's ``KURA_VONAGE_SIGNATURE_SECRET``) carrying
``iat``, a unique ``jti`` and ``payload_hash`` (SHA-256 of the body; of no bytes for the GET
answer webhook, whose fields ride in the query). The answer is an NCCO whose ``connect`` names
a websocket, its ``content-type`` (L16 at 16 or 24 kHz) and ``headers``. On the socket Vonage
sends ``websocket:connected`` (the headers merged in) and then raw L16 in **binary** frames of
20 ms, pre-encoded once per plan and rate so a loaded simulator only looks a frame up; it takes
binary audio back, echoes each ``notify`` payload as ``websocket:notify`` once the audio before
it has played, and answers ``clear`` with ``websocket:cleared`` (dropping the pending notifies).
There is no stop message: the caller hanging up closes the socket, and the call's end is
reported to the event URL.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import aiohttp
import jwt
import orjson

from media.g711 import pcm16_to_ulaw, ulaw_to_pcm16
from media.resample import StreamResampler

from .audio import RATE_HZ
from .media_session import InboundPlan, MediaSession
from .webhook import CallIdentity, ConnectStream, WebhookReply, rebase

VOICE_PATH = "/telephony/vonage/voice"
STATUS_PATH = "/telephony/vonage/status"
MAX_NCCO_CHARS = 64 * 1024


def signed_jwt(secret: str, body: bytes) -> str:
    """The bearer token Vonage puts on a webhook with ``body``."""
    claims = {
        "iat": int(time.time()),
        "jti": str(uuid.uuid4()),
        "iss": "Vonage",
        "payload_hash": hashlib.sha256(body).hexdigest(),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def new_identity(from_number: str, to_number: str) -> CallIdentity:
    """A Vonage call: UUIDs for the call leg and the conversation."""
    return CallIdentity(
        call_sid=str(uuid.uuid4()),
        account_sid="CON-" + str(uuid.uuid4()),  # the conversation_uuid
        stream_sid=str(uuid.uuid4()),
        from_number=from_number,
        to_number=to_number,
    )


def answer_fields(identity: CallIdentity) -> dict[str, str]:
    """The answer webhook's query (Vonage writes numbers without the ``+``)."""
    return {
        "to": identity.to_number.removeprefix("+"),
        "from": identity.from_number.removeprefix("+"),
        "uuid": identity.call_sid,
        "conversation_uuid": identity.account_sid,
        "region_url": "https://api-eu-1.vonage.com",
    }


async def answer(
    http: aiohttp.ClientSession, secret: str, url: str, gateway_url: str, identity: CallIdentity
) -> WebhookReply:
    """GET the answer URL with the call's fields in the query, signed; time the answer."""
    headers = {"Authorization": "Bearer " + signed_jwt(secret, b"")}
    target = rebase(url, gateway_url) + "?" + urlencode(answer_fields(identity))
    started = time.perf_counter()
    async with http.get(target, headers=headers) as reply:
        text = await reply.text()
        return WebhookReply(reply.status, text, (time.perf_counter() - started) * 1000)


async def event(
    http: aiohttp.ClientSession,
    secret: str,
    url: str,
    gateway_url: str,
    identity: CallIdentity,
    status: str,
) -> WebhookReply:
    """POST a call event (JSON), signed."""
    body = orjson.dumps(
        {"uuid": identity.call_sid, "conversation_uuid": identity.account_sid, "status": status,
         "direction": "inbound", "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z")}
    )  # fmt: skip
    headers = {"Authorization": "Bearer " + signed_jwt(secret, body),
               "Content-Type": "application/json"}  # fmt: skip
    started = time.perf_counter()
    async with http.post(rebase(url, gateway_url), data=body, headers=headers) as reply:
        text = await reply.text()
        return WebhookReply(reply.status, text, (time.perf_counter() - started) * 1000)


def parse_ncco(text: str) -> tuple[ConnectStream, int] | None:
    """The websocket ``connect`` of an NCCO and its L16 rate, or ``None`` (a ``talk``)."""
    if len(text) > MAX_NCCO_CHARS:
        raise ValueError("NCCO answer is too large")
    ncco = orjson.loads(text)
    for action in ncco if isinstance(ncco, list) else []:
        if not isinstance(action, dict) or action.get("action") != "connect":
            continue
        for endpoint in action.get("endpoint", []):
            if endpoint.get("type") != "websocket":
                continue
            rate_hz = int(str(endpoint["content-type"]).rsplit("=", 1)[1])
            headers = {str(k): str(v) for k, v in endpoint.get("headers", {}).items()}
            return ConnectStream(str(endpoint["uri"]), None, "POST", headers), rate_hz
    return None


def spoken_text(text: str) -> list[str]:
    """The ``talk`` texts of an NCCO, for printing."""
    ncco = orjson.loads(text)
    return [f"talk: {a.get('text', '')}" for a in ncco if isinstance(a, dict) and "text" in a]


_L16: dict[tuple[int, int], tuple[InboundPlan, dict[str, bytes]]] = {}


def l16_frames(plan: InboundPlan, rate_hz: int) -> dict[str, bytes]:
    """Each of the plan's (base64 µ-law) frames as raw L16 at ``rate_hz``, converted once per
    plan and rate, whole clips at a time (no clicks at frame edges)."""
    cached = _L16.get((id(plan), rate_hz))
    if cached is not None and cached[0] is plan:
        return cached[1]
    size = rate_hz // 50 * 2
    frames = {plan.silence: bytes(size)}
    for clip in (plan.clip, plan.barge_clip):
        if clip is None:
            continue
        ulaw = b"".join(base64.b64decode(frame) for frame in clip.frames_b64)
        resampler = StreamResampler(RATE_HZ, rate_hz)
        pcm = resampler.process(ulaw_to_pcm16(ulaw)) + resampler.flush()
        # Line the L16 clip up with the µ-law one (whose onsets the stats use): drop the
        # filter's delay, so a phrase starts in the same frame on every carrier.
        pcm = pcm[2 * round(resampler.delay_ms * rate_hz / 1000) :]
        pcm = pcm.ljust(len(clip.frames_b64) * size, b"\0")
        for i, frame in enumerate(clip.frames_b64):
            frames.setdefault(frame, pcm[i * size : (i + 1) * size])
    _L16[(id(plan), rate_hz)] = (plan, frames)
    return frames


class VonageMediaSession(MediaSession):
    """``MediaSession`` speaking Vonage's websocket protocol: binary audio, JSON control."""

    def __init__(self, *args: Any, rate_hz: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._frames = l16_frames(self._plan, rate_hz)
        self._content_type = f"audio/l16;rate={rate_hz}"
        self._ulaw_ratio = rate_hz * 2 // RATE_HZ  # L16 bytes per µ-law byte of the same time
        self._to_8k = StreamResampler(rate_hz, RATE_HZ) if self._record else None

    def _opening_messages(self) -> list[dict[str, Any]]:
        return [{"event": "websocket:connected", "content-type": self._content_type}
                | self._parameters]  # fmt: skip

    async def _send_media(self, k: int) -> None:
        frame = self._frames[self._plan.payload(k)]
        if self._raw is not None:
            self._raw.binary(frame)
        else:
            await self._ws.send_bytes(frame)

    async def _send_dtmf(self, digit: str) -> None:
        await self._send({"event": "websocket:dtmf", "digit": digit, "duration": 250})
        self.stats.dtmf_sent += 1

    async def _send_stop(self) -> None:
        """Vonage has no stop message: closing the socket is the hang-up."""

    async def _echo(self, names: list[str]) -> None:
        for payload in names:  # the notify payload as sent, kept as JSON text
            await self._ws.send_str('{"event":"websocket:notify","payload":' + payload + "}")
            self.stats.marks_echoed += 1

    async def _receive(self) -> None:
        try:
            async for message in self._ws:
                if message.type == aiohttp.WSMsgType.BINARY:
                    self._on_audio(message.data)
                elif message.type == aiohttp.WSMsgType.TEXT:
                    await self._on_text(message.data)
        except ConnectionError:
            pass
        self.stats.close_code = self._ws.close_code
        if not self._stopping:
            self._gateway_closed = True
            self.stats.closed_by = "gateway"

    async def _on_text(self, text: str) -> None:
        try:
            message = orjson.loads(text)
        except orjson.JSONDecodeError:
            message = None
        action = message.get("action") if isinstance(message, dict) else None
        now_s = self._clock.now_s()
        if action == "notify" and isinstance(message, dict):
            self.stats.marks_received += 1
            payload = orjson.dumps(message.get("payload")).decode()
            await self._echo(self._playback.push_mark(now_s, payload))
        elif action == "clear":
            self.stats.clear_times.append(time.monotonic())
            self._playback.clear(now_s)  # the pending notifies go with the audio
            await self._send({"event": "websocket:cleared"})
        else:
            self.stats.unexpected += 1

    def _on_audio(self, audio: bytes) -> None:
        if self.stats.first_agent_audio_at is None:
            self.stats.first_agent_audio_at = time.monotonic()
        self.stats.agent_media += 1
        ulaw = None
        if self._to_8k is not None:
            ulaw = pcm16_to_ulaw(self._to_8k.process(audio))
        self._playback.push_audio(self._clock.now_s(), len(audio) // self._ulaw_ratio, ulaw)
