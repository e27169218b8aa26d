"""The TwiML documents the gateway answers Twilio with, built by Twilio's own library.

``<Stream url>`` never carries a query string (Twilio refuses it, error 31920): per-call data
travels as ``<Parameter>``s and comes back in the media stream's ``start`` message.
"""

from __future__ import annotations

from collections.abc import Mapping

from twilio.twiml.voice_response import Connect, VoiceResponse

NOT_IN_SERVICE = "Sorry, this number is not in service. Goodbye."
GOODBYE = "Thank you for calling. Goodbye."
UNAVAILABLE = "Sorry, we cannot take your call right now. Please try again later. Goodbye."
BUSY = "Sorry, all our lines are busy right now. Please call again in a few minutes. Goodbye."
TRANSFERRING = "Please hold while I transfer your call."
# A call cut off on our side (a node lost or stopping, the database stalled): never "thank you".
TROUBLE = (
    "Sorry, we are having technical trouble and have to end this call. "
    "Please call again later. Goodbye."
)
CONTENT_TYPE = "text/xml"


def _xml(response: VoiceResponse) -> str:
    return str(response.to_xml())


def connect_stream(
    stream_url: str, action_url: str, parameters: Mapping[str, str], codec: str | None = None
) -> str:
    """Bridge the call to our media socket; Twilio requests ``action_url`` when it closes.
    ``codec`` is SignalWire's ``<Stream codec>`` (``L16@24000h``); Twilio has none."""
    if "?" in stream_url:
        raise ValueError("a <Stream> URL cannot carry a query string")
    response = VoiceResponse()
    connect = Connect(action=action_url, method="POST")
    stream = connect.stream(url=stream_url, **({"codec": codec} if codec else {}))
    for name, value in parameters.items():
        stream.parameter(name=name, value=value)
    response.append(connect)
    return _xml(response)


def say_and_hang_up(message: str) -> str:
    """A short polite message, then the end of the call."""
    response = VoiceResponse()
    response.say(message)
    response.hangup()
    return _xml(response)


def transfer(number: str, message: str = TRANSFERRING) -> str:
    """Tell the caller, then connect them to ``number``."""
    response = VoiceResponse()
    response.say(message)
    response.dial(number)
    return _xml(response)


def say_once(message: str) -> str:
    """Say ``message`` (the carrier's voice), then hang up: a voicemail left after the beep."""
    return say_and_hang_up(message)


def empty() -> str:
    """An answer that asks Twilio to do nothing (status callbacks)."""
    return _xml(VoiceResponse())
