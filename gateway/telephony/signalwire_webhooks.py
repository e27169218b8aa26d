"""SignalWire's voice, status and ``<Connect action>`` webhooks: Twilio's, with its own door."""

from __future__ import annotations

from gateway.telephony.signalwire import CALL_SID, CAPABILITIES, SIGNALWIRE_PREFIX, codec_for
from gateway.telephony.twilio_webhooks import CompatDoor

SIGNALWIRE = CompatDoor(
    carrier="signalwire",
    title="SignalWire",
    config_hint="KURA_SIGNALWIRE_TOKEN",
    signatures=lambda telephony: telephony.signalwire,
    call_sid=CALL_SID,
    prefix=SIGNALWIRE_PREFIX,
    capabilities=CAPABILITIES,
    stream_codec=codec_for,
)
