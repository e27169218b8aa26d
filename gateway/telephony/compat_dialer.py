"""Placing calls through Twilio's REST API, or a Twilio-compatible one (SignalWire's LaML API).

The same ``calls.create`` parameters on both: our answer, status and machine-verdict callbacks
under the carrier's own prefix (``/telephony/<carrier>/outbound/...``), each with the call's
session id in its query string, which the carrier signs with the rest of the URL. Answering
machine detection runs asynchronously (``AsyncAmd``), so the assistant starts on answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from gateway.store.models import Call
from gateway.telephony.dialing import ALL_MACHINE_DETECTION, DialCapabilities
from gateway.telephony.signatures import TwilioSignatures
from gateway.telephony.twilio_rest import TwilioRest
from gateway.telephony.twiml import say_once

log = logging.getLogger(__name__)

STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]
TIME_LIMIT_MARGIN_S = 5  # the carrier's own limit, a backstop should this node die, is a bit later
_AMD_MODES = {"detect": "Enable", "leave_message": "DetectMessageEnd"}


@dataclass(frozen=True, slots=True)
class OutboundPaths:
    """Where one carrier's outbound callbacks land."""

    prefix: str

    @property
    def answer(self) -> str:
        return f"{self.prefix}/outbound/answer"

    @property
    def status(self) -> str:
        return f"{self.prefix}/outbound/status"

    @property
    def amd(self) -> str:
        return f"{self.prefix}/outbound/amd"


def compat_capabilities(carrier: str, title: str) -> DialCapabilities:
    """Twilio and SignalWire both run asynchronous AMD, message end included."""
    return DialCapabilities(carrier, title, ALL_MACHINE_DETECTION)


class CompatDialer:
    """One account on Twilio or on a Twilio-compatible carrier."""

    def __init__(
        self,
        rest: TwilioRest,
        signatures: TwilioSignatures,
        paths: OutboundPaths,
        capabilities: DialCapabilities,
    ) -> None:
        self.rest = rest
        self.signatures = signatures
        self.paths = paths
        self._capabilities = capabilities

    @property
    def capabilities(self) -> DialCapabilities:
        return self._capabilities

    def params(self, call: Call, ring_timeout_s: int) -> dict[str, Any]:
        """``calls.create`` keyword arguments for ``call``."""
        url = self.signatures.http_url
        query = "?" + urlencode({"session": call.session_id})
        params: dict[str, Any] = {
            "to": call.to_number, "from_": call.from_number,
            "url": url(self.paths.answer + query), "method": "POST",
            "status_callback": url(self.paths.status + query),
            "status_callback_event": STATUS_EVENTS, "status_callback_method": "POST",
            "timeout": ring_timeout_s,
            "time_limit": (call.max_duration_s or 0) + TIME_LIMIT_MARGIN_S,
        }  # fmt: skip
        if call.machine_detection in _AMD_MODES:
            params.update(
                machine_detection=_AMD_MODES[call.machine_detection], async_amd="true",
                async_amd_status_callback=url(self.paths.amd + query),
                async_amd_status_callback_method="POST",
            )  # fmt: skip
        return params

    async def dial(self, call: Call, *, ring_timeout_s: int) -> str:
        return await self.rest.create_call(self.params(call, ring_timeout_s))

    async def hang_up(self, call: Call, *, ringing: bool) -> None:
        if ringing and await self.rest.update_call(call.call_sid, status="canceled"):
            return
        await self.rest.update_call(call.call_sid, status="completed")

    async def leave_message(self, call: Call, message: str) -> bool:
        # The new TwiML ends the stream (and so the session), says the message, hangs up.
        return await self.rest.update_call(call.call_sid, twiml=say_once(message))

    async def aclose(self) -> None:
        await self.rest.aclose()
