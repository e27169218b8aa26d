"""Warm transfers on Telnyx, end to end: a TeXML call's stream, the fake TeXML Calls API that
rings the human as a call of the gateway's TeXML application (its webhooks Ed25519-signed), the
whisper's ``<Gather>`` and the ``<Redirect>`` that declines when no key is pressed, and the
``<Dial><Conference>`` the human and then the caller (through the ``<Redirect>`` after the
stream) join.

Accepted, declined, unanswered and the caller hanging up while the human's phone rings.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit
from xml.etree import ElementTree

import aiohttp
import pytest
from pydantic import SecretStr

from kinds.clock import SystemClock
from providers.events import ResponseDone
from tests.fakes.telnyx_texml import ACCOUNT_SID, FakeTexmlRest
from tests.fakes.twilio_rest import PlacedCall
from tests.gateway.conftest import start_gateway
from tests.gateway.telephony.conftest import (
    AUTH_TOKEN,
    PUBLIC_URL,
    TELNYX_KEY,
    TELNYX_PUBLIC_KEY,
    FakeTelnyx,
    twiml_of,
)
from tests.gateway.telephony.outbound_fixtures import Outbound
from tests.gateway.telephony.test_telnyx_calls import dial
from tests.gateway.telephony.test_warm_transfer import SALES, answer_with_transfers
from tests.gateway.telephony.test_warm_transfer import Transfer as TwilioTransfer
from tests.gateway.telephony.warm_transfer_checks import (
    back_with_the_assistant,
    caller_joins_the_human,
    unanswered_carries_on,
)

LINE = "+445550007777"
APPLICATION_ID = "1293384261075731499"


class Transfer(TwilioTransfer):
    """A Telnyx TeXML call ready to transfer; what follows its stream is its ``<Redirect>``."""

    async def action(self) -> ElementTree.Element:
        telnyx = FakeTelnyx(self.line.gateway)
        fields = telnyx.call_fields(self.stream.call_sid, To=LINE, CallStatus="in-progress")
        body = urlencode(fields).encode()
        return await twiml_of(await telnyx.post("/telephony/telnyx/action", body))


@pytest.fixture
async def line(tmp_path: Path) -> AsyncIterator[Outbound]:
    async with aiohttp.ClientSession() as http:
        texml = FakeTexmlRest(TELNYX_KEY, http)
        await texml.start()
        try:
            async for gw in start_gateway(
                tmp_path, SystemClock(), twilio_auth_token=SecretStr(AUTH_TOKEN),
                telnyx_public_key=TELNYX_PUBLIC_KEY, telnyx_api_key=SecretStr("KEY_test"),
                telnyx_account_sid=ACCOUNT_SID, telnyx_texml_application_id=APPLICATION_ID,
                telnyx_api_base_url=texml.url, public_url=PUBLIC_URL,
            ):  # fmt: skip
                texml.gateway_url = gw.url
                yield Outbound(gw, texml)  # type: ignore[arg-type]  # the same driving methods
        finally:
            await texml.aclose()


@pytest.fixture
async def call(line: Outbound) -> AsyncIterator[Transfer]:
    gw = line.gateway
    await answer_with_transfers(gw, LINE, "telnyx")
    stream = await dial(FakeTelnyx(gw), LINE)
    await asyncio.wait_for(gw.scripted.connected.wait(), 5)
    yield Transfer(line, stream, gw.scripted.sessions[-1])
    await stream.aclose()


async def _leg(call: Transfer) -> PlacedCall:
    leg = await call.ask_warm()
    form: dict[str, Any] = leg.form
    assert leg.account == ACCOUNT_SID and form["ApplicationSid"] == APPLICATION_ID
    assert (form["To"], form["From"]) == (SALES, LINE)
    assert form["StatusCallbackEvent"] == "initiated ringing answered completed"
    for url in (form["Url"], form["StatusCallback"]):
        assert url.startswith(PUBLIC_URL + "/telephony/telnyx/transfer/") and SALES[1:] not in url
    return leg


async def test_accepted_the_caller_joins_the_human_in_the_conference(call: Transfer) -> None:
    leg = await _leg(call)
    assert await call.carrier.status(leg, "ringing") == 200
    whisper = await call.carrier.answer(leg)
    assert "Ana wants a quote." in "".join(whisper.itertext())
    assert [child.tag for child in whisper] == ["Gather", "Redirect"]
    joined = await call.carrier.press(leg, whisper, "1")
    assert [child.tag for child in joined] == ["Say", "Dial"]
    await caller_joins_the_human(call, leg)


async def test_declined_by_no_key_the_caller_is_back_with_the_assistant(call: Transfer) -> None:
    leg = await _leg(call)
    call.session.emit(ResponseDone("connecting"))  # the assistant's line is over: the chime
    await call.stream.wait_for_audio(4000)  # half a second of hold audio, µ-law
    goodbye = await call.carrier.press(leg, await call.carrier.answer(leg), "")
    assert [child.tag for child in goodbye] == ["Say", "Hangup"]
    # 100 ms of µ-law is 800 bytes; the caller's 200 ms of µ-law silence.
    await back_with_the_assistant(call, 800, lambda: call.stream.send_ulaw(b"\xff" * 1600))


async def test_unanswered_the_assistant_is_told_and_carries_on(call: Transfer) -> None:
    await unanswered_carries_on(call, await _leg(call))


async def test_the_caller_hanging_up_ends_the_ringing_leg(call: Transfer) -> None:
    leg = await _leg(call)
    await call.carrier.status(leg, "ringing")
    await call.stream.stop()
    await asyncio.wait_for(leg.updated.wait(), 5)
    assert leg.updates[-1]["Status"] == "completed"  # TeXML's one way to end a call
    assert (await call.settled("caller_gone")).ended_at is not None
    late = await call.carrier.answer(leg)  # picked up too late: a goodbye
    assert late.find("Hangup") is not None


async def test_a_leg_placed_without_an_id_is_known_by_its_first_webhook(call: Transfer) -> None:
    call.carrier.names_calls = False  # type: ignore[attr-defined]
    leg = await _leg(call)
    assert (await call.rows())[-1].leg_sid is None
    await call.carrier.status(leg, "initiated")
    assert (await call.rows())[-1].leg_sid == leg.sid
    await call.stream.stop()  # so the caller's node can end the leg it now knows
    await asyncio.wait_for(leg.updated.wait(), 5)
    assert leg.updates[-1]["Status"] == "completed"


async def test_leg_webhooks_unsigned_or_from_another_call_are_refused(call: Transfer) -> None:
    leg = await _leg(call)
    gw = call.line.gateway
    path = urlsplit(leg.form["Url"]).path
    fields = {"CallSid": "v3:" + "f" * 40, "CallStatus": "in-progress", "AccountSid": ACCOUNT_SID}
    unsigned = await gw.http.post(
        gw.url + path, data=urlencode(fields).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert unsigned.status == 403
    stranger = await FakeTelnyx(gw).post(path, urlencode(fields).encode())
    assert stranger.status == 403  # signed by Telnyx, but not the leg this transfer placed
    assert (await call.rows())[-1].state == "dialing"
