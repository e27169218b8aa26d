"""Placing calls through Vonage's Voice API (``POST /v1/calls`` as the application).

The call's answer and event URLs sit under ``/telephony/vonage/outbound/`` with the session id
in their query string. Vonage's signed-webhook JWT covers the body (``payload_hash``), not the
URL, so the session named there is only a pointer: each webhook is bound to its call by the
call leg ``uuid`` Vonage sends, which must be the one our dial returned (or, before it
returned, the first one seen). Answering-machine detection is Vonage's advanced AMD
(``behavior: continue``: the assistant starts on answer): ``detect`` for human or machine,
``detect_beep`` to hear the beep after a greeting. A message is left by replacing the call's
NCCO with a ``talk`` (a transfer to an NCCO), which ends our websocket leg; the call ends
when the talk does.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from gateway.store.models import Call
from gateway.telephony.compat_dialer import OutboundPaths
from gateway.telephony.dialing import ALL_MACHINE_DETECTION, DialCapabilities
from gateway.telephony.vonage_rest import VonageVoiceApi, vonage_number

VONAGE_PATHS = OutboundPaths("/telephony/vonage")
CAPABILITIES = DialCapabilities("vonage", "Vonage", ALL_MACHINE_DETECTION)
LENGTH_MARGIN_S = 5  # Vonage's own limit, a backstop should this node die, is a bit later
_AMD_MODES = {"detect": "detect", "leave_message": "detect_beep"}


class VonageDialer:
    """One Vonage Voice application's outbound calls."""

    def __init__(self, api: VonageVoiceApi, public_url: str) -> None:
        self.api = api
        self._public_url = public_url.rstrip("/")

    @property
    def capabilities(self) -> DialCapabilities:
        return CAPABILITIES

    def body(self, call: Call, ring_timeout_s: int) -> dict[str, Any]:
        query = "?" + urlencode({"session": call.session_id})
        body: dict[str, Any] = {
            "to": [{"type": "phone", "number": vonage_number(call.to_number or "")}],
            "from": {"type": "phone", "number": vonage_number(call.from_number or "")},
            "answer_url": [self._public_url + VONAGE_PATHS.answer + query],
            "answer_method": "GET",
            "event_url": [self._public_url + VONAGE_PATHS.status + query],
            "event_method": "POST",
            "ringing_timer": ring_timeout_s,
            "length_timer": (call.max_duration_s or 0) + LENGTH_MARGIN_S,
        }
        if call.machine_detection in _AMD_MODES:
            body["advanced_machine_detection"] = {
                "behavior": "continue", "mode": _AMD_MODES[call.machine_detection],
            }  # fmt: skip
        return body

    async def dial(self, call: Call, *, ring_timeout_s: int) -> str:
        return await self.api.create_call(self.body(call, ring_timeout_s))

    async def hang_up(self, call: Call, *, ringing: bool) -> None:
        await self.api.hang_up(call.call_sid)  # Vonage ends a ringing leg the same way

    async def leave_message(self, call: Call, message: str) -> bool:
        return await self.api.replace_ncco(call.call_sid, [{"action": "talk", "text": message}])

    async def aclose(self) -> None:
        pass  # the API client belongs to Telephony (hang-ups, transfers): closed there
