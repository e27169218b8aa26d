"""The TeXML of Telnyx transfers: a cold ``<Dial>``, the warm whisper, and the conference.

TeXML is TwiML's dialect, with differences that matter here: ``<Gather>`` has no
``actionOnEmptyResult`` (its action is requested only when keys were pressed), so the whisper
ends with a ``<Redirect>`` to the same decision URL, which, reached with no ``Digits``,
declines; and ``<Conference>`` takes no empty ``waitUrl`` (the first to join hears Telnyx's
default until the other arrives, a moment later). Conference names carry the transfer's random
id only, as on Twilio.
"""

from __future__ import annotations

from xml.etree import ElementTree

from gateway.telephony import twiml
from gateway.telephony.transfer_twiml import CONNECTING, whisper_prompt


def render(response: ElementTree.Element) -> str:
    """The document as Telnyx reads it."""
    return '<?xml version="1.0" encoding="UTF-8"?>' + ElementTree.tostring(
        response, encoding="unicode"
    )


def _say(parent: ElementTree.Element, text: str) -> None:
    ElementTree.SubElement(parent, "Say").text = text


def dial_number(number: str) -> ElementTree.Element:
    """Tell the caller, then put them through to ``number`` (a cold transfer)."""
    response = ElementTree.Element("Response")
    _say(response, twiml.TRANSFERRING)
    ElementTree.SubElement(ElementTree.SubElement(response, "Dial"), "Number").text = number
    return response


def whisper(summary: str, decision_url: str, timeout_s: int) -> ElementTree.Element:
    """What the human hears on answering; one key decides, no key declines."""
    response = ElementTree.Element("Response")
    gather = ElementTree.SubElement(
        response, "Gather", action=decision_url, numDigits="1", timeout=str(timeout_s)
    )
    _say(gather, whisper_prompt(summary))
    ElementTree.SubElement(response, "Redirect", method="POST").text = decision_url
    return response


def join_conference(name: str, *, first: bool = False) -> ElementTree.Element:
    """Join the transfer's conference; either side leaving ends it for both. ``first``: the
    human, told they are being connected."""
    response = ElementTree.Element("Response")
    if first:
        _say(response, CONNECTING)
    conference = ElementTree.SubElement(
        ElementTree.SubElement(response, "Dial"), "Conference",
        startConferenceOnEnter="true", endConferenceOnExit="true", beep="false",
    )  # fmt: skip
    conference.text = name
    return response


def say_and_hang_up(message: str) -> ElementTree.Element:
    response = ElementTree.Element("Response")
    _say(response, message)
    ElementTree.SubElement(response, "Hangup")
    return response


def empty() -> ElementTree.Element:
    """An answer that asks Telnyx to do nothing (status callbacks)."""
    return ElementTree.Element("Response")
