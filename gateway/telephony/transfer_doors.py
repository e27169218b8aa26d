"""Where each carrier's warm-transfer legs knock, and the markup they are answered in.

A ``LegDoor`` is what the leg's webhooks (``transfer_webhooks``) need of a carrier: its name and
path prefix, how its webhooks are proven (Twilio's HMAC over the form on Twilio and SignalWire,
Ed25519 over the raw body on Telnyx) and read, the shape of its call ids, and its markup (TwiML,
cXML, TeXML) for the whisper, the conference and a goodbye.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiohttp import web

from gateway.telephony import telnyx_texml, telnyx_webhooks, transfer_twiml, twiml
from gateway.telephony.signalwire_webhooks import SIGNALWIRE
from gateway.telephony.telnyx_signatures import TELNYX_PREFIX
from gateway.telephony.twilio_webhooks import TWILIO, CompatDoor


@dataclass(frozen=True, slots=True)
class LegMarkup:
    """One carrier's documents for the human's leg."""

    whisper: Callable[[str, str, int], str]
    """``(summary, decision_url, timeout_s)``: the summary, and one key to decide."""
    join: Callable[[str], str]
    """The human accepted: into the named conference, to wait for the caller."""
    goodbye: Callable[[str], str]
    empty: Callable[[], str]


@dataclass(frozen=True, slots=True)
class LegDoor:
    """One carrier's door for the webhooks of warm transfers' legs."""

    carrier: str
    prefix: str
    call_sid: re.Pattern[str]
    signed_fields: Callable[[web.Request], Awaitable[Mapping[str, str]]]
    """The webhook's fields, once its signature checks out (else 403; 503 unconfigured)."""
    markup: LegMarkup


TWIML = LegMarkup(
    whisper=transfer_twiml.whisper,
    join=lambda name: transfer_twiml.join_conference(name, first=True),
    goodbye=twiml.say_and_hang_up,
    empty=twiml.empty,
)
TEXML = LegMarkup(
    whisper=lambda *args: telnyx_texml.render(telnyx_texml.whisper(*args)),
    join=lambda name: telnyx_texml.render(telnyx_texml.join_conference(name, first=True)),
    goodbye=lambda text: telnyx_texml.render(telnyx_webhooks.say_and_hang_up(text)),
    empty=lambda: telnyx_texml.render(telnyx_texml.empty()),
)


def compat_door(door: CompatDoor) -> LegDoor:
    """Twilio's and SignalWire's: their own door's signatures, TwiML either way."""
    return LegDoor(door.carrier, door.prefix, door.call_sid, door.signed_form, TWIML)


LEG_DOORS = (
    compat_door(TWILIO),
    compat_door(SIGNALWIRE),
    LegDoor(
        "telnyx", TELNYX_PREFIX, telnyx_webhooks.CALL_SID, telnyx_webhooks.signed_fields, TEXML
    ),
)
