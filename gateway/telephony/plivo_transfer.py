"""The Plivo XML of a warm transfer: the whisper the human hears, and the conference both join.

Plivo's ``<GetDigits>`` requests its action only when keys were pressed, so the whisper ends
with a ``<Redirect>`` to the same decision URL, which, reached with no ``Digits``, declines.
Plivo's ``<Conference>`` is a verb of its own (not inside ``<Dial>``); no sounds on entering or
leaving, and no music while the human waits the moment it takes the caller to be moved in.
"""

from __future__ import annotations

from xml.etree import ElementTree

from gateway.telephony.transfer_twiml import CONNECTING, whisper_prompt


def whisper(summary: str, decision_url: str, timeout_s: int) -> ElementTree.Element:
    """What the human hears on answering; one key decides, no key declines."""
    response = ElementTree.Element("Response")
    digits = ElementTree.SubElement(
        response, "GetDigits", action=decision_url, method="POST", numDigits="1",
        timeout=str(timeout_s), retries="1",
    )  # fmt: skip
    ElementTree.SubElement(digits, "Speak").text = whisper_prompt(summary)
    ElementTree.SubElement(response, "Redirect", method="POST").text = decision_url
    return response


def join_conference(name: str, *, first: bool = False) -> ElementTree.Element:
    """Join the transfer's conference; either side leaving ends it for both. ``first``: the
    human, told they are being connected."""
    response = ElementTree.Element("Response")
    if first:
        ElementTree.SubElement(response, "Speak").text = CONNECTING
    conference = ElementTree.SubElement(
        response, "Conference", startConferenceOnEnter="true", endConferenceOnExit="true",
        enterSound="", exitSound="", waitSound="",
    )  # fmt: skip
    conference.text = name
    return response
