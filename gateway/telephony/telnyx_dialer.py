"""Placing calls through Telnyx Call Control.

The dial names our events URL (``webhook_url``) and carries the call's session id in
``client_state``, which Telnyx echoes in every event of the call, inside the body it signs
(Ed25519), so an event is bound to its call by what Telnyx signed. The media stream starts
on answer (``streaming_start``), when the call's single-use media token exists; it rides in
the stream's ``custom_parameters`` like a TeXML call's. Telnyx's standard answering-machine
detection says human or machine (``detect``); leaving a message after the beep would need
its own speak-then-hang-up flow, so ``leave_message`` is declared unsupported and refused.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping

from gateway.store import Store
from gateway.store.models import Call
from gateway.telephony.calls import CallService
from gateway.telephony.carriers.events import StreamStarted
from gateway.telephony.carriers.registry import AfterCall
from gateway.telephony.dialing import CarrierDialer, DialCapabilities
from gateway.telephony.telnyx_rest import TelnyxCallControl

log = logging.getLogger(__name__)

TELNYX_OUTBOUND_EVENTS_PATH = "/telephony/telnyx/outbound/events"
TIME_LIMIT_MARGIN_S = 5  # Telnyx's own limit, a backstop should this node die, is a bit later
MAX_TIME_LIMIT_S = 14400  # Telnyx's maximum (and default) call length
MIN_RING_TIMEOUT_S = 5  # Telnyx refuses a shorter timeout_secs
CAPABILITIES = DialCapabilities("telnyx", "Telnyx", frozenset({"detect"}))


def client_state(session_id: str) -> str:
    return base64.b64encode(session_id.encode()).decode()


def session_of(state: str) -> str | None:
    """The session id in an event's ``client_state``; ``None`` if it holds none."""
    try:
        return base64.b64decode(state.encode(), validate=True).decode()
    except (ValueError, UnicodeError):
        return None


class TelnyxDialer:
    """One Call Control application's outbound calls."""

    def __init__(
        self,
        api: TelnyxCallControl,
        connection_id: str,
        public_url: str,
        media_url: str,
        stream_codec: str,
    ) -> None:
        self.api = api
        self._connection_id = connection_id
        self._events_url = public_url.rstrip("/") + TELNYX_OUTBOUND_EVENTS_PATH
        self._media_url = media_url
        self._codec = stream_codec

    @property
    def capabilities(self) -> DialCapabilities:
        return CAPABILITIES

    async def dial(self, call: Call, *, ring_timeout_s: int) -> str:
        body: dict[str, object] = {
            "connection_id": self._connection_id, "to": call.to_number,
            "from": call.from_number, "webhook_url": self._events_url,
            "webhook_url_method": "POST", "client_state": client_state(call.session_id),
            "command_id": f"dial-{call.session_id}",  # a retried dial is not a second call
            "timeout_secs": max(MIN_RING_TIMEOUT_S, ring_timeout_s),
            "time_limit_secs": min(MAX_TIME_LIMIT_S,
                                   (call.max_duration_s or 0) + TIME_LIMIT_MARGIN_S),
        }  # fmt: skip
        if call.machine_detection == "detect":
            body["answering_machine_detection"] = "detect"
        return await self.api.dial(body)

    async def start_stream(self, call: Call, token: str) -> bool:
        """Stream the answered call to our media socket, both ways (RTP in the codec
        ``KURA_TELNYX_STREAM_CODEC`` names), admitted by its single-use token."""
        return await self.api.action(
            call.call_sid, "streaming_start",
            {
                "stream_url": self._media_url, "stream_track": "inbound_track",
                "stream_codec": self._codec, "stream_bidirectional_mode": "rtp",
                "stream_bidirectional_codec": self._codec,
                "custom_parameters": [
                    {"name": "session_id", "value": call.session_id},
                    {"name": "token", "value": token},
                ],
                "client_state": client_state(call.session_id),
                "command_id": f"stream-{call.session_id}",
            },
        )  # fmt: skip

    async def hang_up(self, call: Call, *, ringing: bool) -> None:
        # One command either way: Telnyx hangs up a ringing leg as it does an answered one.
        await self.api.action(call.call_sid, "hangup", {"command_id": f"hangup-{call.session_id}"})

    async def transfer(self, call: Call, number: str) -> bool:
        """Put the callee through to ``number`` (Call Control ``transfer``: a new leg, bridged
        once it answers; our number is the caller id); ``False`` if Telnyx refused."""
        return await self.api.action(
            call.call_sid, "transfer",
            {"to": number, "from": call.from_number,
             "command_id": f"transfer-{call.session_id}"},
        )  # fmt: skip

    async def leave_message(self, call: Call, message: str) -> bool:
        return False  # never asked: ``leave_message`` is refused up front (CAPABILITIES)

    async def aclose(self) -> None:
        await self.api.aclose()


def telnyx_after_call(
    calls: CallService, store: Store, dialers: Mapping[str, CarrierDialer]
) -> AfterCall:
    """The ``Carrier.after_call`` of Telnyx calls. A TeXML call goes on with its markup once
    our socket closes (its ``<Redirect>`` asks what follows); a Call Control call we placed has
    none, so its session is ended and the call transferred, when the assistant asked for it, or
    else hung up through the REST API (unless the callee has gone already)."""

    async def after_call(started: StreamStarted, caller_gone: bool) -> None:
        call = await store.calls.get_by_sid(started.call_id)
        if call is None or call.direction != "outbound":
            return
        transfer_to = (await calls.after_stream(started.call_id)).transfer_to
        dialer = dialers.get("telnyx")
        if caller_gone or not isinstance(dialer, TelnyxDialer):
            return
        if transfer_to and await dialer.transfer(call, transfer_to):
            return
        await dialer.hang_up(call, ringing=False)

    return after_call
