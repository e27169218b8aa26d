"""Where each carrier's warm-transfer legs knock, and the markup they are answered in.

A ``LegDoor`` is what the leg's webhooks (``transfer_webhooks``) need of a carrier: its name and
path prefix, how its webhooks are proven (Twilio's HMAC over the form on Twilio and SignalWire,
Ed25519 over the raw body on Telnyx, Plivo's V3, Vonage's JWT) and read (the leg's ids, its
status in Twilio's words), and its markup (TwiML, cXML, TeXML, Plivo XML, NCCO) for the
whisper, the conference and a goodbye.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from xml.etree import ElementTree

import orjson
from aiohttp import web

from gateway.telephony import (
    form_fields,
    plivo_transfer,
    plivo_webhooks,
    telnyx_texml,
    telnyx_webhooks,
    transfer_twiml,
    twiml,
    vonage_legs,
    vonage_webhooks,
)
from gateway.telephony.plivo_signatures import PLIVO_PREFIX
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
    """The answer to a status callback (``""``: none, a 204)."""
    content_type: str = twiml.CONTENT_TYPE


@dataclass(frozen=True, slots=True)
class LegDoor:
    """One carrier's door for the webhooks of warm transfers' legs."""

    carrier: str
    prefix: str
    signed_fields: Callable[[web.Request], Awaitable[Mapping[str, str]]]
    """The webhook's fields, once its signature checks out (else 403; 503 unconfigured)."""
    leg_ids: Callable[[Mapping[str, str]], tuple[str, ...]]
    """The ids the webhook names its call by, its own first (a 400 for a malformed one);
    Plivo adds the request id its dial was answered with."""
    markup: LegMarkup
    status_of: Callable[[Mapping[str, str]], str] = lambda form: form.get("CallStatus", "")
    """The leg's status in Twilio's words (``LEG_STATUS_EVENTS``)."""


def call_sid_of(pattern: re.Pattern[str]) -> Callable[[Mapping[str, str]], tuple[str, ...]]:
    """The ``CallSid`` of Twilio-shaped webhooks (Twilio, SignalWire, Telnyx's TeXML)."""
    return lambda form: (form_fields.call_sid(form, pattern),)


TWIML = LegMarkup(
    whisper=transfer_twiml.whisper,
    join=lambda name: transfer_twiml.join_conference(name, first=True),
    goodbye=twiml.say_and_hang_up,
    empty=twiml.empty,
)
TEXML = LegMarkup(
    whisper=lambda *args: telnyx_texml.render(telnyx_texml.whisper(*args)),
    join=lambda name: telnyx_texml.render(telnyx_texml.join_conference(name, first=True)),
    goodbye=lambda text: telnyx_texml.render(telnyx_texml.say_and_hang_up(text)),
    empty=lambda: telnyx_texml.render(telnyx_texml.empty()),
)


PLIVO_XML = LegMarkup(
    whisper=lambda *args: plivo_webhooks.render(plivo_transfer.whisper(*args)),
    join=lambda name: plivo_webhooks.render(plivo_transfer.join_conference(name, first=True)),
    goodbye=lambda text: plivo_webhooks.render(plivo_webhooks.speak_and_hang_up(text)),
    empty=lambda: plivo_webhooks.render(ElementTree.Element("Response")),
)


NCCO = LegMarkup(
    whisper=vonage_legs.whisper,
    join=vonage_legs.join,
    goodbye=vonage_legs.say,
    empty=lambda: "",
    content_type="application/json",
)


async def _vonage_fields(request: web.Request) -> Mapping[str, str]:
    """A Vonage leg webhook's flat fields, once signed; an ``input`` result's key as
    ``Digits`` (it comes nested: ``{"dtmf": {"digits": "1", "timed_out": false}}``)."""
    fields = await vonage_webhooks.signed_fields(request)
    if request.content_type == vonage_webhooks.JSON_TYPE:
        data = orjson.loads(await request.read())  # read and parsed once already: valid JSON
        dtmf = data.get("dtmf")
        if isinstance(dtmf, dict) and isinstance(dtmf.get("digits"), str):
            fields["Digits"] = dtmf["digits"][:8]
    return fields


def _vonage_ids(form: Mapping[str, str]) -> tuple[str, ...]:
    return (vonage_webhooks.call_uuid_of(form),)


def _vonage_status(form: Mapping[str, str]) -> str:
    return vonage_webhooks.STATUSES.get(form.get("status", ""), "")


def compat_door(door: CompatDoor) -> LegDoor:
    """Twilio's and SignalWire's: their own door's signatures, TwiML either way."""
    return LegDoor(door.carrier, door.prefix, door.signed_form, call_sid_of(door.call_sid), TWIML)


def _plivo_ids(form: Mapping[str, str]) -> tuple[str, ...]:
    return plivo_webhooks.call_uuid_of(form), form.get("RequestUUID", "")


def _plivo_status(form: Mapping[str, str]) -> str:
    raw = form.get("CallStatus", "")
    return plivo_webhooks.STATUSES.get(raw, raw)


LEG_DOORS = (
    compat_door(TWILIO),
    compat_door(SIGNALWIRE),
    LegDoor(
        "telnyx",
        TELNYX_PREFIX,
        telnyx_webhooks.signed_fields,
        call_sid_of(telnyx_webhooks.CALL_SID),
        TEXML,
    ),
    LegDoor(
        "plivo", PLIVO_PREFIX, plivo_webhooks.signed_form, _plivo_ids, PLIVO_XML, _plivo_status
    ),
    LegDoor("vonage", vonage_legs.VONAGE_PREFIX, _vonage_fields, _vonage_ids, NCCO, _vonage_status),
)
