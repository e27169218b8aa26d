"""A warm transfer asked for on a carrier whose capability record has no ``warm_transfer``
(SignalWire here; Telnyx, Plivo and Vonage likewise) goes cold, and says so."""

from __future__ import annotations

import logging

import pytest

from gateway.telephony import twilio_codec
from gateway.telephony.signalwire import CAPABILITIES as SIGNALWIRE
from providers.events import ResponseDone, ToolCall
from tests.gateway.telephony.conftest import twiml_of
from tests.gateway.telephony.test_media_stream import provider_session
from tests.gateway.telephony.test_signalwire import (  # noqa: F401 - fixtures
    FakeSignalWire,
    dial,
    signalwire,
    sw_gateway,
)

SALES = "+15550006666"


def test_only_twilio_declares_warm_transfer() -> None:
    assert twilio_codec.CAPABILITIES.warm_transfer
    assert not SIGNALWIRE.warm_transfer


async def test_warm_on_signalwire_goes_cold_with_a_log_line_and_a_note(
    signalwire: FakeSignalWire,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    gw = signalwire.gateway
    scripted = (await gw.ctx.store.assistants.list_all())[-1]
    changes = {"transfer_destinations": [{"name": "Sales", "number": SALES}]}
    await gw.ctx.store.assistants.update(scripted.id, changes, gw.clock.now())
    stream = await dial(signalwire)
    session = await provider_session(gw)
    with caplog.at_level(logging.WARNING, logger="gateway.telephony.transfer_desk"):
        session.emit(ToolCall("t1", "transfer_call", {"destination": "Sales", "mode": "warm"}))
        _call_id, result = await session.next_tool_result()
    assert result["ok"] is True and result["mode"] == "cold"
    assert "not possible on this line" in result["note"]
    assert "warm transfer not supported here; transferring cold" in caplog.text
    session.emit(ResponseDone("putting you through"))
    await stream.wait_closed()
    document = await twiml_of(await signalwire.action(signalwire.call_fields(stream.call_sid)))
    dial_verb = document.find("Dial")
    assert dial_verb is not None and SALES in "".join(dial_verb.itertext())
