"""Status callbacks and the ``<Connect action>`` URL: signed, idempotent, order-independent."""

from __future__ import annotations

import random

from gateway.telephony.service import TELEPHONY
from tests.gateway.telephony.conftest import FakeTwilio, stream_parameters, twiml_of

STATUS = "/telephony/twilio/status"


async def _call(twilio: FakeTwilio) -> tuple[dict[str, str], str]:
    fields = twilio.call_fields()
    document = await twiml_of(await twilio.voice(fields))
    return fields, stream_parameters(document)["session_id"]


def _callback(fields: dict[str, str], status: str, seq: int, **extra: str) -> dict[str, str]:
    body = dict(fields, CallStatus=status, SequenceNumber=str(seq),
                CallbackSource="call-progress-events", **extra)  # fmt: skip
    body.pop("ApiVersion")
    return body


async def test_shuffled_and_duplicated_callbacks_converge(twilio: FakeTwilio) -> None:
    rng = random.Random(7)
    store = twilio.gateway.ctx.store
    for _ in range(4):
        fields, session_id = await _call(twilio)
        events = [
            _callback(fields, "ringing", 0),
            _callback(fields, "in-progress", 1),
            _callback(fields, "completed", 2, CallDuration="42", Duration="1"),
        ]
        deliveries = events + [rng.choice(events) for _ in range(3)]
        rng.shuffle(deliveries)
        for body in deliveries:
            response = await twilio.status(body)
            assert response.status == 200
            assert response.content_type == "text/xml"
        call = await store.calls.get_by_sid(fields["CallSid"])
        assert call is not None
        assert (call.status, call.duration_s) == ("completed", 42)
        session = await store.sessions.get(session_id)
        assert session is not None
        assert (session.status, session.end_reason) == ("ended", "call_completed")


async def test_unanswered_outcomes_end_the_session_with_their_reason(twilio: FakeTwilio) -> None:
    for outcome in ("busy", "no-answer", "failed", "canceled"):
        fields, session_id = await _call(twilio)
        await twilio.status(_callback(fields, outcome, 1, CallDuration="0"))
        await twilio.status(_callback(fields, "ringing", 0))  # late and stale
        session = await twilio.gateway.ctx.store.sessions.get(session_id)
        assert session is not None
        assert session.end_reason == "call_" + outcome.replace("-", "_")
        call = await twilio.gateway.ctx.store.calls.get_by_sid(fields["CallSid"])
        assert call is not None
        assert call.status == outcome


async def test_status_callbacks_need_a_signature_and_tolerate_the_unknown(
    twilio: FakeTwilio,
) -> None:
    fields, session_id = await _call(twilio)
    body = _callback(fields, "completed", 2, CallDuration="5")
    assert (await twilio.status(body, signature=None)).status == 403
    forged = dict(body, CallDuration="9999")
    assert (await twilio.status(forged, signature=twilio.sign(STATUS, body))).status == 403
    session = await twilio.gateway.ctx.store.sessions.get(session_id)
    assert session is not None
    assert session.status == "pending"
    # Unknown calls and statuses change nothing and never fail.
    unknown = _callback(twilio.call_fields(), "completed", 1)
    assert (await twilio.status(unknown)).status == 200
    assert (await twilio.status(_callback(fields, "exploded", 9))).status == 200
    assert (
        await twilio.status(_callback(fields, "in-progress", 1, CallDuration="x"))
    ).status == 200


async def test_action_says_goodbye_after_a_conversation_that_ended(twilio: FakeTwilio) -> None:
    fields, session_id = await _call(twilio)
    store, now = twilio.gateway.ctx.store, twilio.gateway.clock.now()
    await store.sessions.finish(session_id, "assistant_ended", now)
    body = dict(fields, CallStatus="in-progress")
    for _ in range(2):  # idempotent
        document = await twiml_of(await twilio.action(body))
        assert [child.tag for child in document] == ["Say", "Hangup"]
        assert "Goodbye" in (document.find("Say").text or "")  # type: ignore[union-attr]
    session = await twilio.gateway.ctx.store.sessions.get(session_id)
    assert session is not None
    assert (session.status, session.end_reason) == ("ended", "assistant_ended")
    assert (await twilio.action(body, signature=None)).status == 403
    unknown = await twiml_of(await twilio.action(twilio.call_fields()))
    assert [child.tag for child in unknown] == ["Say", "Hangup"]


async def test_action_apologises_for_a_stream_that_never_ran(twilio: FakeTwilio) -> None:
    fields, session_id = await _call(twilio)  # pending: no stream ever connected
    document = await twiml_of(await twilio.action(dict(fields, CallStatus="in-progress")))
    assert [child.tag for child in document] == ["Say", "Hangup"]
    assert "trouble" in (document.find("Say").text or "")  # type: ignore[union-attr]
    session = await twilio.gateway.ctx.store.sessions.get(session_id)
    assert session is not None
    assert (session.status, session.end_reason) == ("ended", "stream_lost")


async def test_action_transfers_when_the_conversation_asked(twilio: FakeTwilio) -> None:
    store, now = twilio.gateway.ctx.store, twilio.gateway.clock.now()
    await store.assistants.update(1, {"transfer_number": "+15550003333"}, now)
    fields, session_id = await _call(twilio)
    calls = twilio.gateway.server.app[TELEPHONY].calls
    assert await calls.request_transfer(session_id)
    assert not await calls.request_transfer("not-a-call")
    for _ in range(2):
        document = await twiml_of(await twilio.action(dict(fields, CallStatus="in-progress")))
        assert [child.tag for child in document] == ["Say", "Dial"]
        assert document.find("Dial").text == "+15550003333"  # type: ignore[union-attr]
    session = await store.sessions.get(session_id)
    assert session is not None
    assert session.end_reason == "transferred"


async def test_transfer_without_a_number_says_goodbye(twilio: FakeTwilio) -> None:
    fields, session_id = await _call(twilio)
    await twilio.gateway.server.app[TELEPHONY].calls.request_transfer(session_id)
    document = await twiml_of(await twilio.action(fields))
    assert [child.tag for child in document] == ["Say", "Hangup"]
