"""A warm transfer that cannot be made goes cold, and says so: without the REST settings that
ring the human (every carrier's capability record declares ``warm_transfer`` now; one without
it would go cold the same way, with ``reason: carrier``)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import SecretStr

from gateway.telephony import plivo_codec, telnyx_codec, twilio_codec, vonage_codec
from gateway.telephony.signalwire import CAPABILITIES as SIGNALWIRE
from kinds.clock import SystemClock
from providers.events import ResponseDone, ToolCall
from tests.gateway.conftest import start_gateway
from tests.gateway.telephony.conftest import PUBLIC_URL, FakeTwilio, twiml_of
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
from tests.gateway.telephony.vonage.conftest import (
    APPLICATION_ID,
    SIGNATURE_SECRET,
    VONAGE_NUMBER,
    FakeVonage,
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


async def test_on_vonage_without_its_application_key_a_transfer_is_refused_clearly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing could put the caller through (Vonage calls are steered only through the REST
    API): the tool says so, so the assistant tells the caller, and the call goes on."""
    async for gw in start_gateway(
        tmp_path, SystemClock(), vonage_signature_secret=SecretStr(SIGNATURE_SECRET),
        vonage_application_id=APPLICATION_ID, public_url=PUBLIC_URL,
    ):  # fmt: skip
        assistant_id = await gw.use_scripted_assistant(transfer_number="+447700900333")
        await gw.ctx.store.numbers.create(
            {"number": VONAGE_NUMBER, "assistant_id": assistant_id, "carrier": "vonage"},
            gw.clock.now(),
        )
        stream = await FakeVonage(gw).dial(VONAGE_NUMBER)
        session = await provider_session(gw)
        for mode in ("warm", "cold"):
            with caplog.at_level(logging.WARNING, logger="gateway.telephony.transfer_desk"):
                session.emit(ToolCall("t1", "transfer_call", {"mode": mode}))
                _call_id, result = await session.next_tool_result()
            assert "not possible on this line" in result["error"], result
        assert "transfer not possible here; refused" in caplog.text
        assert not await gw.ctx.store.transfers.of_call(stream.call_sid)
        assert not stream.closed.is_set()  # the assistant carries on with the caller
        await stream.aclose()
