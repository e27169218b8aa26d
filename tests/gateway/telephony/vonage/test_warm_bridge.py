"""A warm transfer's bridge on Vonage when the human hangs up just as the caller is moved into
their conversation: the caller is taken out of it with a goodbye, not left there alone."""

from __future__ import annotations

from gateway.telephony.transfer_flow import HUMAN_LEFT
from tests.gateway.telephony.test_media_stream import until
from tests.gateway.telephony.vonage.test_warm_transfer import VonageTransfer, _settled, call

__all__ = ["call"]  # the fixture, shared with the other Vonage warm transfer tests


async def test_a_caller_alone_in_the_conversation_is_seen_out_with_a_goodbye(
    call: VonageTransfer,
) -> None:
    leg_uuid, body = await call.ask_warm()
    whisper = await call.post(body["answer_url"][0], call.leg(leg_uuid))
    await call.press(leg_uuid, whisper, "1")
    await call.stream.wait_closed()
    await until(lambda: bool(call.api.updates))  # the caller moved into the conversation
    await _settled(call, "accepted")
    await call.event(leg_uuid, body, "completed")  # the human leaves as the caller arrives
    await until(lambda: len(call.api.updates) == 2)
    moved, update = call.api.updates[-1]
    assert moved == call.stream.call_sid and update["action"] == "transfer"
    assert update["destination"]["ncco"] == [{"action": "talk", "text": HUMAN_LEFT}]
