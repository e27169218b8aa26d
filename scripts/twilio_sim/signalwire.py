"""What SignalWire sends for a cXML call: Twilio's webhooks keyed by the project's Signing Key
in ``X-SignalWire-Signature``, and Twilio's media framing in the ``<Stream codec>`` asked for.

The gateway asks for ``L16@24000h``: the simulator then streams the caller's clip as PCM16 at
24 kHz (its µ-law frames decoded and resampled once per plan, whole clips at a time, as for
Vonage, then base64-encoded once: a loaded simulator only looks a frame up) and plays the agent's
PCM16 at 24 kHz at 48 bytes a millisecond, its marks and clear behaving as Twilio's. The socket
upgrade is unsigned (SignalWire documents no signature on it).
"""

from __future__ import annotations

import audioop
import base64
import time
import uuid
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


_PAYLOADS: dict[int, tuple[InboundPlan, dict[str, str]]] = {}


def l16_24k_payloads(plan: InboundPlan) -> dict[str, str]:
    """Each of the plan's (base64 µ-law) frames as base64 PCM16 at 24 kHz, built once per plan."""
    cached = _PAYLOADS.get(id(plan))
    if cached is not None and cached[0] is plan:
        return cached[1]
    payloads = {
        ulaw: base64.b64encode(pcm).decode() for ulaw, pcm in l16_frames(plan, 24000).items()
    }
    _PAYLOADS[id(plan)] = (plan, payloads)
    return payloads


class SignalWireMediaSession(MediaSession):
    """``MediaSession`` streaming L16 at 24 kHz (the codec the gateway's cXML asks for)."""

    def _start_message(self) -> dict[str, Any]:
        message = super()._start_message()
        message["start"]["mediaFormat"] = {
            "encoding": "audio/x-l16", "sampleRate": 24000, "channels": 1
        }  # fmt: skip
        self._payloads = l16_24k_payloads(self._plan)
        self._down_state: Any = None
        return message

    def _media_text(self, seq: int, k: int) -> str:
        """Frame ``k`` of the clip as 20 ms of PCM16 at 24 kHz (960 bytes, pre-encoded)."""
        payload = self._payloads[self._plan.payload(k)]
        return (
            f'{{"event":"media","sequenceNumber":"{seq}","streamSid":"{self._id.stream_sid}",'
            f'"media":{{"track":"inbound","chunk":"{k + 1}","timestamp":"{k * 20}",'
            f'"payload":"{payload}"}}}}'
        )

    def _on_media(self, now_s: float, payload: str) -> None:
        """Agent PCM16 at 24 kHz: timed as the µ-law it would be (6 bytes of it per byte)."""
        if self.stats.first_agent_audio_at is None:
            self.stats.first_agent_audio_at = time.monotonic()
        self.stats.agent_media += 1
        if not self._record:
            self._playback.push_audio(now_s, _b64_len(payload) // 6)
            return
        pcm = base64.b64decode(payload)
        down, self._down_state = audioop.ratecv(pcm, 2, 1, 24000, 8000, self._down_state)
        self._playback.push_audio(now_s, len(pcm) // 6, pcm16_to_ulaw(down)[: len(pcm) // 6])
