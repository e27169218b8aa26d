"""A warm transfer that cannot be made goes cold, and says so: without the REST settings that
ring the human (every carrier's capability record declares ``warm_transfer`` now; one without
it would go cold the same way, with ``reason: carrier``)."""

from __future__ import annotations

import logging

import pytest

from gateway.telephony import plivo_codec, telnyx_codec, twilio_codec, vonage_codec
from gateway.telephony.signalwire import CAPABILITIES as SIGNALWIRE
from providers.events import ResponseDone, ToolCall
from tests.gateway.telephony.conftest import FakeTwilio, twiml_of
from tests.gateway.telephony.test_media_stream import (  # noqa: F401 - the fixture
    SCRIPTED_NUMBER,
    provider_session,
    scripted_line,
)
from tests.gateway.telephony.test_media_stream import dial as dial_twilio
from tests.gateway.telephony.test_signalwire import (  # noqa: F401 - fixtures
    FakeSignalWire,
    dial,
    signalwire,
    sw_gateway,
)

SALES = "+15550006666"


def test_every_carrier_declares_warm_transfer() -> None:
    assert twilio_codec.CAPABILITIES.warm_transfer and SIGNALWIRE.warm_transfer
    assert telnyx_codec.CAPABILITIES.warm_transfer and plivo_codec.CAPABILITIES.warm_transfer
    assert vonage_codec.CAPABILITIES.warm_transfer


async def test_warm_on_signalwire_without_its_rest_api_goes_cold_with_a_log_line_and_a_note(
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
    assert any(getattr(r, "reason", "") == "no_rest_credentials" for r in caplog.records)
    session.emit(ResponseDone("putting you through"))
    await stream.wait_closed()
    document = await twiml_of(await signalwire.action(signalwire.call_fields(stream.call_sid)))
    dial_verb = document.find("Dial")
    assert dial_verb is not None and SALES in "".join(dial_verb.itertext())


async def test_warm_on_twilio_without_rest_credentials_goes_cold(
    scripted_line: FakeTwilio,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No KURA_TWILIO_ACCOUNT_SID: nothing can ring the human, so the caller is dialled through."""
    gw = scripted_line.gateway
    stream = await dial_twilio(scripted_line, SCRIPTED_NUMBER)
    session = await provider_session(gw)
    with caplog.at_level(logging.WARNING, logger="gateway.telephony.transfer_desk"):
        session.emit(ToolCall("t1", "transfer_call", {"mode": "warm"}))
        _call_id, result = await session.next_tool_result()
    assert result["mode"] == "cold" and "not possible on this line" in result["note"]
    assert any(getattr(r, "reason", "") == "no_rest_credentials" for r in caplog.records)
    session.emit(ResponseDone("putting you through"))
    await stream.wait_closed()
    fields = scripted_line.call_fields(stream.call_sid, To=SCRIPTED_NUMBER)
    dial_verb = (await twiml_of(await scripted_line.action(fields))).find("Dial")
    assert dial_verb is not None and "+15550003333" in "".join(dial_verb.itertext())
