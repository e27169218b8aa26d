"""Outbound calls against a fake Twilio REST API: placed once, driven by signed callbacks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.telephony.service import TELEPHONY
from kinds.clock import SystemClock
from providers.events import AgentAudio, ResponseDone
from tests.gateway.telephony.conftest import NUMBER, FakeTwilio, new_call_sid, twiml_of
from tests.gateway.telephony.outbound_fixtures import (
    CALLEE,
    Outbound,
    outbound_gateway,
    until,
)


@pytest.fixture
async def outbound(tmp_path: Path) -> AsyncIterator[Outbound]:
    async for line in outbound_gateway(tmp_path, SystemClock()):
        yield line


async def _slots(outbound: Outbound) -> int:
    return await outbound.gateway.ctx.shared.slots.count("global")


async def test_a_call_answered_by_a_person_runs_as_a_session(outbound: Outbound) -> None:
    gw = outbound.gateway
    assistant_id = await gw.use_scripted_assistant()
    created, placed = await outbound.place(
        assistant_id=assistant_id, machine_detection="detect", metadata={"crm": "42"}
    )
    form = placed.form
    assert (form["To"], form["From"]) == (CALLEE, NUMBER)
    session_id = created["session_id"]
    assert form["Url"].endswith(f"/telephony/twilio/outbound/answer?session={session_id}")
    assert "/telephony/twilio/outbound/status?session=" in form["StatusCallback"]
    assert (form["MachineDetection"], form["AsyncAmd"]) == ("Enable", "true")
    assert form["TimeLimit"] == str(3600 + 5)
    assert created["status"] == "queued" and created["direction"] == "outbound"
    assert created["call_sid"] == placed.sid
    assert await outbound.carrier.status(placed, "ringing") == 200
    assert (await outbound.get(created["id"]))["status"] == "ringing"
    stream = await outbound.open_stream(placed)
    store = outbound.gateway.ctx.store
    # The assistant starts on answer, before any machine verdict: a conversation both ways.
    await asyncio.wait_for(gw.scripted.connected.wait(), 5)
    provider = gw.scripted.sessions[-1]
    await stream.send_ulaw(b"\xff" * 1600)  # 200 ms of µ-law silence
    assert len(await provider.audio_at_least(1600)) >= 1600
    provider.emit(AgentAudio(b"\x10\x27" * 7200, "hello"), ResponseDone("hello"))
    await stream.wait_for_audio(2400)  # 300 ms at 8 kHz µ-law
    assert await outbound.carrier.machine_verdict(placed, "human") == 200
    view = await outbound.get(created["id"])
    assert (view["status"], view["answered_by"]) == ("in-progress", "human")
    assert view["answered_at"] is not None
    await stream.stop()
    await stream.wait_closed()
    assert await outbound.carrier.status(placed, "completed", CallDuration="7") == 200
    view = await outbound.get(created["id"])
    assert (view["status"], view["duration_s"], view["end_reason"]) == ("completed", 7, "completed")
    session = await store.sessions.get(session_id)
    assert session is not None and session.status == "ended" and session.channel == "phone"
    assert session.phone_number == CALLEE and session.contact_id is not None
    assert session.meta["crm"] == "42" and session.meta["direction"] == "outbound"
    assert await _slots(outbound) == 0
    assert not placed.updates  # nothing asked of the carrier after the dial


async def test_machine_verdict_with_detect_hangs_up(outbound: Outbound) -> None:
    created, placed = await outbound.place(machine_detection="detect")
    await outbound.open_stream(placed)
    assert await outbound.carrier.machine_verdict(placed, "machine_start") == 200
    await until(lambda: placed.updates)
    assert placed.updates[0]["Status"] == "completed"
    await outbound.carrier.status(placed, "completed", CallDuration="3")
    view = await outbound.get(created["id"])
    assert (view["answered_by"], view["end_reason"]) == ("machine", "voicemail")
    assert await _slots(outbound) == 0


async def test_leave_message_says_it_once_after_the_beep(outbound: Outbound) -> None:
    message = "Hello, this is Kura calling about your appointment."
    created, placed = await outbound.place(
        machine_detection="leave_message", voicemail_message=message
    )
    assert placed.form["MachineDetection"] == "DetectMessageEnd"
    await outbound.open_stream(placed)
    for _ in range(2):  # a repeated callback leaves no second message
        assert await outbound.carrier.machine_verdict(placed, "machine_end_beep") == 200
    await until(lambda: placed.updates)
    assert len(placed.updates) == 1
    twiml = placed.updates[0]["Twiml"]
    assert f"<Say>{message}</Say><Hangup />" in twiml
    view = await outbound.get(created["id"])
    assert (view["answered_by"], view["end_reason"]) == ("machine", "voicemail")
    session = await outbound.gateway.ctx.store.sessions.get(created["session_id"])
    assert session is not None and session.end_reason == "voicemail"


@pytest.mark.parametrize("outcome", ["busy", "no-answer"])
async def test_unanswered_calls_end_and_free_their_slot(outbound: Outbound, outcome: str) -> None:
    created, placed = await outbound.place()
    await outbound.carrier.status(placed, "ringing")
    assert await _slots(outbound) == 1
    await outbound.carrier.status(placed, outcome, CallDuration="0")
    view = await outbound.get(created["id"])
    assert (view["status"], view["end_reason"]) == (outcome, outcome.replace("-", "_"))
    assert view["ended_at"] is not None
    session = await outbound.gateway.ctx.store.sessions.get(created["session_id"])
    assert session is not None and session.end_reason == "call_" + outcome.replace("-", "_")
    assert await _slots(outbound) == 0


async def test_a_retried_post_never_dials_twice(outbound: Outbound) -> None:
    headers = {"Idempotency-Key": "retry-me-1"}
    first = await outbound.post_call(headers=dict(headers))
    again = await outbound.post_call(headers=dict(headers))
    assert (first.status, again.status) == (201, 201)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert (await first.json())["id"] == (await again.json())["id"]
    assert len(outbound.carrier.calls) == 1
    other = await outbound.post_call(headers={"Idempotency-Key": "retry-me-2"})
    assert other.status == 201 and len(outbound.carrier.calls) == 2
    reused = await outbound.post_call(to="+14155550199", headers=dict(headers))
    assert reused.status == 409
    assert "used for another call request" in await reused.text()
    assert len(outbound.carrier.calls) == 2


async def test_outbound_over_the_limit_gets_429_and_a_slot_comes_back(outbound: Outbound) -> None:
    store, now = outbound.gateway.ctx.store, outbound.gateway.clock.now()
    await store.assistants.update(1, {"max_concurrent_calls": 1}, now)
    _, placed = await outbound.place()
    refused = await outbound.post_call()
    assert refused.status == 429
    assert refused.headers["Retry-After"] == "30"
    assert "assistant concurrent-call limit" in (await refused.json())["error"]["message"]
    assert len(outbound.carrier.calls) == 1
    await outbound.carrier.status(placed, "completed", CallDuration="1")
    assert (await outbound.post_call()).status == 201


async def test_inbound_over_the_number_limit_hears_busy(outbound: Outbound) -> None:
    gw = outbound.gateway
    number = await gw.ctx.store.numbers.get_by_number(NUMBER)
    assert number is not None
    await gw.ctx.store.numbers.update(number.id, {"max_concurrent_calls": 1}, gw.clock.now())
    await outbound.place()  # holds the number's one slot
    twilio = FakeTwilio(gw)
    document = await twiml_of(await twilio.voice(twilio.call_fields(new_call_sid())))
    say = document.find("./Say")
    assert say is not None and "busy" in (say.text or "")
    assert document.find("./Connect") is None


async def test_bad_input_gets_a_clear_4xx(outbound: Outbound) -> None:
    cases = [
        ({"to": "12345"}, 422, "E.164"),
        ({"to": "+1900555012"}, 422, None),
        ({"to": "+19005550123"}, 422, "premium"),
        ({"from": "+15550007777"}, 422, "not a number routed to Kura"),
        ({"assistant_id": 999}, 404, "no assistant"),
        ({"machine_detection": "leave_message"}, 422, "voicemail_message"),
        ({"max_duration_s": 5}, 422, "max_duration_s"),
        ({"colour": "blue"}, 422, "colour"),
    ]
    for body, status, words in cases:
        response = await outbound.post_call(**body)
        text = await response.text()
        assert response.status == status, (body, text)
        assert words is None or words in text, (body, text)
    assert outbound.carrier.calls == []
    assert await _slots(outbound) == 0


async def test_a_carrier_refusal_is_502_and_frees_the_slot(outbound: Outbound) -> None:
    outbound.carrier.fail_next = 400
    response = await outbound.post_call()
    assert response.status == 502
    assert (await response.json())["error"]["code"] == "carrier_error"
    assert await _slots(outbound) == 0
    page = await (await outbound.gateway.request("GET", "/api/v1/calls")).json()
    assert page["data"][0]["status"] == "failed"
    assert page["data"][0]["end_reason"] == "carrier_error"


async def test_list_filters_and_hang_up(outbound: Outbound) -> None:
    gw = outbound.gateway
    created, placed = await outbound.place()
    twilio = FakeTwilio(gw)
    await twiml_of(await twilio.voice(twilio.call_fields(new_call_sid())))  # an inbound call
    listing = await (await gw.request("GET", "/api/v1/calls")).json()
    assert listing["total"] == 2
    assert {c["direction"] for c in listing["data"]} == {"inbound", "outbound"}
    outbound_only = await (await gw.request("GET", "/api/v1/calls?direction=outbound")).json()
    assert [c["id"] for c in outbound_only["data"]] == [created["id"]]
    by_number = await (await gw.request("GET", "/api/v1/calls", params={"number": CALLEE})).json()
    assert by_number["total"] == 1
    queued = await (await gw.request("GET", "/api/v1/calls?status=queued&limit=1")).json()
    assert queued["total"] == 1 and queued["limit"] == 1
    assert (await gw.request("GET", "/api/v1/calls?status=nope")).status == 422
    await outbound.carrier.status(placed, "ringing")
    hung = await gw.request("DELETE", f"/api/v1/calls/{created['id']}")
    assert hung.status == 200
    assert (await hung.json())["end_reason"] == "api_hangup"
    assert placed.updates[0]["Status"] == "canceled"
    assert (await gw.request("GET", "/api/v1/calls/999")).status == 404


async def test_calls_need_their_permissions(outbound: Outbound) -> None:
    gw = outbound.gateway
    reader = await gw.create_key(["sessions:read"])
    assert (
        await outbound.gateway.request("POST", "/api/v1/calls", key=reader, json={})
    ).status == 403
    assert (await gw.request("GET", "/api/v1/calls", key=reader)).status == 403
    caller = await gw.create_key(["calls:create"])
    response = await gw.request(
        "POST", "/api/v1/calls", key=caller, json={"assistant_id": 1, "to": CALLEE, "from": NUMBER}
    )
    assert response.status == 201
    own = (await response.json())["id"]
    assert (await gw.request("GET", f"/api/v1/calls/{own}", key=caller)).status == 200
    created, _ = await outbound.place()
    assert (await gw.request("GET", f"/api/v1/calls/{created['id']}", key=caller)).status == 404
    assert TELEPHONY in gw.server.app


async def test_the_cli_places_lists_shows_and_hangs_up(
    outbound: Outbound, capsys: pytest.CaptureFixture[str]
) -> None:
    from config import Settings
    from gateway.cli_calls import _calls
    from gateway.cli_parser import build_parser
    from tests.gateway.conftest import ADMIN_KEY

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    base = ["calls", "--gateway", outbound.gateway.url, "--api-key", ADMIN_KEY]

    async def kura(*argv: str) -> str:
        assert await _calls(build_parser().parse_args([*base, *argv]), settings) == 0
        return capsys.readouterr().out

    created = json.loads(await kura("create", "--assistant", "1", "--to", CALLEE, "--from", NUMBER))
    assert created["direction"] == "outbound" and len(outbound.carrier.calls) == 1
    assert str(created["id"]) in await kura("list", "--direction", "outbound")
    assert json.loads(await kura("show", str(created["id"])))["to"] == CALLEE
    assert json.loads(await kura("hangup", str(created["id"])))["end_reason"] == "api_hangup"


async def test_a_call_may_replace_the_greeting_and_instructions(outbound: Outbound) -> None:
    gw = outbound.gateway
    assistant_id = await gw.use_scripted_assistant(greeting="Hello.", instructions="Be brief.")
    _, placed = await outbound.place(
        assistant_id=assistant_id, greeting="Hi, this is the clinic.", instructions="Confirm."
    )
    await outbound.open_stream(placed)
    await asyncio.wait_for(gw.scripted.connected.wait(), 5)
    spec = gw.scripted.sessions[-1].assistant
    assert (spec.greeting, spec.instructions) == ("Hi, this is the clinic.", "Confirm.")
    stored = await gw.ctx.store.assistants.get(assistant_id)
    assert stored is not None and stored.greeting == "Hello."  # the assistant is unchanged


async def test_callbacks_are_bound_to_their_call(outbound: Outbound) -> None:
    _, placed = await outbound.place()
    _, other = await outbound.place(to="+14155550101")
    # This call's (signed) callback URL with another call's SID: refused.
    placed.sid, real = other.sid, placed.sid
    assert await outbound.carrier.status(placed, "completed") == 403
    placed.sid = real
    unsigned = await outbound.gateway.http.post(
        outbound.gateway.url + "/telephony/twilio/outbound/status?session=x",
        data={"CallSid": real, "CallStatus": "completed"},
    )
    assert unsigned.status == 403


async def test_calls_outside_calling_hours_are_refused(outbound: Outbound) -> None:
    gw = outbound.gateway
    hour = gw.clock.now().hour  # a one-hour window two hours from now (it may cross midnight)
    start, end = (hour + 2) % 24, (hour + 3) % 24
    hours = {"start": f"{start:02d}:00", "end": f"{end:02d}:00", "time_zone": "UTC"}
    patched = await gw.request("PATCH", "/api/v1/assistants/1", json={"calling_hours": hours})
    assert patched.status == 200, await patched.text()
    assert (await patched.json())["calling_hours"]["time_zone"] == "UTC"
    refused = await outbound.post_call()
    assert refused.status == 422
    assert "outside the assistant's calling hours" in await refused.text()
    assert outbound.carrier.calls == []
    bad_zone = {"calling_hours": {"time_zone": "Mars/Olympus"}}
    assert (await gw.request("PATCH", "/api/v1/assistants/1", json=bad_zone)).status == 422


async def test_the_global_cap_holds(tmp_path: Path) -> None:
    async for line in outbound_gateway(tmp_path, SystemClock(), max_concurrent_calls=1):
        await line.place()
        refused = await line.post_call(to="+14155550101")
        assert refused.status == 429
        assert "global concurrent-call limit" in await refused.text()
        twilio = FakeTwilio(line.gateway)  # inbound calls count against it too
        document = await twiml_of(await twilio.voice(twilio.call_fields(new_call_sid())))
        assert document.find("./Connect") is None


async def test_racing_retries_dial_once(outbound: Outbound) -> None:
    responses = await asyncio.gather(
        *(outbound.post_call(headers={"Idempotency-Key": "race-1"}) for _ in range(5))
    )
    assert [r.status for r in responses] == [201] * 5
    assert len({(await r.json())["id"] for r in responses}) == 1
    assert len(outbound.carrier.calls) == 1
    assert await _slots(outbound) == 1  # the losers' slots were given back


async def test_the_assistant_knows_it_placed_the_call(outbound: Outbound) -> None:
    gw = outbound.gateway
    assistant_id = await gw.use_scripted_assistant()
    _, placed = await outbound.place(assistant_id=assistant_id)
    await outbound.open_stream(placed)
    await asyncio.wait_for(gw.scripted.connected.wait(), 5)
    context = gw.scripted.sessions[-1].context.caller_context or ""
    assert context.startswith("You placed this call")
    assert "new caller" in context and CALLEE not in context
