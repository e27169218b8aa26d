"""The caller's hold during a warm transfer (``TransferLine``) and the transfer's guard timer
(``WarmTransfer``), on the virtual clock, with recording stand-ins for the bridge, the
Conversation, the REST client and the store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import pytest

from gateway.sessions.conversation import Conversation
from gateway.sessions.port import (
    CallerAudio,
    CallerDigit,
    CallerText,
    ClientEvent,
    EndAfterResponse,
    EndSession,
)
from gateway.sessions.protocol import TurnComplete
from gateway.store.models import CallTransfer
from gateway.telephony.bridge import CallBridge
from gateway.telephony.transfer import WATCH_S, WarmTransfer
from gateway.telephony.transfer_flow import apply_event
from gateway.telephony.transfer_legs import CompatLegs, LegPlan
from gateway.telephony.transfer_line import LINE_FIRST_S, TransferLine
from tests.virtual_clock import VirtualClock

CHIME_S = 3.0


class Bridge:
    """What TransferLine uses of a CallBridge, recorded."""

    def __init__(self) -> None:
        self.cues: list[str] = []
        self.audio: list[str] = []
        self.stops = 0
        self.cue_played = asyncio.Event()
        self.reading = asyncio.Event()
        self.sink: Any = None

    async def play_cue(self, cue: str) -> float:
        self.cues.append(cue)
        self.cue_played.set()
        return CHIME_S

    async def deliver_audio(self, audio: bytes, item_id: str) -> None:
        self.audio.append(item_id)

    async def deliver(self, message: object) -> None:
        pass

    async def stop_playout(self) -> None:
        self.stops += 1

    async def read_carrier(self, sink: Any) -> None:
        self.sink = sink
        self.reading.set()
        await asyncio.Event().wait()


class Engine:
    """What TransferLine uses of a Conversation, recorded."""

    def __init__(self) -> None:
        self.events: list[ClientEvent] = []
        self.kept_alive = 0

    async def receive(self, event: ClientEvent) -> None:
        self.events.append(event)

    def keep_alive(self) -> None:
        self.kept_alive += 1


@pytest.fixture
async def held() -> Any:
    clock, bridge, engine = VirtualClock(), Bridge(), Engine()
    line = TransferLine(cast(CallBridge, bridge), clock)
    reader = asyncio.create_task(line.read(cast(Conversation, engine)))
    await bridge.reading.wait()
    yield SimpleNamespace(clock=clock, bridge=bridge, engine=engine, line=line)
    await line.aclose()
    reader.cancel()
    await asyncio.gather(reader, return_exceptions=True)


async def test_on_hold_the_caller_is_kept_from_the_assistant_but_never_idle(held: Any) -> None:
    held.line.hold()
    await held.bridge.sink.receive(CallerAudio(b"\x00" * 320))
    await held.bridge.sink.receive(CallerDigit("5"))
    await held.bridge.sink.receive(EndAfterResponse("x"))
    await held.bridge.sink.receive(EndSession("caller_hangup"))  # a hang-up still ends it
    assert held.engine.events == [EndAfterResponse("x"), EndSession("caller_hangup")]
    assert held.engine.kept_alive == 2
    await held.line.release(None)
    await held.bridge.sink.receive(CallerDigit("7"))
    assert held.engine.events[-1] == CallerDigit("7")


async def test_the_chime_follows_the_assistants_line_then_loops(held: Any) -> None:
    held.line.hold()
    await held.line.deliver_audio(b"\x01\x00", "connecting")  # "I'm connecting you"
    assert held.bridge.audio == ["connecting"] and not held.bridge.cues
    await held.line.deliver(TurnComplete(full_input="", full_output="connecting"))
    await held.bridge.cue_played.wait()
    await held.clock.sleeping()
    assert held.bridge.cues == ["transfer_hold", "transfer_hold"]  # one ahead
    await held.line.deliver_audio(b"\x01\x00", "late")  # the assistant is silent on hold
    assert held.bridge.audio == ["connecting"]
    assert await held.line.play_cue("holding") == 0.0  # no engine cue over the chime
    await held.clock.advance(CHIME_S)
    assert held.bridge.cues == ["transfer_hold"] * 3
    await held.line.release("(Transfer update: Sales did not answer.)")
    assert held.bridge.stops == 1
    assert held.engine.events[-1] == CallerText("(Transfer update: Sales did not answer.)")
    await held.line.deliver_audio(b"\x01\x00", "back")
    assert held.bridge.audio == ["connecting", "back"]


async def test_a_silent_assistant_gets_the_chime_started_anyway(held: Any) -> None:
    held.line.hold()
    await held.clock.sleeping()
    await held.clock.advance(LINE_FIRST_S)
    await held.bridge.cue_played.wait()
    assert held.bridge.cues[0] == "transfer_hold"


async def test_handing_over_ends_the_session_as_transferred(held: Any) -> None:
    held.line.hold()
    await held.line.hand_over()
    assert held.engine.events == [EndSession("transferred")]
    assert not held.line.on_hold


class Rest:
    def __init__(self) -> None:
        self.updates: list[tuple[str, dict[str, str]]] = []

    async def create_call(self, params: dict[str, Any]) -> str:
        return "CA" + "7" * 32

    async def update_call(self, call_sid: str, **fields: str) -> bool:
        self.updates.append((call_sid, fields))
        return True


def _legs(rest: Rest) -> CompatLegs:
    """Twilio's legs over the in-memory REST client (no webhook URL is built here)."""
    return CompatLegs("twilio", cast(Any, rest), cast(Any, None), "/telephony/twilio")


def _copy(row: CallTransfer) -> CallTransfer:
    return CallTransfer(**{c.key: getattr(row, c.key) for c in CallTransfer.__table__.columns})


class Rows:
    """The transfers repository, in memory: ``move`` only from the state given, as stored."""

    def __init__(self, row: CallTransfer) -> None:
        self.row = row
        self.reads = 0
        self.stale: CallTransfer | None = None

    async def get(self, transfer_id: str) -> CallTransfer:
        self.reads += 1
        if self.stale is not None:  # read before another node's move landed
            stale, self.stale = self.stale, None
            return stale
        return _copy(self.row)

    async def update(self, transfer_id: str, fields: dict[str, Any]) -> None:
        for name, value in fields.items():
            setattr(self.row, name, value)

    async def move(self, transfer_id: str, state: str, fields: dict[str, Any]) -> bool:
        if self.row.state != state:
            return False
        await self.update(transfer_id, fields)
        return True


def _warm(held: Any, rest: Rest, told: list[str]) -> tuple[WarmTransfer, Rows]:
    async def tell(row: CallTransfer) -> None:
        told.append(row.state)

    row = CallTransfer(
        id="t" * 32, call_sid="CA1", session_id="s1", mode="warm", destination_name="Sales",
        destination_number="+15550004444", state="dialing",
        started_at=datetime(2026, 1, 26, tzinfo=UTC),
    )  # fmt: skip
    rows = Rows(row)
    transfer = WarmTransfer(
        _copy(row),
        legs=_legs(rest), line=held.line, clock=held.clock, told=tell,
        store=cast(Any, SimpleNamespace(transfers=rows)),
    )  # fmt: skip
    return transfer, rows


LEG = LegPlan("+15550004444", "+15550007777", "https://a", "https://s", 20, 10)


async def test_the_guard_timer_brings_the_caller_back_when_callbacks_never_come(
    held: Any,
) -> None:
    rest, told = Rest(), list[str]()
    transfer, _rows = _warm(held, rest, told)
    assert await transfer.start(LEG)
    assert held.line.on_hold
    await held.clock.sleeping()
    await held.clock.advance(20 + 10 + 15)
    await transfer.finished.wait()
    assert transfer.state == "no_answer" and told == ["no_answer"]
    assert rest.updates == [("CA" + "7" * 32, {"status": "canceled"})]
    assert not held.line.on_hold
    assert "did not answer" in cast(CallerText, held.engine.events[-1]).text
    await transfer.aclose()  # over already: nothing more happens
    assert len(rest.updates) == 1


async def test_an_outcome_another_node_stored_is_acted_on_at_the_next_look(held: Any) -> None:
    rest, told = Rest(), list[str]()
    transfer, rows = _warm(held, rest, told)
    assert await transfer.start(LEG)
    await held.clock.sleeping()
    # Another node took the leg's webhooks: the row moved without this node knowing.
    await rows.move(transfer.id, "dialing", {"state": "busy"})
    await held.clock.advance(WATCH_S)
    await transfer.finished.wait()
    assert transfer.state == "busy"
    assert not told  # the node that made the move tells the outcome, once
    assert "was busy" in cast(CallerText, held.engine.events[-1]).text
    assert not rest.updates  # the node that saw "busy" had nothing to hang up either


async def test_a_node_that_loses_the_race_reads_again_and_moves_nothing(held: Any) -> None:
    rest, told = Rest(), list[str]()
    transfer, rows = _warm(held, rest, told)
    assert await transfer.start(LEG)
    rows.stale = _copy(rows.row)  # this node read "dialing" ...
    await rows.move(transfer.id, "dialing", {"state": "no_answer"})  # ... as another moved it
    store = cast(Any, SimpleNamespace(transfers=rows))
    after = await apply_event(store, _legs(rest), held.clock, transfer.id, "timeout")
    assert after is not None and after.state == "no_answer" == rows.row.state
    assert rows.reads == 2  # the lost move made it read again
    assert not rest.updates  # and it hung up nothing: the winner's outcome stands


async def test_a_human_who_accepted_then_hung_up_before_the_hand_over_leaves_the_caller_back(
    held: Any,
) -> None:
    rest, told = Rest(), list[str]()
    transfer, rows = _warm(held, rest, told)
    assert await transfer.start(LEG)
    await held.clock.sleeping()
    # Another node took the 1 and then the human's hang-up before this node looked.
    await rows.move(transfer.id, "dialing", {"state": "dropped"})
    await held.clock.advance(WATCH_S)
    await transfer.finished.wait()
    assert "accepted the call but hung up" in cast(CallerText, held.engine.events[-1]).text
    assert not held.line.on_hold


async def test_bridging_seen_at_the_next_look_hands_the_caller_over_once(held: Any) -> None:
    rest, told = Rest(), list[str]()
    transfer, rows = _warm(held, rest, told)
    assert await transfer.start(LEG)
    await held.clock.sleeping()
    await rows.move(transfer.id, "dialing", {"state": "bridging"})
    await held.clock.advance(WATCH_S)
    await transfer.finished.wait()
    assert held.engine.events == [EndSession("transferred")]
    await transfer.aclose()  # the stream closed to bridge: the human is not hung up
    assert not rest.updates and not told  # the caller's webhook finishes the bridge
