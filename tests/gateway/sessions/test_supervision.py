"""Live monitoring on the engine: the tap, whispers, take-over and hand-back (virtual clock)."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest

from gateway.sessions.monitor import MonitorListener
from gateway.sessions.port import CallerAudio
from gateway.sessions.protocol import ProtocolError
from gateway.sessions.supervision import HAND_BACK_NOTE
from gateway.sessions.turn_log import HUMAN_TURN_TEXT
from providers.events import AgentAudio, ResponseDone, TranscriptDelta
from tests.gateway.sessions.harness import engine, waited

CALLER_20MS = b"\x01\x02" * 480  # 20 ms of PCM16 24 kHz
AGENT_20MS = b"\x03\x04" * 480


async def next_message(listener: MonitorListener) -> dict[str, Any]:
    text = await waited(listener.next())
    assert text is not None
    message: dict[str, Any] = json.loads(text)
    return message


async def test_a_listener_gets_both_sides_and_the_transcript_in_order() -> None:
    async with engine() as h:
        listener = MonitorListener()
        h.conversation.tap.attach(listener)
        await h.send(CallerAudio(CALLER_20MS))
        h.provider.emit(
            TranscriptDelta(source="output", text="Hi", item_id="a1"),
            AgentAudio(audio=AGENT_20MS, item_id="a1"),
            ResponseDone(item_id="a1"),
        )
        caller = await next_message(listener)
        assert caller == {
            "type": "monitorAudio",
            "source": "caller",
            "audio": base64.b64encode(CALLER_20MS).decode(),
        }
        update = await next_message(listener)
        assert update == {"type": "transcriptionUpdate", "source": "output", "text": "Hi"}
        agent = await next_message(listener)
        assert agent["source"] == "assistant"
        assert base64.b64decode(agent["audio"]) == AGENT_20MS
        turn = await next_message(listener)
        assert turn["type"] == "turnComplete" and turn["fullOutput"] == "Hi"
        await h.conversation.tap.detach(listener)
        assert h.provider.audio_in == bytearray(CALLER_20MS)  # the call itself is unchanged


async def test_nobody_listening_costs_no_queueing() -> None:
    async with engine() as h:
        await h.send(CallerAudio(CALLER_20MS))
        assert h.conversation.tap.dropped == 0
        assert not h.conversation.tap.listening


async def test_audio_goes_out_in_batches_of_about_100_ms_a_side() -> None:
    async with engine() as h:
        listener = MonitorListener()
        h.conversation.tap.attach(listener)
        for _ in range(9):  # 180 ms: not yet a batch
            await h.send(CallerAudio(CALLER_20MS))
        await h.send(CallerAudio(CALLER_20MS))
        batch = await next_message(listener)
        assert base64.b64decode(batch["audio"]) == CALLER_20MS * 10
        await h.conversation.tap.detach(listener)


async def test_a_slow_listener_loses_messages_not_the_call() -> None:
    async with engine() as h:
        slow = MonitorListener(capacity=2)
        h.conversation.tap.attach(slow)
        for n in range(10):
            h.conversation.tap.notice(f'{{"n": {n}}}')
            await asyncio.sleep(0)  # the worker hands each out as it comes
        for _ in range(5):
            await asyncio.sleep(0)
        assert slow.dropped == 8
        await h.send(CallerAudio(CALLER_20MS))
        assert h.provider.audio_in == bytearray(CALLER_20MS)
        await h.conversation.tap.detach(slow)


async def test_a_whisper_reaches_the_provider_only() -> None:
    async with engine() as h:
        await h.conversation.supervision.whisper("Offer the premium plan")
        assert await h.provider.next_note() == "Offer the premium plan"
        assert h.provider.texts == []  # no user turn: nothing asks for a reply
        assert h.client.messages == [] and h.client.audio == []


async def test_take_over_stops_the_assistant_and_hand_back_restores_it() -> None:
    async with engine() as h:
        holder, other = object(), object()
        h.provider.emit(AgentAudio(audio=AGENT_20MS, item_id="a1"))
        await h.client.audio_at_least(len(AGENT_20MS))
        supervision = h.conversation.supervision
        await supervision.take_over(holder)
        assert await h.provider.next_interrupt() is None  # an app: the engine interrupts
        with pytest.raises(ProtocolError):
            await supervision.take_over(other)
        with pytest.raises(ProtocolError):
            await supervision.speak(other, CALLER_20MS)
        # The assistant neither speaks nor hears while the supervisor holds the call.
        h.provider.emit(
            AgentAudio(audio=AGENT_20MS, item_id="a1"), ResponseDone(item_id="a1", interrupted=True)
        )
        await h.settled()
        await h.send(CallerAudio(CALLER_20MS))
        assert h.provider.audio_in == bytearray()
        await supervision.speak(holder, b"\x05\x06" * 480)
        assert h.client.audio[-1] == (b"\x05\x06" * 480, "supervisor-1")
        assert len(h.client.audio) == 2
        await supervision.hand_back(holder)
        assert await h.provider.next_note() == HAND_BACK_NOTE
        await h.send(CallerAudio(CALLER_20MS))
        assert h.provider.audio_in == bytearray(CALLER_20MS)
        assert ("human", HUMAN_TURN_TEXT) in h.turns.transcript()
        await supervision.take_over(other)  # now another may
        await supervision.release(other)
