"""The TwiML of a warm transfer: the whisper the human hears, and the conference both join.

Conference names carry the transfer's random id only (Twilio asks for no personal data in
them). ``waitUrl=""`` keeps whoever joins first in silence rather than Twilio's music: the other
side is already on its way.
"""

from __future__ import annotations

from twilio.twiml.voice_response import Dial, VoiceResponse

ACCEPT_KEY = "1"
DECLINED = "Thank you. The caller stays with the assistant. Goodbye."
GONE = "Sorry, this call is no longer waiting. Goodbye."
CONNECTING = "Connecting you now."
DROPPED = (
    "I'm sorry: the person you were being transferred to hung up before you were connected. "
    "Please call again. Goodbye."
)


def _xml(response: VoiceResponse) -> str:
    return str(response.to_xml())


def conference_name(transfer_id: str) -> str:
    """The conference a warm transfer bridges the caller and the human in."""
    return f"kura-transfer-{transfer_id}"


def whisper_prompt(summary: str) -> str:
    """The words of the whisper, the same on every carrier so the human hears one prompt."""
    return (
        f"You have a call transferred by the assistant. {summary} "
        f"Press {ACCEPT_KEY} to take the call, or any other key to decline."
    )


def whisper(summary: str, decision_url: str, timeout_s: int) -> str:
    """What the human hears on answering; one key decides (none before ``timeout_s`` after
    the whisper ends: the decision URL is still requested, with no digits, and declines)."""
    response = VoiceResponse()
    gather = response.gather(
        num_digits=1, timeout=timeout_s, action=decision_url, method="POST",
        action_on_empty_result=True,
    )  # fmt: skip
    gather.say(whisper_prompt(summary))
    return _xml(response)


def join_conference(name: str, *, first: bool) -> str:
    """Join the transfer's conference; either side leaving ends it for both. ``first``: the
    human, who waits there (in silence) the moment it takes the caller to be moved in."""
    response = VoiceResponse()
    if first:
        response.say(CONNECTING)
    dial = Dial()
    dial.conference(
        name, start_conference_on_enter=True, end_conference_on_exit=True, beep=False,
        wait_url="",
    )  # fmt: skip
    response.append(dial)
    return _xml(response)
