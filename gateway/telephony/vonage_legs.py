"""Warm-transfer legs on Vonage: the human is rung through the Voice REST API (``POST
/v1/calls``) with our answer and event URLs, and answered in NCCOs: a ``talk`` whisper then an
``input`` of one DTMF key (whose result Vonage posts to the decision URL, timed out or not), and
a ``conversation`` named for the transfer. The caller's side is steered through the REST API as
ever (``vonage_calls``): once the human accepts, the caller's NCCO is replaced by the same
``conversation``.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.store.models import Call
from gateway.telephony.transfer_legs import LegPlan, transfer_path
from gateway.telephony.transfer_twiml import CONNECTING, whisper_prompt
from gateway.telephony.vonage_rest import VonageVoiceApi, vonage_number
from gateway.telephony.vonage_signatures import VonageSignatures

VONAGE_PREFIX = "/telephony/vonage"
MAX_INPUT_TIMEOUT_S = 10  # the longest wait for a DTMF key Vonage's ``input`` allows


class VonageLegs:
    """One Vonage application's warm-transfer legs."""

    def __init__(self, api: VonageVoiceApi, signatures: VonageSignatures) -> None:
        self._api = api
        self._signatures = signatures

    @property
    def carrier(self) -> str:
        return "vonage"

    def hook_url(self, transfer_id: str, hook: str) -> str:
        return self._signatures.http_url(transfer_path(VONAGE_PREFIX, transfer_id, hook))

    def bridges(self, call: Call) -> bool:
        return True  # every Vonage call is steered through the REST API

    async def place(self, leg: LegPlan) -> str:
        return await self._api.create_call(
            {
                "to": [{"type": "phone", "number": vonage_number(leg.to)}],
                "from": {"type": "phone", "number": vonage_number(leg.from_)},
                "answer_url": [leg.answer_url], "answer_method": "POST",
                "event_url": [leg.status_url], "event_method": "POST",
                "ringing_timer": leg.ring_timeout_s,
            }
        )  # fmt: skip

    async def hang_up(self, leg_sid: str, *, answered: bool) -> bool:
        return await self._api.hang_up(leg_sid)  # one command, ringing or answered

    async def see_out(self, call_sid: str, goodbye: str) -> bool:
        # The call leaves the conversation for a ``talk``, and ends with that NCCO.
        return await self._api.replace_ncco(call_sid, [{"action": "talk", "text": goodbye}])


def _document(ncco: list[dict[str, Any]]) -> str:
    return orjson.dumps(ncco).decode()


def whisper(summary: str, decision_url: str, timeout_s: int) -> str:
    """What the human hears on answering; one key decides, none declines."""
    text = whisper_prompt(summary)
    return _document([
        {"action": "talk", "text": text, "bargeIn": True},
        {"action": "input", "type": ["dtmf"], "eventUrl": [decision_url], "eventMethod": "POST",
         "dtmf": {"maxDigits": 1, "timeOut": min(timeout_s, MAX_INPUT_TIMEOUT_S)}},
    ])  # fmt: skip


def conversation(name: str) -> dict[str, Any]:
    """The transfer's conversation; either side leaving ends it for both."""
    return {"action": "conversation", "name": name, "startOnEnter": True, "endOnExit": True}


def join(name: str) -> str:
    """The human accepted: told so, then into the conversation to wait for the caller."""
    return _document([{"action": "talk", "text": CONNECTING}, conversation(name)])


def say(text: str) -> str:
    """Say ``text``; the leg ends with the NCCO."""
    return _document([{"action": "talk", "text": text}])
