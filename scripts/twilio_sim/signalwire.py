"""What SignalWire sends for a cXML call: Twilio's webhooks keyed by the project's Signing Key
in ``X-SignalWire-Signature``, and Twilio's media framing in the ``<Stream codec>`` asked for.

The gateway asks for ``L16@24000h`` (or ``16000h``) when the assistant's provider speaks
PCM16 and not µ-law: the simulator then streams the caller's clip as PCM16 at that rate (its
µ-law frames decoded and resampled once per plan, whole clips at a time, as for Vonage, then
base64-encoded once: a loaded simulator only looks a frame up) and plays the agent's PCM16 at
its rate, its marks and clear behaving as Twilio's. Without a codec the stream is µ-law, exactly
as Twilio's (``session_type``). The socket upgrade is unsigned (SignalWire documents no
signature on it).
"""

from __future__ import annotations

import audioop
import base64
import functools
import time
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp
from twilio.request_validator import RequestValidator

from media.g711 import pcm16_to_ulaw

from .media_session import InboundPlan, MediaSession, _b64_len
from .vonage import l16_frames
from .webhook import CallIdentity, WebhookReply, rebase

VOICE_PATH = "/telephony/signalwire/voice"
STATUS_PATH = "/telephony/signalwire/status"
SIGNATURE_HEADER = "X-SignalWire-Signature"
L16_24K = "L16@24000h"
L16_RATES_HZ = {"L16@16000h": 16000, L16_24K: 24000}


def new_identity(from_number: str, to_number: str) -> CallIdentity:
    """A cXML call: SignalWire's ids are UUIDs."""
    return CallIdentity(
        call_sid=str(uuid.uuid4()),
        account_sid=str(uuid.uuid5(uuid.NAMESPACE_URL, "kura-sim-signalwire")),
        stream_sid=str(uuid.uuid4()),
        from_number=from_number,
        to_number=to_number,
    )


async def post_signed(
    http: aiohttp.ClientSession,
    signing_key: str,
    signed_url: str,
    gateway_url: str,
    params: dict[str, str],
) -> WebhookReply:
    """POST ``params`` signed as SignalWire does (Twilio's algorithm, its own header)."""
    signature = RequestValidator(signing_key).compute_signature(signed_url, params)
    started = time.perf_counter()
    async with http.post(
        rebase(signed_url, gateway_url), data=params, headers={SIGNATURE_HEADER: str(signature)}
    ) as reply:
        text = await reply.text()
        return WebhookReply(reply.status, text, (time.perf_counter() - started) * 1000)


_PAYLOADS: dict[tuple[int, int], tuple[InboundPlan, dict[str, str]]] = {}


def l16_payloads(plan: InboundPlan, rate_hz: int) -> dict[str, str]:
    """Each of the plan's (base64 µ-law) frames as base64 PCM16 at ``rate_hz``, built once per
    plan and rate."""
    cached = _PAYLOADS.get((id(plan), rate_hz))
    if cached is not None and cached[0] is plan:
        return cached[1]
    payloads = {
        ulaw: base64.b64encode(pcm).decode() for ulaw, pcm in l16_frames(plan, rate_hz).items()
    }
    _PAYLOADS[(id(plan), rate_hz)] = (plan, payloads)
    return payloads


def session_type(codec: str | None) -> Callable[..., MediaSession]:
    """The media session for a ``<Stream codec>``: L16 at its rate, else Twilio's µ-law."""
    rate_hz = L16_RATES_HZ.get(codec or "")
    if rate_hz is None:
        return MediaSession
    return functools.partial(SignalWireMediaSession, rate_hz=rate_hz)


class SignalWireMediaSession(MediaSession):
    """``MediaSession`` streaming L16 at ``rate_hz`` (the codec the gateway's cXML asked for)."""

    def __init__(self, *args: Any, rate_hz: int = 24000, **kwargs: Any) -> None:
        self._rate_hz = rate_hz
        super().__init__(*args, **kwargs)

    def _start_message(self) -> dict[str, Any]:
        message = super()._start_message()
        message["start"]["mediaFormat"] = {
            "encoding": "audio/x-l16", "sampleRate": self._rate_hz, "channels": 1
        }  # fmt: skip
        self._payloads = l16_payloads(self._plan, self._rate_hz)
        self._down_state: Any = None
        return message

    def _media_text(self, seq: int, k: int) -> str:
        """Frame ``k`` of the clip as 20 ms of PCM16 at the stream's rate (pre-encoded)."""
        payload = self._payloads[self._plan.payload(k)]
        return (
            f'{{"event":"media","sequenceNumber":"{seq}","streamSid":"{self._id.stream_sid}",'
            f'"media":{{"track":"inbound","chunk":"{k + 1}","timestamp":"{k * 20}",'
            f'"payload":"{payload}"}}}}'
        )

    def _on_media(self, now_s: float, payload: str) -> None:
        """Agent PCM16: timed as the µ-law it would be (``rate_hz`` / 4000 bytes per byte)."""
        if self.stats.first_agent_audio_at is None:
            self.stats.first_agent_audio_at = time.monotonic()
        self.stats.agent_media += 1
        ratio = self._rate_hz // 4000
        if not self._record:
            self._playback.push_audio(now_s, _b64_len(payload) // ratio)
            return
        pcm = base64.b64decode(payload)
        down, self._down_state = audioop.ratecv(pcm, 2, 1, self._rate_hz, 8000, self._down_state)
        self._playback.push_audio(
            now_s, len(pcm) // ratio, pcm16_to_ulaw(down)[: len(pcm) // ratio]
        )
