"""Transfers on Telnyx: a TeXML call's ``<Redirect>`` after its stream asks what follows (the
cold ``<Dial>``, or goodbye), and a Call Control call we placed is put through with the
``transfer`` command rather than hung up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest

from providers.events import ResponseDone, ToolCall
from tests.fakes.telnyx_media import FakeTelnyxStream
from tests.gateway.telephony.conftest import (
    PUBLIC_URL,
    FakeTelnyx,
    new_telnyx_call_sid,
    twiml_of,
)
from tests.gateway.telephony.outbound_fixtures import until
from tests.gateway.telephony.test_media_stream import provider_session
from tests.gateway.telephony.test_telnyx_calls import dial
from tests.gateway.telephony.test_telnyx_outbound import CONNECTION_ID, NUMBER, Line, _line

LINE = "+445550008888"
TRANSFER_TO = "+445550001111"


@pytest.fixture
async def line(telnyx: FakeTelnyx) -> FakeTelnyx:
    """LINE routed (on Telnyx, TeXML) to a scripted assistant with a transfer number."""
    gw = telnyx.gateway
    assistant_id = await gw.use_scripted_assistant(transfer_number=TRANSFER_TO)
    await gw.ctx.store.numbers.create(
        {"number": LINE, "assistant_id": assistant_id, "carrier": "telnyx"}, gw.clock.now()
    )
    return telnyx


async def action(telnyx: FakeTelnyx, stream: FakeTelnyxStream) -> ElementTree.Element:
    """Telnyx following the ``<Redirect>`` once the stream has stopped."""
    fields = telnyx.call_fields(stream.call_sid, To=LINE, CallStatus="in-progress")
    return await twiml_of(await telnyx.post("/telephony/telnyx/action", urlencode(fields).encode()))


async def test_the_stream_is_followed_by_a_redirect_to_the_action_url(line: FakeTelnyx) -> None:
    fields = line.call_fields(new_telnyx_call_sid(), To=LINE)
    document = await twiml_of(await line.voice(fields))
    assert [child.tag for child in document] == ["Connect", "Redirect"]
    redirect = document.find("Redirect")
    assert redirect is not None and redirect.attrib["method"] == "POST"
    assert redirect.text == PUBLIC_URL + "/telephony/telnyx/action"


async def test_a_cold_transfer_dials_the_number_after_the_stream(line: FakeTelnyx) -> None:
    stream = await dial(line, LINE)
    session = await provider_session(line.gateway)
    session.emit(ToolCall("t1", "transfer_call", {"mode": "cold"}))
    _call_id, result = await session.next_tool_result()
    assert result["ok"] is True and result["mode"] == "cold"
    session.emit(ResponseDone("putting you through"))
    await stream.wait_closed()
    document = await action(line, stream)
    assert [child.tag for child in document] == ["Say", "Dial"]
    number = document.find("./Dial/Number")
    assert number is not None and number.text == TRANSFER_TO


async def test_without_a_transfer_the_caller_hears_goodbye(line: FakeTelnyx) -> None:
    stream = await dial(line, LINE)
    session = await provider_session(line.gateway)
    session.emit(ToolCall("t1", "end_call", {}))
    await session.next_tool_result()
    session.emit(ResponseDone("bye"))
    await stream.wait_closed()
    document = await action(line, stream)
    assert [child.tag for child in document] == ["Say", "Hangup"]
    unsigned = await line.gateway.http.post(
        line.gateway.url + "/telephony/telnyx/action",
        data=urlencode(line.call_fields(stream.call_sid)).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert unsigned.status == 403


@pytest.fixture
async def placed(tmp_path: Path) -> AsyncIterator[Line]:
    async for made in _line(tmp_path, telnyx_connection_id=CONNECTION_ID):
        gw, changes = made.gateway, {"transfer_number": TRANSFER_TO}
        await gw.ctx.store.assistants.update(made.assistant_id, changes, gw.clock.now())
        yield made


async def test_a_call_we_placed_is_transferred_with_the_transfer_command(placed: Line) -> None:
    created, call = await placed.place()
    stream = await placed.open_stream(call)
    session = await provider_session(placed.gateway)
    session.emit(ToolCall("t1", "transfer_call", {"mode": "warm"}))  # goes cold on Call Control
    _call_id, result = await session.next_tool_result()
    assert result["mode"] == "cold"
    session.emit(ResponseDone("putting you through"))
    await stream.wait_closed()
    await until(lambda: call.action_bodies("transfer"))
    (transfer,) = call.action_bodies("transfer")
    assert (transfer["to"], transfer["from"]) == (TRANSFER_TO, NUMBER)
    assert transfer["command_id"] == f"transfer-{created['session_id']}"
    assert call.action_bodies("hangup") == []
