"""The ``call.transferred`` post-call event, told once however often Twilio retries."""

from __future__ import annotations

from sqlalchemy import func, select

from gateway.store.models import OutboxEvent
from gateway.telephony.service import TELEPHONY
from tests.gateway.telephony.conftest import FakeTwilio, twiml_of
from tests.gateway.telephony.test_call_status import _call
from tests.gateway.test_post_call_events import Receiver, receiver

__all__ = ["receiver"]  # the fixture


async def test_a_cold_transfer_is_told_once(
    twilio: FakeTwilio, receiver: tuple[Receiver, str]
) -> None:
    crm, url = receiver
    crm.status = 200
    gw = twilio.gateway
    changes = {"transfer_number": "+15550003333", "events_url": url}
    await gw.ctx.store.assistants.update(1, changes, gw.clock.now())
    fields, session_id = await _call(twilio)
    assert await gw.server.app[TELEPHONY].calls.request_transfer(session_id)
    for _ in range(3):  # Twilio retries the action webhook
        document = await twiml_of(await twilio.action(dict(fields, CallStatus="in-progress")))
        assert [child.tag for child in document] == ["Say", "Dial"]
    await crm.until(lambda: len(crm.delivered()) >= 1)
    (event,) = crm.delivered().values()
    assert event["type"] == "call.transferred"
    assert event["data"] == {
        "session_id": session_id,
        "assistant_id": 1,
        "destination": "+15550003333",
        "destination_name": None,
        "mode": "cold",
        "outcome": "dialed",
        "at": event["data"]["at"],
        "started_at": None,
        "answered_at": None,
        "ended_at": None,
    }
    async with gw.ctx.store.engine.connect() as db:
        stored = await db.scalar(select(func.count()).select_from(OutboxEvent))
    assert stored == 1
